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

This version factors A densely (size Q = levels x effects, summed over blocks): right for the
teaching data sets (cbpp: 15, grouseticks: 584), not for InstEval-sized problems, which need the
blocked factorisation of ``hierax.linalg.pls``.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize

from hierax.engines.lmm import GRADIENT_TOLERANCE, SINGULAR_BELOW, Optimisation, _projected_gradient
from hierax.engines.profiled import inverse_from_cholesky
from hierax.errors import ModelError
from hierax.linalg.columns import column_scales
from hierax.linalg.pls import block_factors, theta_entries, theta_lower, theta_start

MAX_NEWTON_STEPS = 100  # per evaluation, from the previous mode; a handful are used near it
NEWTON_TOLERANCE = 1e-10  # on the largest step, relative to 1 + |u|
STEP_LENGTHS = jnp.asarray([1.0, 0.5, 0.25, 0.125, 0.0625, 0.0])


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
    sigma: None = None          # no residual sd in these families
    reml: bool = False


class _Data(NamedTuple):
    X: jax.Array
    offset: jax.Array
    cols: jax.Array       # (n, K): the columns of Z each row touches
    vals: jax.Array       # (n, K): their values
    y: jax.Array
    trials: object        # (n,) or None


class _BlockShape(NamedTuple):
    num_levels: int
    num_terms: int

    @property
    def width(self) -> int:
        return self.num_levels * self.num_terms


class _Structure(NamedTuple):
    """Everything static about a model: block sizes, the theta layout and the likelihood."""

    blocks: tuple
    entries: tuple
    likelihood: object      # static, hashable: (y, eta, trials) -> pointwise log-likelihood

    @property
    def num_theta(self) -> int:
        return len(self.entries)

    @property
    def width(self) -> int:
        return int(sum(b.width for b in self.blocks))


def fit_glmm(X: np.ndarray, y: np.ndarray, blocks, likelihood, trials: np.ndarray | None = None,
             offset: np.ndarray | None = None) -> GLMMOutput:
    """Laplace fit of a GLMM with response ``y`` (and binomial ``trials``) and fixed design ``X``.

    The optimiser works on fixed effects for columns of ``X`` scaled to unit root mean square:
    a predictor in dollars (x 1e6) or in metres (x 1e-8) otherwise puts the fixed effects six or
    eight orders of magnitude from theta, where L-BFGS-B stops early, at a wrong point, with a
    small gradient. The estimates, their covariance and the audit trail are given back in the
    units of ``X``.
    """
    check_size(blocks)
    scale = column_scales(X)
    output = _fit_scaled(X / scale, y, blocks, likelihood, trials, offset)
    return _unscaled(output, scale)


# The dense factor costs Q^3 / 3 per Newton step and Q^2 doubles of memory: on the project's 2-core
# machine 1,500 effects take about 16 s to fit and 5,000 over 300 s at 2 GB, so above this the
# engine refuses rather than run for many minutes without a word.
MAX_DENSE_EFFECTS = 2500


def check_size(blocks) -> None:
    """Refuse a model whose group effects are too many for the dense factorisation."""
    total = sum(b.num_levels * b.num_terms for b in blocks)
    if total > MAX_DENSE_EFFECTS:
        sizes = ", ".join(f"{b.num_levels} x {b.num_terms}" for b in blocks)
        raise ModelError(
            f"method='laplace' factors the {total:,} group effects ({sizes}) as one dense matrix, which "
            f"takes many minutes above {MAX_DENSE_EFFECTS:,}; fit this model with method='nuts' (full Bayesian "
            "inference, which handles tens of thousands of effects), or group by a coarser factor")


