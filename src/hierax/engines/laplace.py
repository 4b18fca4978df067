"""GLMMs by the Laplace approximation (lme4's glmer with nAGQ = 1).

For relative covariance factor theta and fixed effects beta, the spherical random effects u
(b = Lambda_theta u, u ~ N(0, I)) are integrated out by Laplace's method:

    D(theta, beta) = -2 log p(y | theta, beta) ~= g(u^) + log|A(u^)|,
    g(u) = -2 sum_i log p(y_i | eta_i(u)) + |u|^2,   A(u) = Lambda' Z' W(u) Z Lambda + I,

where u^ minimises g (penalised iteratively reweighted least squares: damped Newton steps on u,
run to convergence from the previous mode) and W is the negative second derivative of the
log-likelihood in eta. (theta, beta) are then optimised jointly, as lme4 does in its second stage.

The gradient is exact without differentiating through the Newton iterations. With x = (theta, beta)
and u^(x) defined by dg/du = 0, the implicit function theorem gives du^/dx = -(d2g/du2)^-1 d2g/du dx
and d2g/du2 = 2A, so

    dD/dx = dD/dx|_u^ - d/dx [v' dg/du]|_u^,   v = (2A)^-1 dD/du|_u^,

one solve with the Cholesky factor already at hand and one Hessian-vector product. Standard errors
of beta come from the Hessian of D in (theta, beta) by central differences of that gradient, as
lme4's default (``use.hessian``) takes them from a finite-difference one.

A is factored in blocks (``hierax.engines.laplace_blocks``): the grouping factor with the most
columns per level, the others densely through a Schur complement, so that time and memory grow
with the rows and that factor's levels, not with the square of the number of effects.

Family parameters besides the mean (a negative binomial's shape, a beta's precision, student's
sigma and nu, a zero-inflation probability) are estimated with the fixed effects, as glmmTMB
does: x = (theta, beta, phi), phi their values on the link scale, and the likelihood is
``likelihood(y, eta, phi, trials)``. The mode u^ is found at fixed phi, and the implicit-function
gradient treats phi exactly as beta.

Such likelihoods need not be log-concave in eta (student-t, zero-inflated and hurdle counts), so
W may be negative at some rows and A need not be positive definite away from the mode. A Newton
step then factors A with W clamped at zero (Lambda' Z' W+ Z Lambda + I >= I: a descent direction,
a Fisher-scoring-like step) while the step lengths are still judged on the exact g; where A is
positive definite the step is the exact Newton step, so convergence stays quadratic near a mode
that is a proper minimum. The Laplace log-determinant always uses the exact A at the mode: a
trial point where it is not positive definite has no Laplace approximation (the optimiser is
turned back from it), and estimates where it is not raise a ModelError rather than give a wrong
number.

With one scalar grouping factor, ``nagq`` > 1 replaces Laplace's method by adaptive Gauss-Hermite
quadrature around the same mode (``hierax.engines.quadrature``): D gains one term per level, and
the gradient above holds as it is.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize

from hierax.engines import laplace_blocks as blocked
from hierax.engines import quadrature
from hierax.engines.laplace_start import fixed_start
from hierax.engines.lmm import GRADIENT_TOLERANCE, SINGULAR_BELOW, Optimisation, _projected_gradient
from hierax.errors import ModelError
from hierax.linalg.columns import column_scales
from hierax.linalg.pls import block_factors, theta_entries, theta_lower, theta_start

MAX_NEWTON_STEPS = 100  # per evaluation, from the previous mode; a handful are used near it
NEWTON_TOLERANCE = 1e-10  # on the largest step, relative to 1 + |u|
# an exact, full Newton step this small leaves an error of about its square (quadratic convergence):
# the mode is then within NEWTON_TOLERANCE without the confirming step
QUADRATIC_STOP = NEWTON_TOLERANCE ** 0.5
ROUNDING = 1e-13        # g may rise by this much relative to |g| in a step and the step still count as downhill
SHORTEST_STEP = 1.0 / 32.0  # a Newton step is halved at most five times (then not taken)


class GLMMOutput(NamedTuple):
    theta: np.ndarray
    theta_entries: tuple
    beta: np.ndarray
    vcov_beta: np.ndarray
    factors: list
    random_effects: list
    random_variances: object    # callable: per block, conditional variances of b (levels, q)
    loglik: float               # Laplace approximation to the marginal log-likelihood
    optimisation: Optimisation
    singular: tuple
    objective: float = 0.0      # -2 loglik, the quantity minimised
    sigma: None = None          # no sd that scales the group effects (factors are absolute)
    reml: bool = False
    phi: np.ndarray = np.zeros(0)             # family parameters on their link scales
    vcov_phi: np.ndarray = np.zeros((0, 0))   # their covariance (link scale)
    nagq: int = 1               # quadrature nodes per level: 1 is the Laplace approximation


class _Data(NamedTuple):
    X: jax.Array
    offset: jax.Array
    cols: jax.Array       # (n, K): the columns of Z each row touches
    vals: jax.Array       # (n, K): their values
    y: jax.Array
    trials: object        # the likelihood's row data: None, (n,) trials, or a dict of (n,) arrays
    pattern: blocked.Pattern  # the blocked precision's index sums
    by_level: quadrature.LevelRows | None = None   # one grouping factor: its rows level by level (quadrature)


class _Structure(NamedTuple):
    """Everything static about a model: the blocks' shapes (``Block.shape``), the theta layout and the likelihood."""

    blocks: tuple
    entries: tuple
    likelihood: object      # static, hashable: (y, eta, phi, trials) -> pointwise log-likelihood
    num_phi: int = 0        # family parameters (link scale) at the end of x
    layout: blocked.Layout | None = None   # the blocked precision's layout (:func:`structure_of`)
    nagq: int = 1           # quadrature nodes per level (1: Laplace; more: ``hierax.engines.quadrature``)
    quadratic_stop: float = QUADRATIC_STOP   # Newton's stop after an exact full step this small (relative)

    @property
    def num_theta(self) -> int:
        return len(self.entries)

    @property
    def width(self) -> int:
        return int(sum(b.width for b in self.blocks))


