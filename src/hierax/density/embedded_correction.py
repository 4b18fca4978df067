"""Adaptive quadrature's correction to the embedded Laplace approximation, for a model with one
grouping factor.

The embedded Laplace (``hierax.density.embedded``) samples the hyperparameters x from

    log p_LA(y | x) + log p(x),

and with few rows per level the Laplace approximation is biased: on a bernoulli model with 20 rows
in each of 5,000 groups and two effects per group (``benchmarks/nuts_scale.py``), sd[g][x] came out
1.5 posterior sds below full NUTS. With one grouping factor the exact marginal factorises over the
levels, and adaptive Gauss-Hermite quadrature (``hierax.engines.quadrature``) gives it to any
accuracy:

    log p(y | x) = log p_LA(y | x) + c(x),   c(x) = sum_l log(p_l / p_l^LA),

but at K^q row passes an evaluation (25 for K = 5, q = 2), too dear for every leapfrog step. Over
the posterior, though, x moves little (its sds shrink as 1 / sqrt(levels)) and c is a sum of
smooth per-level terms, so a quadratic at the hyperparameters' mode x0,

    c(x) ~= c(x0) + g'(x - x0) + (x - x0)' H (x - x0) / 2,

carries its effect on the posterior at no cost a step (:func:`fitted_correction`). The quadratic
is used only where it matches the quadrature at 2 posterior sds from the mode along each axis
(within 0.1: with few levels the posterior is too wide and skewed for it, and the plain Laplace
approximation is sampled), and only within 6 posterior sds of the corrected posterior's mode
(``embedded.quadratic``: beyond, a quadratic could outweigh the density). Whether it carries c
is checked, not assumed: at draws spread over the run, the exact c (by a finer quadrature) less
the quadratic is the log importance ratio of the exact posterior to the one sampled, and its
Pareto k and the shifts it makes in the means (``hierax.results.diagnostics.laplace_check``) say whether the draws stand for
the exact posterior.

**The quadratic from values.** It interpolates the quadrature's own values (each centred at its
point's modes) at the mode, one posterior sd either way along each axis of the posterior's
Cholesky factor and at each pair of axes together (1 + 2d + d(d-1)/2 points, 21 for d = 5):
central differences, exact for a quadratic, need no derivative of the quadrature, whose centring
moves with x. An earlier version took c's gradient with the centring held fixed: on the model
above its quadratic missed the quadrature by 0.090 at 2 sds, this one by 0.0027.
"""

from __future__ import annotations


import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from hierax._programs import program_cache
from hierax.density.embedded import EmbeddedStructure, laplace_point, newton_start, quadratic
from hierax.density.logdensity import constrain_hyper
from hierax.engines.mode import Unravel
from hierax.engines import laplace_one as one
from hierax.engines.laplace import conditional_mode, level_log_ratios
from hierax.engines.quick import quick_jit

# nodes per effect of the correction's quadrature and of the finer one that checks it, by effects
# per level (at most 25 and 64 points in all)
CORRECTION_NODES = {1: 9, 2: 5, 3: 3}
CHECK_NODES = {1: 13, 2: 7, 3: 4}
# step of the interpolation design, in posterior sds along each whitened axis
STEP = 1.0
# the quadratic is used where it matches the quadrature within TOLERANCE (log density) at
# VALIDATION_STEP posterior sds from the mode along each axis: an error d there moves a mean by
# about d / VALIDATION_STEP posterior sds
VALIDATION_STEP, TOLERANCE = 2.0, 0.1


def correction_nodes(structure: EmbeddedStructure, table: dict = CORRECTION_NODES) -> int | None:
    """Nodes per effect for ``structure``, or None where the integral does not factorise over
    levels (several grouping factors) or has too many effects a level."""
    layout = structure.laplace.layout
    return None if layout.Q2 else table.get(layout.q1)


def fitted_correction(flat0, scale, aux, structure: EmbeddedStructure, unravel: Unravel, nodes: int
                      ) -> tuple[dict | None, float]:
    """The quadratic of the module docstring at ``flat0`` (the hyperparameters' mode, flat), and
    its largest error at the points ``VALIDATION_STEP`` posterior sds away along each axis, or
    None and that error where it exceeds ``TOLERANCE``.

    ``scale``: a Cholesky factor of the posterior covariance, whose columns are the axes of the
    design (module docstring) and of the validation. Why the validation: with
    few levels the hyperparameters' posterior is wide and skewed (an sd near 0), c is not
    quadratic over it, and a wrong correction does more harm than none (100 groups of 20 binary
    rows: the check's Pareto k 0.82 with it, 0.20 without)."""
    quadratic_fit = _fit(flat0, scale, aux, structure, unravel, nodes)
    exact = _exact_correction(structure, unravel, nodes)
    error = 0.0
    for column in np.asarray(scale, dtype=float).T:
        for sign in (1.0, -1.0):
            flat = np.asarray(flat0, dtype=float) + sign * VALIDATION_STEP * column
            error = max(error, abs(float(exact(jnp.asarray(flat), aux)) - float(quadratic(flat, quadratic_fit, np))))
    # float64 arrays, none weakly typed: the NUTS steps compiled beforehand with ``no_correction``'s
    # zeros in its place (``hierax.engines.nuts.prefetch``) serve only an aux of the same types (a
    # weakly typed value compiled them again: 5 s of a first fit at 100,000 rows)
    fitted = {name: jnp.asarray(value, dtype=jnp.float64) for name, value in quadratic_fit.items()}
    return (fitted if error <= TOLERANCE else None), error


