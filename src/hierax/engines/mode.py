"""The mode of a log density by L-BFGS with its exact gradient: ``method="map"``'s engine.

A plain function of a log density over a pytree position, as the NUTS engine is. In a
hierarchical model the joint mode over group effects and their sd is often at sd = 0 (the
density grows without bound as the effects and their sd shrink together), which is why
posterior means, not modes, are hierax's default answer; ``hierax.results.diagnostics`` says so
when it happens.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from scipy.optimize import minimize

from hierax._programs import program_cache
from hierax.engines.metric import curvature_metric
from hierax.engines.quick import quick_jit


class ModeOutput(NamedTuple):
    position: object          # pytree, as the initial position
    log_density: float
    evaluations: int
    converged: bool
    message: str


def find_mode(log_density: Callable, initial_position, max_iterations: int = 5000) -> ModeOutput:
    """Maximise ``log_density(position)`` from ``initial_position``."""
    flat, unravel = ravel_pytree(initial_position)
    value_and_grad = jax.jit(jax.value_and_grad(lambda x: -log_density(unravel(x))))

    def objective(x):
        value, grad = value_and_grad(jnp.asarray(x))
        value, grad = float(value), np.asarray(grad, dtype=float)
        if not np.isfinite(value):
            return 1e300, np.zeros_like(grad)
        return value, grad

    result = minimize(objective, np.asarray(flat, float), jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iterations, "ftol": 1e-13, "gtol": 1e-8, "maxcor": 20})
    return ModeOutput(unravel(jnp.asarray(result.x)), -float(result.fun), int(result.nfev), bool(result.success),
                      str(result.message))


class LaplaceStart(NamedTuple):
    """The mode of a low-dimensional log density and the covariance of its Laplace approximation
    (the inverse of the negative Hessian there), as a flat vector and a (d, d) matrix."""

    mode: np.ndarray
    covariance: np.ndarray
    iterations: int


@program_cache(maxsize=16)
def flat_value_and_grad(logdensity_fn: Callable, unravel_key):
    """Jitted ``(x, aux) -> (value, gradient)`` of ``logdensity_fn`` at the flat vector ``x``
    (``unravel_key`` an :class:`Unravel`), shared by every caller with the same density."""
    unravel = unravel_key.unravel
    return quick_jit(jax.value_and_grad(lambda x, aux: logdensity_fn(unravel(x), aux)))


def _hessian(value_and_grad, x: np.ndarray, aux) -> np.ndarray:
    """The Hessian by central differences of the exact gradient (2 d gradients): for the few
    dimensions this serves, cheaper than compiling a second-order program on a first fit."""
    columns = []
    for i in range(len(x)):
        step = 1e-5 * max(1.0, abs(x[i]))
        up, down = x.copy(), x.copy()
        up[i] += step
        down[i] -= step
        columns.append((np.asarray(value_and_grad(up, aux)[1]) - np.asarray(value_and_grad(down, aux)[1])) / (2 * step))
    hessian = np.stack(columns, axis=1)
    return (hessian + hessian.T) / 2.0


class Unravel(NamedTuple):
    """Hashable holder of a pytree's unravel function (by its tree structure and shapes); the
    flat vector is the last axis, so leading axes (chains, draws) carry through."""

    treedef: object
    shapes: tuple

    @classmethod
    def of(cls, position) -> "Unravel":
        leaves, treedef = jax.tree_util.tree_flatten(position)
        return cls(treedef, tuple(np.shape(leaf) for leaf in leaves))

    @staticmethod
    def ravel(position):
        return np.concatenate([np.ravel(leaf) for leaf in jax.tree_util.tree_leaves(position)]).astype(float)

    @staticmethod
    def ravel_rows(positions) -> np.ndarray:
        """Positions with a leading chain axis as one (chains, d) array, in ``ravel`` order."""
        leaves = jax.tree_util.tree_leaves(positions)
        return np.concatenate([np.reshape(leaf, (np.shape(leaf)[0], -1)) for leaf in leaves], axis=1)

    @property
    def unravel(self):
        sizes = [int(np.prod(s)) for s in self.shapes]
        offsets = np.cumsum([0] + sizes)

        def unravel(x):
            lead = x.shape[:-1]
            leaves = [x[..., a:b].reshape(lead + s) for a, b, s in zip(offsets[:-1], offsets[1:], self.shapes)]
            return jax.tree_util.tree_unflatten(self.treedef, leaves)

        return unravel


def laplace_start(logdensity_fn: Callable, aux, position, max_iterations: int = 100) -> LaplaceStart | None:
    """Newton's method with Levenberg damping on ``logdensity_fn(position, aux)``, for a density
    of a few dimensions (a collapsed model's fixed effects and variance parameters).

    Why: NUTS's warm-up starts from a unit mass matrix, and when the posterior's scales are far
    from 1 (a million rows make them 1e-3) its first window builds trees of a thousand steps.
    Started at the mode with the Laplace covariance as its metric, warm-up only refines it.
    Returns None if no positive definite curvature is found (the caller then starts as usual).
    """
    value_and_grad = flat_value_and_grad(logdensity_fn, Unravel.of(position))

    def evaluate(x):
        value, grad = value_and_grad(x, aux)
        return float(value), np.asarray(grad, dtype=float)

    x = Unravel.ravel(position)
    damping = 1e-3
    current, grad = evaluate(x)
    if not len(x) or not np.isfinite(current):
        return None
    for iteration in range(1, max_iterations + 1):
        step = _damped_step(-_hessian(value_and_grad, x, aux), grad, damping)
        if step is None:
            return None
        new, new_grad = evaluate(x + step)
        if np.isfinite(new) and new >= current - 1e-10:
            x, current, grad, damping = x + step, new, new_grad, max(damping / 10.0, 1e-12)
            if np.abs(step).max() < 1e-8 or np.abs(grad).max() < 1e-8:
                break
        else:
            damping *= 10.0
            if damping > 1e8:
                return None
    eigen, vectors = np.linalg.eigh(-_hessian(value_and_grad, x, aux))
    if not np.all(eigen > 0) or not np.all(np.isfinite(eigen)):
        return None
    return LaplaceStart(x, (vectors / eigen) @ vectors.T, iteration)


def _damped_step(curvature: np.ndarray, grad: np.ndarray, damping: float) -> np.ndarray | None:
    """(H + damping scale I)^-1 grad, raising the damping until the matrix is positive definite."""
    scale = np.maximum(np.abs(np.diag(curvature)), 1e-12)
    for _ in range(40):
        try:
            factor = np.linalg.cholesky(curvature + damping * np.diag(scale))
        except np.linalg.LinAlgError:
            damping *= 10.0
            continue
        return np.linalg.solve(factor.T, np.linalg.solve(factor, grad))
    return None


def conditional_modes(value_and_grad: Callable, starts: np.ndarray, free: np.ndarray, aux, probes: np.ndarray,
                      max_iterations: int = 40) -> np.ndarray:
    """Each chain's start moved to the mode of the density over the ``free`` coordinates, the
    others (a GLMM's variance parameters) held where they are.

    Why: a GLMM's chains start with their group effects at about zero, far from the data (an
    observation-level effect must reach a count of 40), and warmup's first window spends its
    trees getting there. Given the variance parameters, the density is log-concave in the fixed
    and group effects (for the canonical links), so their joint mode exists and is where the
    typical set is near. Each chain keeps its own dispersed variance parameters, so the chains
    still start apart (R-hat needs them to).

    How: L-BFGS in coordinates scaled by the curvature at the start (:func:`curvature_metric`
    with ``probes``): a coefficient of a covariate in raw units otherwise leaves the problem so
    badly conditioned that 200 iterations did what 20 do scaled. A chain whose search fails
    keeps its start.

    Parameters
    ----------
    value_and_grad : jitted ``(x, aux) -> (value, gradient)`` of the log density at a flat x.
    starts : (chains, dim).
    free : (dim,) bool, the coordinates that move.
    probes : see :func:`hierax.engines.metric.curvature_metric`.
    """
    def gradient(rows):
        return np.stack([np.asarray(value_and_grad(row, aux)[1], dtype=float) for row in rows])

    starts = np.asarray(starts, dtype=float)
    scales = np.sqrt(curvature_metric(gradient, starts, probes))[:, free]
    moved = starts.copy()
    for chain, (start, scale) in enumerate(zip(starts, scales)):
        def objective(u, start=start, scale=scale):
            x = start.copy()
            x[free] += scale * u
            value, grad = value_and_grad(x, aux)
            value, grad = float(value), np.asarray(grad, dtype=float)[free]
            if not (np.isfinite(value) and np.all(np.isfinite(grad))):
                return 1e300, np.zeros_like(u)
            return -value, -grad * scale

        result = minimize(objective, np.zeros(int(free.sum())), jac=True, method="L-BFGS-B",
                          options={"maxiter": max_iterations})
        if np.isfinite(result.fun) and result.fun < objective(np.zeros(int(free.sum())))[0]:
            moved[chain, free] += scale * result.x
    return moved