def fit_glmm(X: np.ndarray, y: np.ndarray, blocks, likelihood, trials: np.ndarray | None = None,
             offset: np.ndarray | None = None, phi_start: np.ndarray | None = None,
             beta_start: np.ndarray | None = None, nagq: int = 1) -> GLMMOutput:
    """Laplace fit of a GLMM with response ``y`` (and binomial ``trials``) and fixed design ``X``.

    ``nagq`` > 1 integrates by adaptive Gauss-Hermite quadrature with that many nodes per level
    (``hierax.engines.quadrature``; one scalar grouping factor only) instead of Laplace's method.
    ``likelihood(y, eta, phi, trials)`` is the pointwise log-likelihood; ``phi_start`` the
    starting values of the family's parameters on their link scales (none by default: a family
    whose only parameter is its mean). ``beta_start`` (default zero) is where the fit without
    group effects starts: least squares for a location family, whose heavy-tailed likelihood (student)
    is nearly flat in beta far from the data, so that Newton from zero can wander off.

    The optimiser works on fixed effects for columns of ``X`` scaled to unit root mean square:
    a predictor in dollars (x 1e6) or in metres (x 1e-8) otherwise puts the fixed effects six or
    eight orders of magnitude from theta, where L-BFGS-B stops early, at a wrong point, with a
    small gradient. The estimates, their covariance and the audit trail are given back in the
    units of ``X``.
    """
    blocked.check_size(blocks)
    scale = column_scales(X)
    phi_start = np.zeros(0) if phi_start is None else np.asarray(phi_start, float).reshape(-1)
    beta_start = np.zeros(X.shape[1]) if beta_start is None else np.asarray(beta_start, float) * scale
    output = _fit_scaled(X / scale, y, blocks, likelihood, trials, offset, np.concatenate([beta_start, phi_start]),
                         check_nagq(nagq, blocks))
    return _unscaled(output, scale)