def warm_correction(flat, aux, structure: EmbeddedStructure, unravel: Unravel, nodes: int) -> None:
    """Run :func:`fitted_correction`'s program once at ``flat``, so that it is compiled (for
    positions and ``aux`` of these types) when it runs."""
    jax.block_until_ready(_exact_correction(structure, unravel, nodes)(jnp.asarray(flat), aux))


@program_cache(maxsize=16)
def _exact_correction(structure: EmbeddedStructure, unravel: Unravel, nodes: int):
    """c at a flat position by the quadrature at its own modes (``aux`` without a correction),
    compiled for a short compile: it runs some thirty times a fit (1.8 s to compile at 100,000
    rows, against 3.2 s for a fast run, ``hierax.engines.quick``)."""
    return quick_jit(lambda flat, aux: check_log_ratio(unravel.unravel(flat), aux, structure, nodes))


def _fit(flat0, scale, aux, structure: EmbeddedStructure, unravel: Unravel, nodes: int) -> dict:
    """The quadratic interpolating c at the design of the module docstring (steps of
    ``STEP`` posterior sds along the columns of ``scale``), in flat coordinates."""
    exact = _exact_correction(structure, unravel, nodes)
    flat0, scale = np.asarray(flat0, dtype=float), np.asarray(scale, dtype=float)
    d = len(flat0)

    def c(z):                                   # c at whitened z (posterior sds from the mode)
        return float(exact(jnp.asarray(flat0 + scale @ (STEP * np.asarray(z, dtype=float))), aux))

    axes = np.eye(d)
    centre = c(np.zeros(d))
    ahead, behind = [c(e) for e in axes], [c(-e) for e in axes]
    b = (np.array(ahead) - np.array(behind)) / (2.0 * STEP)
    H = np.diag((np.array(ahead) - 2.0 * centre + np.array(behind)) / STEP ** 2)
    for i in range(d):
        for j in range(i):
            H[i, j] = H[j, i] = (c(axes[i] + axes[j]) - ahead[i] - ahead[j] + centre) / STEP ** 2
    whiten = np.linalg.inv(scale)               # z = whiten (x - x0)
    return {"at": flat0, "value": np.float64(centre), "gradient": whiten.T @ b, "hessian": whiten.T @ H @ whiten,
            "whiten": whiten, "centre": flat0 + scale @ corrected_mode(b, H)}


def corrected_mode(b, H) -> np.ndarray:
    """Where the corrected posterior peaks, in whitened z: -|z|^2 / 2 + b'z + z'Hz / 2, the
    Laplace approximation N(0, I) with the quadratic added, is largest at (I - H)^-1 b (0 where
    I - H is not positive definite: no peak to centre on). ``embedded.quadratic`` centres the
    region it trusts the quadratic in there."""
    precision = np.eye(len(b)) - H
    if np.any(np.linalg.eigvalsh(precision) <= 0.0):
        return np.zeros(len(b))
    return np.linalg.solve(precision, b)


def check_log_ratio(position, aux, structure: EmbeddedStructure, nodes: int):
    """log p(y | x) + log p(x) less the density sampled, at one position: c by the quadrature
    centred at this point's own modes, with ``nodes`` per effect, less the fitted quadratic
    (zero where none was fitted). Its spread over the draws is the sampled posterior's error."""
    params, _ = constrain_hyper(position, structure.scalars, structure.layout)
    x = laplace_point(position, params, structure)
    flat = jax.flatten_util.ravel_pytree(position)[0]
    return jnp.sum(_level_log_ratios(x, aux, structure, nodes)) - quadratic(flat, aux["correction"])


def _level_log_ratios(x, aux, structure: EmbeddedStructure, nodes: int):
    """Per level, the quadrature's log ratio at x, at the conditional mode there: by the one-factor
    kernel (``hierax.engines.laplace_one``: its mode within 1e-6 of the Laplace engine's,
    relative, and its predictor and A reused) where it applies."""
    start = newton_start(x, aux)
    if one.applies(structure.laplace):
        u, eta, A, _ = one.conditional_mode(x, start, aux["rows"], structure.laplace)
        return one.level_log_ratios(x, u, eta, A, aux["rows"], structure.laplace, nodes)
    mode = conditional_mode(x, start, aux["data"], structure.laplace)
    return level_log_ratios(x, mode, aux["data"], structure.laplace, nodes)