def _unscaled(output: GLMMOutput, scale: np.ndarray) -> GLMMOutput:
    """``output`` of a fit to ``X / scale`` in the units of ``X``: beta = beta_s / scale."""
    num_theta = len(output.theta)
    factor = np.concatenate([np.ones(num_theta), 1.0 / scale])
    record = output.optimisation
    record = record._replace(start=record.start * factor, end=record.end * factor, gradient=record.gradient / factor)
    return output._replace(beta=output.beta / scale, vcov_beta=output.vcov_beta / np.outer(scale, scale),
                           optimisation=record)


def _fit_scaled(X, y, blocks, likelihood, trials, offset) -> GLMMOutput:
    n, p = X.shape
    structure = _Structure(tuple(_BlockShape(b.num_levels, b.num_terms) for b in blocks), theta_entries(blocks),
                           likelihood)
    data = _data(X, y, trials, blocks, offset)
    entries = structure.entries
    x0 = np.concatenate([theta_start(entries), _glm_start(data, likelihood)])
    value, _, u = _evaluate(jnp.asarray(x0), jnp.zeros(structure.width), data, structure)
    state = {"u": u, "best": float(value), "x": np.asarray(x0, float)}

    def fun(x):
        # Newton starts from the mode at the best point so far: trial points of a line search
        # far from it must not move the start of later evaluations
        value, grad, mode = _evaluate(jnp.asarray(x), state["u"], data, structure)
        value, grad = float(value), np.asarray(grad, dtype=float)
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            # overflow far from the optimum (exp of a large eta): a steep wall back towards the
            # best point lets the line search shorten its step instead of failing
            direction = np.asarray(x, float) - state["x"]
            return state["best"] + 1e6 * (1.0 + direction @ direction), 2e6 * direction
        if value < state["best"]:
            state["u"], state["best"], state["x"] = mode, value, np.asarray(x, float)
        return value, grad

    lower = np.concatenate([theta_lower(entries), np.full(p, -np.inf)])
    bounds = [(0.0 if np.isfinite(lo) else None, None) for lo in lower]
    result = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"ftol": 1e-14, "gtol": 1e-9, "maxiter": 3000, "maxcor": 20})
    x = np.asarray(result.x, float)
    value, grad = fun(x)
    record = Optimisation("scipy L-BFGS-B (exact gradient), Laplace", x0, x, value, int(result.nfev),
                          int(result.nit),
                          bool(np.max(np.abs(_projected_gradient(x, grad, lower)), initial=0.0) < GRADIENT_TOLERANCE),
                          str(result.message), grad)
    hessian = _hessian_of(lambda z: np.asarray(_evaluate(jnp.asarray(z), state["u"], data, structure)[1]), x)
    return _estimates(x, hessian, state["u"], data, structure, record)


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


def _data(X, y, trials, blocks, offset) -> _Data:
    n = X.shape[0]
    cols, vals, start = [], [], 0
    for block in blocks:
        q = block.num_terms
        for j in range(q):
            cols.append(start + block.group_index * q + j)
            vals.append(block.Z[:, j])
        start += block.width
    return _Data(jnp.asarray(X, float), jnp.zeros(n) if offset is None else jnp.asarray(offset, float),
                 jnp.asarray(np.stack(cols, axis=1)), jnp.asarray(np.stack(vals, axis=1), dtype=float),
                 jnp.asarray(y, float), None if trials is None else jnp.asarray(trials, float))


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

    def sandwich(self, M):                    # Lambda' M Lambda
        rows, offsets = [], np.cumsum([0] + [b.width for b in self.blocks])
        for a, (block_a, T_a) in enumerate(zip(self.blocks, self.Ts)):
            cols = []
            for b, (block_b, T_b) in enumerate(zip(self.blocks, self.Ts)):
                part = M[offsets[a]:offsets[a + 1], offsets[b]:offsets[b + 1]].reshape(
                    block_a.num_levels, block_a.num_terms, block_b.num_levels, block_b.num_terms)
                cols.append(jnp.einsum("aibj,ic,jd->acbd", part, T_a, T_b).reshape(block_a.width, block_b.width))
            rows.append(jnp.concatenate(cols, axis=1))
        return jnp.concatenate(rows, axis=0)