def _unscaled(output: GLMMOutput, scale: np.ndarray) -> GLMMOutput:
    """``output`` of a fit to ``X / scale`` in the units of ``X``: beta = beta_s / scale."""
    num_theta = len(output.theta)
    factor = np.concatenate([np.ones(num_theta), 1.0 / scale, np.ones(len(output.phi))])
    record = output.optimisation
    record = record._replace(start=record.start * factor, end=record.end * factor, gradient=record.gradient / factor)
    return output._replace(beta=output.beta / scale, vcov_beta=output.vcov_beta / np.outer(scale, scale),
                           optimisation=record)


def _fit_scaled(X, y, blocks, likelihood, trials, offset, start, nagq: int = 1) -> GLMMOutput:
    """The fit for scaled columns of X, from ``start`` = (beta, phi) of the model without group effects."""
    n, p = X.shape
    structure = structure_of(blocks, likelihood, len(start) - p, nagq)
    data = engine_data(X, y, trials, blocks, offset, by_level=nagq > 1)
    entries = structure.entries
    x0 = np.concatenate([theta_start(entries), fixed_start(data, likelihood, start)])
    value, _, u = evaluate(jnp.asarray(x0), jnp.zeros(structure.width), data, structure)
    state = {"u": u, "best": float(value), "x": np.asarray(x0, float)}

    def fun(x):
        # Newton starts from the mode at the best point so far: trial points of a line search
        # far from it must not move the start of later evaluations
        value, grad, mode = evaluate(jnp.asarray(x), state["u"], data, structure)
        value, grad = float(value), np.asarray(grad, dtype=float)
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            # overflow far from the optimum (exp of a large eta): a steep wall back towards the
            # best point lets the line search shorten its step instead of failing
            direction = np.asarray(x, float) - state["x"]
            return state["best"] + 1e6 * (1.0 + direction @ direction), 2e6 * direction
        if value < state["best"]:
            state["u"], state["best"], state["x"] = mode, value, np.asarray(x, float)
        return value, grad

    lower = np.concatenate([theta_lower(entries), np.full(p + structure.num_phi, -np.inf)])
    bounds = [(0.0 if np.isfinite(lo) else None, None) for lo in lower]
    options = {"ftol": 1e-14, "gtol": 1e-9, "maxiter": 3000, "maxcor": 20}
    result = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=bounds, options=options)
    boundary = _sds_at_zero(result.x, entries)
    if boundary:
        # D is even in each column of Lambda, so its gradient in a diagonal theta vanishes at 0: a
        # first step that lands there stops at a stationary point that may not be the minimum
        # (hurdle_negbinomial on Salamanders: D falls from theta = 0 to theta = 0.105). Once,
        # from there with those thetas at a tenth of their start, keeping the better end.
        restart = np.asarray(result.x, float).copy()
        restart[boundary] = 0.1 * x0[boundary]
        again = minimize(fun, restart, jac=True, method="L-BFGS-B", bounds=bounds, options=options)
        if again.fun < result.fun:
            again.nfev += result.nfev
            again.nit += result.nit
            result = again
    x = np.asarray(result.x, float)
    _check_laplace_defined(x, state["u"], data, structure)
    value, grad = fun(x)
    record = Optimisation("scipy L-BFGS-B (exact gradient), Laplace", x0, x, value, int(result.nfev),
                          int(result.nit),
                          bool(np.max(np.abs(_projected_gradient(x, grad, lower)), initial=0.0) < GRADIENT_TOLERANCE),
                          str(result.message), grad)
    hessian = _hessian_of(lambda z: np.asarray(evaluate(jnp.asarray(z), state["u"], data, structure)[1]), x)
    return _estimates(x, hessian, state["u"], data, structure, record)


def structure_of(blocks, likelihood, num_phi: int = 0, nagq: int = 1) -> _Structure:
    """The static description of a model with these blocks and this likelihood."""
    return _Structure(tuple(b.shape for b in blocks), theta_entries(blocks), likelihood, num_phi,
                      blocked.layout_of(blocks), nagq)


