"""Fit a linear mixed model by REML or ML: optimise the profiled deviance over theta.

The optimiser is SciPy's L-BFGS-B with the exact gradient of the float64 objective (written out
in ``hierax.engines.profiled``) and the bounds theta_diag >= 0, then Newton's steps on that
gradient from where it stops (``_polished``), which take theta from about 1e-6 to about 1e-11. The optimisation record keeps the
start, the end, the number of evaluations, the optimiser's message and the gradient at the end,
so a fit can be audited; the convergence check uses that exact gradient (projected onto the
bounds), not a finite-difference Hessian as lme4's does.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize

from hierax.engines import lmm_newton, lmm_start, profiled_wide
from hierax.engines.profiled import deviance_and_gradient
from hierax.errors import DataError
from hierax.linalg import wide
from hierax.linalg.pls import (
    block_factors, conditional_variances, cross_products, listed, random_effects, schur_products, solution,
    theta_lower, theta_start, user_terms,
)

SINGULAR_BELOW = 1e-4      # a relative sd (theta on the diagonal) this small is at the boundary
GRADIENT_TOLERANCE = 1e-3  # |projected gradient| of the deviance above this: not converged
EXACT_FIT = 1e-10          # residuals of y on X below this, relative to |y|: reproduced exactly
# Up to this many first-block products of the Schur complement (``pls.schur_products``) are listed
# once and the objective is compiled (InstEval: 3.6 million); beyond, as in ratings data, they are
# formed at each evaluation on the host (``hierax.linalg.wide``; ml-1m's shape: 460 million).
LISTED_PRODUCTS_UP_TO = 30_000_000


class Optimisation(NamedTuple):
    """The record of an optimisation, for auditing a fit."""

    optimiser: str
    start: np.ndarray
    end: np.ndarray
    objective: float
    evaluations: int
    iterations: int
    converged: bool
    message: str
    gradient: np.ndarray


class LMMOutput(NamedTuple):
    """Estimates at the optimum, in plain arrays."""

    theta: np.ndarray
    theta_entries: tuple          # (block, row, column) of each theta
    beta: np.ndarray
    vcov_beta: np.ndarray
    sigma: float
    factors: list                 # per block, T_k (q, q): covariance = sigma^2 T_k T_k'
    random_effects: list          # per block, conditional modes b (levels, q)
    random_variances: object      # callable: per block, conditional variances of b (levels, q)
    objective: float              # REML criterion or deviance (-2 log likelihood)
    reml: bool
    optimisation: Optimisation
    singular: tuple               # theta indices at the boundary


def fit_lmm(X: np.ndarray, y: np.ndarray, blocks, reml: bool = True, offset: np.ndarray | None = None,
            start: np.ndarray | None = None) -> LMMOutput:
    """REML (default) or ML estimates of a linear mixed model.

    Parameters
    ----------
    X : (n, p) fixed-effects design; y : (n,) response; offset : optional (n,).
    blocks : sequence of :class:`hierax.design.block.Block`.
    start : theta to start from (default: lme4's, identity factors; for a ratings-sized crossed
        model, the theta of a subsample, ``hierax.engines.lmm_start``).

    Raises
    ------
    DataError
        When the response is constant or the fixed effects reproduce it exactly
        (:func:`check_response_varies`).
    """
    y = np.asarray(y, float) - (0.0 if offset is None else np.asarray(offset, float))
    check_response_varies(np.asarray(X, float), y, offset is not None)
    shape, cross = cross_products(np.asarray(X, float), y, blocks)
    subsample = None if start is not None else (lambda: _subsample_start(X, y, blocks, shape, reml,
                                                                           theta_lower(shape.entries)))
    return fit_cross_products(shape, cross, reml, start, subsample)


def fit_cross_products(shape, cross, reml: bool = True, start: np.ndarray | None = None,
                       subsample_start=None) -> LMMOutput:
    """:func:`fit_lmm` from the cross-products of [Z X y] (``pls.cross_products``; y less any
    offset), which is all the fit reads of the rows: sums over chunks of out-of-core data give it
    too (``hierax.outofcore``).

    ``subsample_start`` (a function of nothing returning theta) gives a ratings-sized crossed
    model its start where ``start`` is None; without it such a model starts from lme4's start.
    """
    lower = theta_lower(shape.entries)
    theta0 = theta_start(shape.entries) if start is None else np.asarray(start, float)
    if shape.rest_width and schur_products(cross.C21, shape.terms[0]) > LISTED_PRODUCTS_UP_TO:
        if start is None and subsample_start is not None:
            theta0 = subsample_start()
        return _fit_wide(wide.split(cross, shape), shape, reml, theta0, lower)
    data = listed(cross, shape)

    def fun(theta):
        value, grad = deviance_and_gradient(jnp.asarray(theta), data, shape, reml)
        return float(value), np.asarray(grad, dtype=float)

    with ThreadPoolExecutor(max_workers=1) as pool:
        # XLA compiles on one core: the estimates' function compiles while the optimiser runs
        estimates_at = pool.submit(lambda: solution.lower(jnp.asarray(theta0), data, shape).compile())
        result = _restart_from_edge(fun, _minimise(fun, theta0, lower, shape.entries), lower, shape.entries)
        estimates_at = estimates_at.result()
    theta, record = _record(result, theta0, lower, "scipy L-BFGS-B (exact gradient)")
    f, u = estimates_at(jnp.asarray(theta), data)
    return _estimates(theta, f, u, shape, reml, record,
                      lambda sigma2: conditional_variances(f, theta, sigma2, data, shape))


def _fit_wide(data: wide.WideData, shape, reml: bool, theta0, lower, estimates: bool = True):
    """The same fit with the Schur complement's products formed at each evaluation, on the host
    (``hierax.linalg.wide``): for ratings-sized crossed models, whose products do not fit in memory.

    From a subsample's start (``estimates=True``) Newton's method (``lmm_newton``) takes half
    L-BFGS-B's evaluations; L-BFGS-B where it fails, and for the subsample itself
    (``estimates=False``: theta alone, from lme4's start).
    """
    def fun(theta):
        return profiled_wide.deviance_and_gradient(theta, data, shape, reml)

    def value(theta):
        return profiled_wide.deviance(theta, data, shape, reml)

    first_block = [t for t, (k, _, _) in enumerate(shape.entries) if k == shape.order[0]]
    newton = lmm_newton.minimise(fun, theta0, shape.entries, value, first_block) if estimates else None
    if newton is not None:
        result = _restart_from_edge(fun, newton, lower)      # a relative sd at 0 that a restart leaves
        optimiser = ("Newton (exact gradient, finite-difference start Hessian, BFGS updates" if result is newton
                     else "Newton, then scipy L-BFGS-B from the boundary (exact gradient")
    else:
        result = _restart_from_edge(fun, _minimise(fun, theta0, lower), lower)
        if not estimates:
            return np.asarray(result.x, float)
        optimiser = "scipy L-BFGS-B (exact gradient"
    theta, record = _record(result, theta0, lower, optimiser + "; products formed per evaluation)",
                            converged=True if result is newton else None)
    f, u = wide.factorisation(theta, data, shape)
    return _estimates(theta, f, u, shape, reml, record,
                      lambda sigma2: wide.conditional_variances(f, theta, sigma2, data, shape))


def _subsample_start(X, y, blocks, shape, reml: bool, lower) -> np.ndarray:
    """theta of the model fitted to a subsample (``lmm_start``), or lme4's start where there is
    no smaller subsample or its fit fails (a start only: the fit is of the whole data)."""
    smaller = lmm_start.subsample(np.asarray(X, float), y, blocks, shape)
    if smaller is not None:
        sub_shape, sub_cross = cross_products(*smaller)
        sub_lower = theta_lower(sub_shape.entries)
        try:
            fitted = _fit_wide(wide.split(sub_cross, sub_shape), sub_shape, reml, theta_start(sub_shape.entries),
                               sub_lower, estimates=False)
            return lmm_start.usable_start(fitted, lower)
        except (np.linalg.LinAlgError, ValueError):
            pass
    return theta_start(shape.entries)


def _record(result, theta0, lower, optimiser: str, converged: bool | None = None):
    """theta and the optimisation record. ``converged`` when the optimiser's own criterion is
    trusted (Newton's decrement); otherwise the projected exact gradient below
    ``GRADIENT_TOLERANCE``."""
    theta, value, grad = np.asarray(result.x, float), float(result.fun), np.asarray(result.jac, float)
    if converged is None:
        converged = bool(np.max(np.abs(_projected_gradient(theta, grad, lower)), initial=0.0) < GRADIENT_TOLERANCE)
    return theta, Optimisation(optimiser, theta0, theta, value, int(result.nfev), int(result.nit), converged,
                               str(result.message), grad)


def check_response_varies(X: np.ndarray, y: np.ndarray, has_offset: bool) -> None:
    """Refuse a response with no residual variation: the profiled deviance then has sigma = 0,
    the optimiser meets log(0), and the sds come out NaN with a warning from NumPy, which names
    neither the cause nor the fix. ``y`` is the response less any offset."""
    if not len(y):
        return
    residual = np.max(np.abs(y - X @ np.linalg.lstsq(X, y, rcond=None)[0])) if X.shape[1] else np.inf
    check_residuals(float(np.min(y)), float(np.max(y)), float(residual), has_offset)


def check_residuals(low: float, high: float, residual: float, has_offset: bool) -> None:
    """:func:`check_response_varies` from the response's least and greatest values and the size of
    its least-squares residuals (their largest, or for out-of-core data their root mean square)."""
    what = "the response less the offset" if has_offset else "the response"
    scale = max(abs(low), abs(high))                 # relative, so that data at any scale (1e-12, 1e9) pass
    if high - low <= EXACT_FIT * scale:              # rounding aside (y less an offset)
        raise DataError(f"{what} is constant (every value is {low:.6g}): there is no variation to split into group "
                        "and residual variance; check that the formula names the right response column")
    if residual <= EXACT_FIT * scale:
        raise DataError(f"the fixed effects reproduce {what} exactly (every residual is zero), so the group and "
                        "residual variances are zero and cannot be estimated; check that the response is not "
                        "computed from the predictors")


def _minimise(fun, theta0, lower, entries=None):
    """L-BFGS-B, then (given the theta ``entries``) Newton's steps from where it stops (:func:`_polished`)."""
    bounds = [(0.0 if np.isfinite(lo) else None, None) for lo in lower]
    result = minimize(fun, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"ftol": 1e-12, "gtol": 1e-10, "maxiter": 2000, "maxcor": 20})
    return result if entries is None else _polished(fun, result, entries)


def _polished(fun, result, entries):
    """Newton's steps (``lmm_newton``) from L-BFGS-B's end, kept unless they fail.

    L-BFGS-B stops where its line search, on values alone, meets the deviance's rounding noise:
    there the exact gradient can still be 1e-4, and theta is good to about 1e-6, so the same rows
    in another order (or summed in chunks, out of core) stop elsewhere. Newton's steps on the
    exact gradient take theta to about 1e-11 for m + 2 more evaluations (m thetas). Their
    deviance may exceed L-BFGS-B's by rounding noise (``lmm_newton.NOISE``), never by more.
    """
    newton = lmm_newton.minimise(fun, result.x, entries)
    if newton is None or not newton.fun <= result.fun + lmm_newton.NOISE * max(abs(result.fun), 1.0):
        return result
    return newton._replace(nfev=int(result.nfev) + newton.nfev, nit=int(result.nit) + newton.nit,
                           message=f"{result.message}; then {newton.message}")


def _restart_from_edge(fun, result, lower, entries=None, rounds: int = 3):
    """Leave the boundary when that lowers the deviance.

    A diagonal theta at 0 can be a stationary point that is not a minimum: the deviance depends on
    it only through its square (T T'), so its gradient there is zero whatever lies beyond, and a
    gradient method stops (Hsb82's slope sd does this). Restart with each such entry moved to 0.1
    (relative sd) and keep the result if it is better, as lme4's restart_edge does.
    """
    for _ in range(rounds):
        theta = np.asarray(result.x, float)
        edge = np.isfinite(lower) & (theta < SINGULAR_BELOW)
        if not edge.any():
            return result
        retry = _minimise(fun, np.where(edge, 0.1, theta), lower, entries)
        if retry.fun >= result.fun - 1e-10 * max(abs(result.fun), 1.0):
            return result
        result = retry
    return result


def _projected_gradient(theta, grad, lower):
    """The gradient with the components that push into an active bound removed."""
    at_bound = np.isfinite(lower) & (theta <= lower + 1e-10) & (grad > 0)
    return np.where(at_bound, 0.0, grad)


def _estimates(theta, f, u, shape, reml, record, variances_at) -> LMMOutput:
    n, p = shape.n, shape.p
    sigma2 = float(f.r2) / (n - p if reml else n)
    RX_inv = np.linalg.inv(np.asarray(f.RX))
    vcov = sigma2 * RX_inv.T @ RX_inv
    factors = block_factors(theta, shape.entries, user_terms(shape))
    singular = tuple(t for t, (k, i, j) in enumerate(shape.entries) if i == j and theta[t] < SINGULAR_BELOW)
    modes = random_effects(u, theta, shape)
    return LMMOutput(theta, shape.entries, np.asarray(f.beta), vcov, float(np.sqrt(sigma2)), factors,
                     modes, lambda: variances_at(sigma2), record.objective, reml, record, singular)
