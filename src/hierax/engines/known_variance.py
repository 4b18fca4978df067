"""REML and ML for a gaussian model whose rows have known sampling variances: meta-analysis.

``y | se(s) ~ x + (1 | g)`` is y_i = x_i beta + z_i b + e_i with e_i ~ N(0, s_i^2), s_i known
(metafor's ``rma`` with ``vi = s^2``; brms's ``se(s)``), and ``se(s, sigma = TRUE)`` adds an
extra spread sigma: e_i ~ N(0, s_i^2 + sigma^2) (metafor's tau^2 with one row per study).

Dividing each row by s_i turns the model into lme4's with the residual variance fixed at 1:

    y_i / s_i = (x_i / s_i) beta + (z_i / s_i) b + e*_i,   e*_i ~ N(0, 1),

and sigma becomes a group term of its own with one level per row and z = 1 / s_i (a per-row
effect sigma u_i, u_i ~ N(0, 1), is exactly the extra spread). So the blocked penalised least
squares of ``hierax.linalg.pls`` serves unchanged, with theta absolute (no sigma to scale it) and
the deviance not profiled over a residual variance (``profiled.deviance_and_gradient``'s
``known_scale``):

    ML:    -2 log L   = sum_i log s_i^2 + log|L|^2 + r2 + n log(2 pi)
    REML:  -2 log L_R = sum_i log s_i^2 + log|L|^2 + log|R_X|^2 + r2 + (n - p) log(2 pi)

(lme4's REML criterion; metafor's REML log-likelihood adds 1/2 log|X'X|). Without group terms
or sigma (a fixed-, "common"-effect meta-analysis) nothing is estimated but beta, by weighted
least squares.

The output has a Laplace fit's layout (``GLMMOutput``): factors absolute, no sigma scaling them,
and sigma, where estimated, a family parameter on its log scale, its standard error from the
observed information of the criterion (the inverse Hessian in all variance parameters, by central
differences of the exact gradient; for REML, of the restricted likelihood).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from hierax.engines.laplace import GLMMOutput
from hierax.engines.lmm import GRADIENT_TOLERANCE, Optimisation, _minimise, _projected_gradient, _restart_from_edge
from hierax.engines.profiled import deviance_and_gradient
from hierax.linalg.pls import (
    block_factors, conditional_variances, prepare, random_effects, solution, theta_entries, theta_lower, theta_start,
    user_terms,
)

_LOG_2PI = float(np.log(2.0 * np.pi))
SINGULAR_BELOW = 1e-4           # an sd this small, relative to the rows' typical known sd, is at 0 (lme4's)
HESSIAN_STEP = 1e-4             # relative step of the central differences for the information


def fit_known_variance(X: np.ndarray, y: np.ndarray, se: np.ndarray, blocks, reml: bool = True,
                       offset: np.ndarray | None = None, residual_sd: bool = False) -> GLMMOutput:
    """REML (default) or ML estimates with known sds ``se`` per row (module docstring).

    ``residual_sd``: estimate sigma beside them (``se(s, sigma = TRUE)``); it is the family
    parameter ``sigma`` of the output (``phi``, log scale).
    """
    se = np.asarray(se, float)
    w = 1.0 / se
    y = (np.asarray(y, float) - (0.0 if offset is None else np.asarray(offset, float))) * w
    X = np.asarray(X, float) * w[:, None]
    scaled = [_Scaled(np.asarray(b.Z, float) * w[:, None], np.asarray(b.group_index), b.num_levels, b.num_terms,
                      b.correlated) for b in blocks]
    if residual_sd:                     # sigma u_i, u_i ~ N(0, 1): a group term with a level per row
        n = len(w)
        scaled.append(_Scaled(w[:, None], np.arange(n), n, 1, False))
    constant = float(np.sum(np.log(se ** 2)))
    if not scaled:
        return _weighted_least_squares(X, y, reml, constant)
    return _fit(X, y, scaled, len(blocks), reml, constant, residual_sd, float(np.median(se)))


class _Scaled(NamedTuple):
    """A group term on the rows divided by their known sds: what ``hierax.linalg.pls`` reads."""

    Z: np.ndarray
    group_index: np.ndarray
    num_levels: int
    num_terms: int
    correlated: bool

    @property
    def width(self) -> int:
        return self.num_levels * self.num_terms


def _fit(X, y, blocks, num_user: int, reml: bool, constant: float, residual_sd: bool, typical: float) -> GLMMOutput:
    shape, data = prepare(X, y, blocks)
    lower = theta_lower(shape.entries)
    theta0 = theta_start(shape.entries) * _spread(X, y, typical)

    def fun(theta):
        value, grad = deviance_and_gradient(jnp.asarray(theta), data, shape, reml, known_scale=True)
        return float(value) + constant, np.asarray(grad, dtype=float)

    result = _restart_from_edge(fun, _minimise(fun, theta0, lower), lower)
    theta, value, grad = np.asarray(result.x, float), float(result.fun), np.asarray(result.jac, float)
    projected = _projected_gradient(theta, grad, lower)
    record = Optimisation("scipy L-BFGS-B (exact gradient)", theta0, theta, value, int(result.nfev),
                          int(result.nit), bool(np.max(np.abs(projected), initial=0.0) < GRADIENT_TOLERANCE),
                          str(result.message), grad)
    f, u = solution(jnp.asarray(theta), data, shape)
    RX_inv = np.linalg.inv(np.asarray(f.RX))
    user = theta_entries(blocks[:num_user])
    factors = block_factors(theta, shape.entries, user_terms(shape))[:num_user]
    modes = random_effects(u, theta, shape)[:num_user]
    at_zero = SINGULAR_BELOW * typical
    singular = tuple(t for t, (k, i, j) in enumerate(user) if i == j and theta[t] < at_zero)
    phi, vcov_phi = np.zeros(0), np.zeros((0, 0))
    if residual_sd:
        phi, vcov_phi = _log_sigma(theta, fun, at_zero)

    def variances():
        return conditional_variances(f, theta, 1.0, data, shape)[:num_user]

    return GLMMOutput(theta[:len(user)], user, np.asarray(f.beta), RX_inv.T @ RX_inv, factors, modes, variances,
                      -0.5 * value, record, singular, objective=value, reml=reml, phi=phi, vcov_phi=vcov_phi)


def _spread(X, y, typical: float) -> float:
    """A start for the absolute sds: the rows' spread about the weighted least-squares line,
    beyond their known sds (in units of a typical known sd; at least a tenth of one)."""
    residual = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    return max(np.sqrt(max(np.mean(residual ** 2) - 1.0, 0.0)), 0.1) * typical


def _log_sigma(theta, fun, at_zero: float) -> tuple[np.ndarray, np.ndarray]:
    """log sigma (sigma: the last theta, the row block's) and its variance from the observed
    information: the inverse of half the criterion's Hessian in every theta, its last diagonal
    entry (so the other variance parameters' uncertainty counts), over sigma^2. An sd at zero
    has no finite log and no standard error."""
    sigma = float(theta[-1])
    if sigma < at_zero:
        return np.array([np.log(max(sigma, np.finfo(float).tiny))]), np.full((1, 1), np.nan)
    steps = HESSIAN_STEP * np.maximum(np.abs(theta), at_zero)
    columns = []
    for j, h in enumerate(steps):
        e = np.zeros_like(theta)
        e[j] = h
        columns.append((fun(theta + e)[1] - fun(theta - e)[1]) / (2.0 * h))
    hessian = np.column_stack(columns)
    hessian = 0.5 * (hessian + hessian.T)
    try:
        variance = float(np.linalg.inv(0.5 * hessian)[-1, -1])
    except np.linalg.LinAlgError:
        variance = np.nan
    return np.array([np.log(sigma)]), np.array([[variance / sigma ** 2 if variance > 0 else np.nan]])


def _weighted_least_squares(X, y, reml: bool, constant: float) -> GLMMOutput:
    """The common-effect model: beta by least squares on the scaled rows, covariance (X'WX)^-1."""
    n, p = X.shape
    Q, R = np.linalg.qr(X)
    beta = np.linalg.solve(R, Q.T @ y)
    r2 = float(np.sum((y - X @ beta) ** 2))
    value = constant + r2 + (n - p if reml else n) * _LOG_2PI
    if reml:
        value += 2.0 * float(np.sum(np.log(np.abs(np.diag(R)))))
    R_inv = np.linalg.inv(R)
    record = Optimisation("closed form (weighted least squares)", np.zeros(0), np.zeros(0), value, 0, 0, True,
                          "no variance parameters to optimise", np.zeros(0))
    return GLMMOutput(np.zeros(0), (), beta, R_inv @ R_inv.T, [], [], lambda: [], -0.5 * value, record, (),
                      objective=value, reml=reml)