def check_nagq(nagq, blocks) -> int:
    """``nagq`` as an int: 1 (Laplace), or up to ``quadrature.MAX_NODES`` nodes for a model with
    one grouping factor and one effect per level (lme4's rule: the integral must factorise into
    one-dimensional ones)."""
    if isinstance(nagq, bool) or not isinstance(nagq, (int, np.integer)) or not 1 <= nagq <= quadrature.MAX_NODES:
        raise ModelError(f"nAGQ must be a whole number from 1 (the Laplace approximation) to {quadrature.MAX_NODES}, "
                         f"got {nagq!r}")
    if nagq > 1 and (len(blocks) != 1 or blocks[0].num_terms != 1):
        terms = " + ".join(f"({' + '.join(b.terms)} | {b.group})" for b in blocks)
        raise ModelError(f"nAGQ > 1 needs one grouping factor with one effect per level, such as (1 | g); this model "
                         f"has {terms}. Use nAGQ=1 (the Laplace approximation), or method='nuts'")
    return int(nagq)


def _sds_at_zero(x, entries) -> list:
    """Positions in x of the diagonal thetas (sds, relative to nothing in a GLMM) at exactly 0."""
    return [t for t, (k, i, j) in enumerate(entries) if i == j and x[t] <= 0.0]


def _check_laplace_defined(x, u, data: _Data, structure: _Structure) -> None:
    """Refuse estimates where the Laplace approximation has no value: A (the Hessian of g in u, up
    to 2) not positive definite at the mode, which a likelihood that is not log-concave in eta can
    give, or a likelihood that overflows. A number computed there would be wrong, not rough."""
    value, _, mode = evaluate(jnp.asarray(x), jnp.asarray(u), data, structure)
    if not blocked.factor_defined(jax.device_get(factor_at(jnp.asarray(x), mode, data, structure))):
        raise ModelError(
            "method='laplace' has no answer for this model: at the estimates the log-likelihood's curvature in the "
            "group effects is not positive definite at their conditional mode (the likelihood is not log-concave "
            "there, e.g. heavy tails or zero inflation with few observations per group), so the Laplace "
            "approximation is undefined; fit it with method='nuts', or simplify the group terms")
    if not np.isfinite(float(value)):
        raise ModelError("method='laplace' stopped where the likelihood overflows (a linear predictor far too large); "
                         "check the scale of the predictors, or fit with method='nuts'")


def _hessian_of(gradient, x, step: float = 1e-5) -> np.ndarray:
    """Central differences of the exact gradient (no second compilation), symmetrised."""
    columns = []
    for k in range(len(x)):
        h = step * max(1.0, abs(x[k]))
        e = np.zeros(len(x))
        e[k] = h
        columns.append((gradient(x + e) - gradient(x - e)) / (2 * h))
    H = np.stack(columns, axis=1)
    return 0.5 * (H + H.T)


def engine_data(X, y, trials, blocks, offset, by_level: bool = False) -> _Data:
    """The engine's arrays; with ``by_level`` (one grouping factor, for the quadrature) its rows
    laid out level by level too. Only where asked: the layout's shapes follow the group sizes, so
    two data sets of one shape but other sizes would otherwise compile programs of their own."""
    n = X.shape[0]
    cols, vals, start = [], [], 0
    for block in blocks:
        q = block.num_terms
        for j in range(q):
            cols.append(start + block.group_index * q + j)
            vals.append(block.Z[:, j])
        start += block.width
    # NumPy first, then one transfer each: a conversion by jnp would compile a program per array
    def device(a):
        return jnp.asarray(np.asarray(a, float))

    layout = quadrature.level_rows(blocks[0].group_index, blocks[0].num_levels) if by_level else None
    return _Data(device(X), device(np.zeros(n) if offset is None else offset), jnp.asarray(np.stack(cols, axis=1)),
                 device(np.stack(vals, axis=1)), device(y), jax.tree_util.tree_map(device, trials),
                 blocked.pattern_of(blocks, blocked.layout_of(blocks)), layout)