def _lambda(theta, structure: _Structure) -> _Lambda:
    return _Lambda(block_factors(theta, structure.entries, [b.num_terms for b in structure.blocks]),
                   structure.blocks)


def _z_times(v, data: _Data):             # Z v for v in R^Q
    return jnp.sum(data.vals * v[data.cols], axis=1)


def _zt_times(r, data: _Data, Q: int):    # Z' r for r in R^n
    return jnp.zeros(Q).at[data.cols].add(data.vals * r[:, None])


def _ztwz(w, data: _Data, Q: int):        # Z' W Z, dense (Q, Q), from each row's products
    products = w[:, None, None] * data.vals[:, :, None] * data.vals[:, None, :]
    return jnp.zeros((Q, Q)).at[data.cols[:, :, None], data.cols[:, None, :]].add(products)


def _derivatives(eta, data: _Data, likelihood):
    """First derivative of the log-likelihood in eta, and W, minus the second."""
    first = jax.grad(lambda e: jnp.sum(likelihood(data.y, e, data.trials)))
    return first(eta), -jax.grad(lambda e: jnp.sum(first(e)))(eta)


def _linear_predictor(x, u, data: _Data, structure: _Structure):
    Lam = _lambda(x[:structure.num_theta], structure)
    return Lam, data.X @ x[structure.num_theta:] + data.offset + _z_times(Lam.times(u), data)


def _g(x, u, data: _Data, structure: _Structure):
    """-2 log p(y | u) + |u|^2."""
    eta = _linear_predictor(x, u, data, structure)[1]
    return -2.0 * jnp.sum(structure.likelihood(data.y, eta, data.trials)) + u @ u


def _precision(x, u, data: _Data, structure: _Structure):
    """A = Lambda' Z' W Z Lambda + I at (x, u), and Lambda and eta."""
    Lam, eta = _linear_predictor(x, u, data, structure)
    d1, w = _derivatives(eta, data, structure.likelihood)
    Q = structure.width
    return Lam.sandwich(_ztwz(w, data, Q)) + jnp.eye(Q), Lam, d1


def _laplace(x, u, data: _Data, structure: _Structure):
    log_det, L = spd_log_det(_precision(x, u, data, structure)[0])
    return _g(x, u, data, structure) + log_det, L


def _newton_step(x, u, data: _Data, structure: _Structure):
    A, Lam, d1 = _precision(x, u, data, structure)
    step = jax.scipy.linalg.cho_solve((jnp.linalg.cholesky(A), True),
                                      Lam.t_times(_zt_times(d1, data, structure.width)) - u)
    # damped: the best of a few step lengths (a full Newton step can overshoot with a log link
    # far from the mode)
    values = jax.vmap(lambda c: _g(x, u + c * step, data, structure))(STEP_LENGTHS)
    best = jnp.argmin(jnp.where(jnp.isfinite(values), values, jnp.inf))
    return u + STEP_LENGTHS[best] * step, jnp.max(jnp.abs(STEP_LENGTHS[best] * step))


def _mode(x, u0, data: _Data, structure: _Structure):
    """u^ = argmin g(x, .), by damped Newton steps from u0 until the step is negligible."""
    def moving(state):
        u, size, k = state
        return (size > NEWTON_TOLERANCE * (1.0 + jnp.max(jnp.abs(u)))) & (k < MAX_NEWTON_STEPS)

    def step(state):
        u, _, k = state
        return _newton_step(x, u, data, structure) + (k + 1,)

    return jax.lax.while_loop(moving, step, (u0, jnp.inf, 0))[0]


