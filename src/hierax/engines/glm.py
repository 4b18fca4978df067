"""Fixed-effects-only fits by maximum likelihood: least squares, or Newton for the other families.

Used for the complete- and no-pooling fits that a partial-pooling fit is compared with. A column
the data cannot determine (a group whose rows do not vary in a predictor) gets a NaN estimate
rather than an arbitrary one. A logit or log coefficient that runs away (a group with all
successes, all failures or all zeros: separation) is reported as infinite: that is the estimate
without pooling, and the reason partial pooling exists.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

SEPARATED_BEYOND = 15.0      # |coefficient| on the link scale still growing past this: separation
NEWTON_STEPS = 100


class GLMOutput(NamedTuple):
    beta: np.ndarray          # NaN where not estimable, +-inf where separated
    vcov: np.ndarray          # over all columns (NaN rows/columns where not estimable or separated)
    sigma: float | None


def estimable_columns(X: np.ndarray, tolerance: float = 1e-9) -> np.ndarray:
    """A maximal set of linearly independent columns, the earlier ones first (pivot-free QR)."""
    keep = []
    basis = np.zeros((X.shape[0], 0))
    for j in range(X.shape[1]):
        column = X[:, j]
        residual = column - basis @ (basis.T @ column)
        norm = np.linalg.norm(residual)
        if norm > tolerance * max(np.linalg.norm(column), 1.0):
            keep.append(j)
            basis = np.column_stack([basis, residual / norm])
    return np.asarray(keep, dtype=int)


def fit_least_squares(X: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None) -> GLMOutput:
    keep = estimable_columns(X)
    Xk = X[:, keep]
    target = y - (0.0 if offset is None else offset)
    coef, *_ = np.linalg.lstsq(Xk, target, rcond=None)
    dof = max(len(y) - len(keep), 1)
    sigma2 = float(np.sum((target - Xk @ coef) ** 2) / dof)
    return _expand(X.shape[1], keep, coef, sigma2 * np.linalg.inv(Xk.T @ Xk), np.sqrt(sigma2))


def fit_glm(X: np.ndarray, y: np.ndarray, likelihood, trials: np.ndarray | None = None,
            offset: np.ndarray | None = None) -> GLMOutput:
    """Maximum likelihood by Newton's method, with step halving; ``likelihood(y, eta, trials)``."""
    keep = estimable_columns(X)
    Xk = jnp.asarray(X[:, keep])
    data = (jnp.asarray(y, float), None if trials is None else jnp.asarray(trials, float),
            jnp.zeros(len(y)) if offset is None else jnp.asarray(offset, float))
    beta = jnp.zeros(len(keep))
    for _ in range(NEWTON_STEPS):
        new_beta, step_size = _newton_step(beta, Xk, data, likelihood)
        beta = new_beta
        if float(step_size) < 1e-10:
            break
    beta = np.asarray(beta)
    information = np.asarray(_information(jnp.asarray(beta), Xk, data, likelihood))
    vcov = np.linalg.pinv(information)
    separated = np.abs(beta) > SEPARATED_BEYOND
    beta = np.where(separated, np.sign(beta) * np.inf, beta)
    vcov[separated, :] = vcov[:, separated] = np.nan
    return _expand(X.shape[1], keep, beta, vcov, None)


def _expand(width: int, keep: np.ndarray, coef, vcov, sigma) -> GLMOutput:
    beta = np.full(width, np.nan)
    beta[keep] = coef
    full = np.full((width, width), np.nan)
    full[np.ix_(keep, keep)] = vcov
    return GLMOutput(beta, full, sigma)


def _negative_loglik(beta, X, data, likelihood):
    y, trials, offset = data
    return -jnp.sum(likelihood(y, X @ beta + offset, trials))


@partial(jax.jit, static_argnames=("likelihood",))
def _newton_step(beta, X, data, likelihood):
    gradient = jax.grad(_negative_loglik)(beta, X, data, likelihood)
    hessian = jax.hessian(_negative_loglik)(beta, X, data, likelihood)
    step = jnp.linalg.solve(hessian + 1e-10 * jnp.eye(len(beta)), gradient)
    lengths = jnp.asarray([1.0, 0.5, 0.25, 0.125, 0.0625, 0.0])
    values = jax.vmap(lambda c: _negative_loglik(beta - c * step, X, data, likelihood))(lengths)
    best = jnp.argmin(jnp.where(jnp.isfinite(values), values, jnp.inf))
    return beta - lengths[best] * step, jnp.max(jnp.abs(lengths[best] * step))


@partial(jax.jit, static_argnames=("likelihood",))
def _information(beta, X, data, likelihood):
    return jax.hessian(_negative_loglik)(beta, X, data, likelihood)