class _Lambda(NamedTuple):
    """Lambda_theta, block diagonal with T_k repeated over block k's levels, applied without
    forming it (a dense Q x Q Lambda would cost Q^3 per product)."""

    Ts: list
    blocks: tuple

    def _split(self, v):
        parts, start = [], 0
        for block in self.blocks:
            parts.append(v[start:start + block.width].reshape((block.num_levels, block.num_terms) + v.shape[1:]))
            start += block.width
        return parts

    def times(self, v):                       # Lambda v
        return jnp.concatenate([jnp.einsum("ij,lj->li", T, part).reshape(-1)
                                for T, part in zip(self.Ts, self._split(v))])

    def t_times(self, v):                     # Lambda' v
        return jnp.concatenate([jnp.einsum("ji,lj->li", T, part).reshape(-1)
                                for T, part in zip(self.Ts, self._split(v))])

def _lambda(theta, structure: _Structure) -> _Lambda:
    return _Lambda(block_factors(theta, structure.entries, [b.num_terms for b in structure.blocks]),
                   structure.blocks)


def _z_times(v, data: _Data):             # Z v for v in R^Q
    return blocked.rows_times(data.vals, v, data.cols)


def _zt_times(r, data: _Data, Q: int):    # Z' r for r in R^n
    total = jnp.zeros(Q)
    for k in range(data.cols.shape[1]):   # column by column: see ``laplace_blocks.rows_times``
        total = total.at[data.cols[:, k]].add(data.vals[:, k] * r)
    return total


def _derivatives(eta, phi, data: _Data, likelihood):
    """First derivative of the log-likelihood in eta at fixed phi, and W, minus the second."""
    first = jax.grad(lambda e: jnp.sum(likelihood(data.y, e, phi, data.trials)))
    return first(eta), -jax.grad(lambda e: jnp.sum(first(e)))(eta)


def _split(x, data: _Data, structure: _Structure):
    """theta, beta and phi from x = (theta, beta, phi)."""
    t, p = structure.num_theta, data.X.shape[1]
    return x[:t], x[t:t + p], x[t + p:]


def _linear_predictor(x, u, data: _Data, structure: _Structure):
    theta, beta, _ = _split(x, data, structure)
    Lam = _lambda(theta, structure)
    return Lam, data.X @ beta + data.offset + _z_times(Lam.times(u), data)


def penalised_deviance(x, u, data: _Data, structure: _Structure):
    """-2 log p(y | u) + |u|^2."""
    eta = _linear_predictor(x, u, data, structure)[1]
    phi = _split(x, data, structure)[2]
    return -2.0 * jnp.sum(structure.likelihood(data.y, eta, phi, data.trials)) + u @ u


def _curvature(x, u, data: _Data, structure: _Structure):
    """Lambda, the log-likelihood's first derivative in eta and W (exact, possibly negative)."""
    Lam, eta = _linear_predictor(x, u, data, structure)
    d1, w = _derivatives(eta, _split(x, data, structure)[2], data, structure.likelihood)
    return Lam, d1, w


def _row_values(Lam, data: _Data, structure: _Structure):
    """Z Lambda row by row (``laplace_blocks.row_values``)."""
    return blocked.row_values(data.vals, Lam.Ts, structure.layout)


def _laplace(x, u, data: _Data, structure: _Structure):
    """D at (x, u): g + log|A| (+ the quadrature's correction for nAGQ > 1), and A's blocked factor."""
    Lam, _, w = _curvature(x, u, data, structure)
    V = _row_values(Lam, data, structure)
    log_det, F = blocked.log_det(w, V, data.pattern, structure.layout)
    value = penalised_deviance(x, u, data, structure) + log_det
    if structure.nagq > 1:                # one scalar grouping factor (checked by fit_glmm)
        eta = _linear_predictor(x, u, data, structure)[1]
        phi = _split(x, data, structure)[2]
        value = value + quadrature.correction(
            lambda rows, e: structure.likelihood(rows[0], e, phi, rows[1]), (data.y, data.trials), eta, V[:, 0], u,
            F.L11[:, 0, 0] ** 2, data.by_level, structure.layout.L1, structure.nagq)
    return value, F