@partial(jax.jit, static_argnames=("structure",))
def _evaluate(x, u0, data: _Data, structure: _Structure):
    """D(x), its exact gradient and the mode u^ (from u0), compiled once per model shape."""
    u = jax.lax.stop_gradient(_mode(x, u0, data, structure))
    (value, L), (dx, du) = jax.value_and_grad(_laplace, argnums=(0, 1), has_aux=True)(x, u, data, structure)
    v = jax.scipy.linalg.cho_solve((L, True), du) / 2.0
    # the mode's own dependence on x, by the implicit function theorem (module docstring)
    dmode = jax.grad(lambda z: jnp.vdot(v, jax.grad(_g, argnums=1)(z, u, data, structure)))(x)
    return value, dx - dmode, u


@partial(jax.jit, static_argnames=("structure",))
def _factor(x, u, data: _Data, structure: _Structure):
    return jnp.linalg.cholesky(_precision(x, u, data, structure)[0])


@jax.custom_vjp
def spd_log_det(A):
    """log|A| and the Cholesky factor of a symmetric positive definite A.

    Its derivative, A^-1, comes from LAPACK's potri on the factor: a third of the work of
    differentiating the factorisation. The factor is for use, not differentiation (its cotangent
    is ignored).
    """
    L = jnp.linalg.cholesky(A)
    return 2.0 * jnp.sum(jnp.log(jnp.diagonal(L))), L


def _spd_log_det_forward(A):
    out = spd_log_det(A)
    return out, out[1]


def _spd_log_det_backward(L, cotangents):
    return (cotangents[0] * inverse_from_cholesky(L),)


spd_log_det.defvjp(_spd_log_det_forward, _spd_log_det_backward)


@partial(jax.jit, static_argnames=("likelihood",))
def _glm_newton_step(beta, data: _Data, likelihood):
    def objective(b):
        return -jnp.sum(likelihood(data.y, data.X @ b + data.offset, data.trials))

    return jnp.linalg.solve(jax.hessian(objective)(beta), jax.grad(objective)(beta))


def _glm_start(data: _Data, likelihood) -> np.ndarray:
    """beta of the GLM without random effects (Newton on beta), lme4's starting point in spirit."""
    if data.X.shape[1] == 0:                      # y ~ 0 + (1 | g): no fixed effects to start
        return np.zeros(0)
    beta = jnp.zeros(data.X.shape[1])
    for _ in range(50):
        step = _glm_newton_step(beta, data, likelihood)
        beta = beta - step
        if float(jnp.max(jnp.abs(step))) < 1e-10:
            break
    return np.asarray(beta)


def _estimates(x, hessian, u, data: _Data, structure: _Structure, record) -> GLMMOutput:
    num_theta, entries = structure.num_theta, structure.entries
    theta, beta = x[:num_theta], x[num_theta:]
    value, _, u_hat = _evaluate(jnp.asarray(x), jnp.asarray(u), data, structure)
    L = _factor(jnp.asarray(x), u_hat, data, structure)
    cov = 2.0 * np.linalg.inv(hessian)
    Lam = _lambda(jnp.asarray(theta), structure)
    factors = [np.asarray(T) for T in Lam.Ts]
    b_all = np.asarray(Lam.times(u_hat))
    L_inv = np.linalg.inv(np.asarray(L))
    modes, start = [], 0
    for block in structure.blocks:
        modes.append(b_all[start:start + block.width].reshape(block.num_levels, block.num_terms))
        start += block.width

    def variances():
        M = np.asarray(jax.vmap(Lam.times, in_axes=1, out_axes=1)(jnp.asarray(L_inv.T)))  # Lambda L^-T
        diag = np.sum(M**2, axis=1)                                                       # Var(b) = M M'

        out, s = [], 0
        for block in structure.blocks:
            out.append(diag[s:s + block.width].reshape(block.num_levels, block.num_terms))
            s += block.width
        return out

    singular = tuple(t for t, (k, i, j) in enumerate(entries) if i == j and theta[t] < SINGULAR_BELOW)
    return GLMMOutput(theta, entries, beta, cov[num_theta:, num_theta:], factors, modes, variances,
                      -0.5 * float(value), record, singular, float(value))