def _step_factor(w, V, data: _Data, structure: _Structure):
    """The factor a Newton step solves with: the exact A where it is positive definite (always,
    for a log-concave likelihood, whose W >= 0), else A with W clamped at zero (module
    docstring): positive definite, so the step still goes downhill on g."""
    F = blocked.factor(w, V, data.pattern, structure.layout)
    exact = blocked.is_finite(F)
    return jax.lax.cond(exact, lambda: F,
                        lambda: blocked.factor(jnp.maximum(w, 0.0), V, data.pattern, structure.layout)), exact


def _penalised(eta, u, phi, data: _Data, structure: _Structure):
    """g from the linear predictor eta that u gives: -2 log p(y | eta) + |u|^2."""
    return -2.0 * jnp.sum(structure.likelihood(data.y, eta, phi, data.trials)) + u @ u


def conditional_mode(x, u0, data: _Data, structure: _Structure):
    """u^ = argmin g(x, .), by damped Newton steps from u0 until the step is negligible.

    The loop carries the linear predictor and g with u: eta is linear in u, so a step's change
    of eta (one product with Z Lambda) serves every trial length of that step, and g at the point
    reached is the next step's reference. One pass of the likelihood's derivatives and one of its
    value per step, instead of three passes and three products with Z. It stops after a step
    below NEWTON_TOLERANCE, or after an exact full Newton step below its square root
    (``structure.quadratic_stop``, by default ``QUADRATIC_STOP``), which leaves an error of about
    the tolerance (about its square: a sampler, for which 1e-8 is as good as exact, stops sooner)."""
    _, _, phi = _split(x, data, structure)
    Lam, eta0 = _linear_predictor(x, u0, data, structure)
    V = _row_values(Lam, data, structure)

    def moving(state):
        return ~state[3] & (state[4] < MAX_NEWTON_STEPS)

    def step(state):
        u, eta, value, _, k = state
        d1, w = _derivatives(eta, phi, data, structure.likelihood)
        F, exact = _step_factor(w, V, data, structure)
        direction = blocked.solve(F, Lam.t_times(_zt_times(d1, data, structure.width)) - u, data.pattern,
                                  structure.layout)
        change = blocked.rows_times(V, direction, data.cols)          # Z Lambda direction
        u, eta, value, size, full = _damped(u, eta, value, direction, change, phi, data, structure)
        scale = 1.0 + jnp.max(jnp.abs(u))
        done = (size <= NEWTON_TOLERANCE * scale) | (exact & full & (size <= structure.quadratic_stop * scale))
        return u, eta, value, done, k + 1

    start = (u0, eta0, _penalised(eta0, u0, phi, data, structure), jnp.asarray(False), 0)
    return jax.lax.while_loop(moving, step, start)[0]


def _damped(u, eta, before, direction, change, phi, data: _Data, structure: _Structure):
    """The step taken: u + c direction for the first c in 1, 1/2, ..., 1/32 at which g is finite
    and no larger than ``before`` (up to rounding), g at u (c = 0 if none is; a full Newton step can overshoot
    with a log link far from the mode, and near the mode the full step costs one g), with the
    linear predictor and g there, the largest entry of the step and whether it was the full one."""
    def value_at(c):
        return _penalised(eta + c * change, u + c * direction, phi, data, structure)

    # g near the mode is a sum over all rows: a step may "raise" it by rounding alone, and
    # halving such steps would crawl to the mode instead of reaching it
    allowed = before + ROUNDING * (1.0 + jnp.abs(before))

    def worse(state):
        c, value = state
        return ~(value <= allowed) & (c > SHORTEST_STEP)

    def halve(state):
        c = state[0] / 2.0
        return c, value_at(c)

    c, value = jax.lax.while_loop(worse, halve, (jnp.asarray(1.0), value_at(1.0)))
    taken = value <= allowed
    c = jnp.where(taken, c, 0.0)
    return (u + c * direction, eta + c * change, jnp.where(taken, value, before), jnp.max(jnp.abs(c * direction)),
            c == 1.0)


@partial(jax.jit, static_argnames=("structure",))
def evaluate(x, u0, data: _Data, structure: _Structure):
    """D(x), its exact gradient and the mode u^ (from u0), compiled once per model shape."""
    u = jax.lax.stop_gradient(conditional_mode(x, u0, data, structure))
    (value, F), (dx, du) = jax.value_and_grad(_laplace, argnums=(0, 1), has_aux=True)(x, u, data, structure)
    v = blocked.solve(F, du, data.pattern, structure.layout) / 2.0
    # the mode's own dependence on x, by the implicit function theorem (module docstring)
    dmode = jax.grad(lambda z: jnp.vdot(v, jax.grad(penalised_deviance, argnums=1)(z, u, data, structure)))(x)
    return value, dx - dmode, u


def level_log_ratios(x, u, data: _Data, structure: _Structure, nodes: int):
    """Per level of a model with one grouping factor, log p_l / p_l^Laplace at (x, its mode u):
    the Laplace approximation's error, by the tensor-product quadrature of
    ``hierax.engines.quadrature.log_ratios`` with ``nodes`` nodes per effect."""
    Lam, _, w = _curvature(x, u, data, structure)
    eta = _linear_predictor(x, u, data, structure)[1]
    phi = _split(x, data, structure)[2]
    V = _row_values(Lam, data, structure)
    F = blocked.factor(w, V, data.pattern, structure.layout)
    layout = structure.layout
    return quadrature.log_ratios(lambda rows, e: structure.likelihood(rows[0], e, phi, rows[1]), (data.y, data.trials),
                                 eta, V, u.reshape(layout.L1, layout.q1), F.L11, data.by_level, layout.L1, nodes)


@partial(jax.jit, static_argnames=("structure",))
def factor_at(x, u, data: _Data, structure: _Structure):
    Lam, _, w = _curvature(x, u, data, structure)
    return blocked.factor(w, _row_values(Lam, data, structure), data.pattern, structure.layout)


def _estimates(x, hessian, u, data: _Data, structure: _Structure, record) -> GLMMOutput:
    num_theta, entries = structure.num_theta, structure.entries
    p = data.X.shape[1]
    theta, beta, phi = x[:num_theta], x[num_theta:num_theta + p], x[num_theta + p:]
    value, _, u_hat = evaluate(jnp.asarray(x), jnp.asarray(u), data, structure)
    F = factor_at(jnp.asarray(x), u_hat, data, structure)
    cov = 2.0 * np.linalg.inv(hessian)
    # in NumPy: a handful of small products, each of which would compile as a JAX operation
    factors = block_factors(np.asarray(theta, float), entries, [b.num_terms for b in structure.blocks])
    u_np, modes, start = np.asarray(u_hat), [], 0
    for block, T in zip(structure.blocks, factors):
        modes.append(u_np[start:start + block.width].reshape(block.num_levels, block.num_terms) @ T.T)
        start += block.width
    F = jax.device_get(F)

    def variances():
        # Var(b_l) = T Cov(u_l) T', Cov(u_l) the level's block of A^-1
        covariances = blocked.conditional_covariances(F, data.pattern, structure.layout)
        return [np.einsum("ij,ljk,ik->li", T, C, T) for T, C in zip(factors, covariances)]

    singular = tuple(t for t, (k, i, j) in enumerate(entries) if i == j and theta[t] < SINGULAR_BELOW)
    fixed, family = slice(num_theta, num_theta + p), slice(num_theta + p, None)
    return GLMMOutput(theta, entries, beta, cov[fixed, fixed], factors, modes, variances,
                      -0.5 * float(value), record, singular, float(value), phi=phi, vcov_phi=cov[family, family],
                      nagq=structure.nagq)
