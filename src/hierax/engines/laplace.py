"""GLMMs by the Laplace approximation (lme4's glmer with nAGQ = 1).

For relative covariance factor theta and fixed effects beta, the spherical random effects u
(b = Lambda_theta u, u ~ N(0, I)) are integrated out by Laplace's method:

    -2 log p(y | theta, beta) ~= -2 sum_i log p(y_i | eta_i(u^)) + |u^|^2 + log|L|^2,

where u^ maximises log p(y | u) - |u|^2 / 2 (penalised iteratively reweighted least squares: Newton
steps on u) and L is the Cholesky factor of Lambda' Z' W Z Lambda + I at u^, W the negative second
derivative of the log-likelihood in eta. (theta, beta) are then optimised jointly, as lme4 does
in its second stage. The Newton steps run a fixed number of times from the previous solution, so
the objective is a smooth JAX function whose exact gradient flows through them; standard errors
of beta come from the exact Hessian of the approximate deviance in (theta, beta), as lme4's
default (``use.hessian``) takes them from a finite-difference one.

This first version factors Lambda' Z' W Z Lambda + I densely (size Q = levels x effects, summed
over blocks): right for the teaching data sets (cbpp: 15, grouseticks: 584), not for
InstEval-sized problems, which need the blocked factorisation of ``hierax.engines.pls``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize

from hierax.engines.lmm import GRADIENT_TOLERANCE, SINGULAR_BELOW, Optimisation, _projected_gradient
from hierax.engines.pls import block_factors, theta_entries, theta_lower, theta_start

NEWTON_STEPS = 12        # per evaluation, from the previous mode (quadratic convergence)
STEP_LENGTHS = jnp.asarray([1.0, 0.5, 0.25, 0.125, 0.0625, 0.0])
FIRST_NEWTON_STEPS = 50  # from u = 0


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


class _Problem(NamedTuple):
    X: jax.Array
    offset: jax.Array
    cols: jax.Array       # (n, K): the columns of Z each row touches
    vals: jax.Array       # (n, K): their values
    lam_index: tuple      # static description of Lambda's blocks
    p: int


def fit_glmm(X: np.ndarray, loglik: Callable, blocks, offset: np.ndarray | None = None) -> GLMMOutput:
    """Laplace fit. ``loglik(eta) -> (n,)`` is the pointwise log-likelihood of the data."""
    n, p = X.shape
    entries = theta_entries(blocks)
    problem = _problem(X, blocks, offset)
    num_theta = len(entries)
    deviance = _make_deviance(problem, blocks, entries, loglik)
    # one compiled function serves the whole fit: value, the mode it found, and the gradient
    evaluate = jax.jit(jax.value_and_grad(lambda x, u0: deviance(x, u0, NEWTON_STEPS)[:2], has_aux=True))
    x0 = np.concatenate([theta_start(entries), _glm_start(problem, loglik)])
    u = jnp.zeros(int(sum(b.width for b in blocks)))
    for _ in range(FIRST_NEWTON_STEPS // NEWTON_STEPS):
        (value, u), _ = evaluate(jnp.asarray(x0), u)
    state = {"u": u, "best": float(value), "x": np.asarray(x0, float)}

    def fun(x):
        # Newton starts from the mode at the best point so far: trial points of a line search
        # far from it must not move the start of later evaluations
        (value, mode), grad = evaluate(jnp.asarray(x), state["u"])
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
    hessian = _hessian_of(lambda z: np.asarray(evaluate(jnp.asarray(z), state["u"])[1]), x)
    return _estimates(x, num_theta, hessian, state["u"], problem, blocks, entries, loglik, deviance, record)


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


def _problem(X, blocks, offset) -> _Problem:
    n = X.shape[0]
    cols, vals, start = [], [], 0
    for block in blocks:
        q = block.num_terms
        for j in range(q):
            cols.append(start + block.group_index * q + j)
            vals.append(block.Z[:, j])
        start += block.width
    lam_index = tuple((b.num_levels, b.num_terms) for b in blocks)
    return _Problem(jnp.asarray(X, float), jnp.zeros(n) if offset is None else jnp.asarray(offset, float),
                    jnp.asarray(np.stack(cols, axis=1)), jnp.asarray(np.stack(vals, axis=1), dtype=float),
                    lam_index, X.shape[1])


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


def _lambda(theta, blocks, entries) -> _Lambda:
    return _Lambda(block_factors(theta, entries, [b.num_terms for b in blocks]), tuple(blocks))


def _make_deviance(problem: _Problem, blocks, entries, loglik):
    num_theta = len(entries)
    Q = int(sum(b.width for b in blocks))

    def z_times(v):            # Z v for v in R^Q
        return jnp.sum(problem.vals * v[problem.cols], axis=1)

    def zt_times(r):           # Z' r for r in R^n
        return jnp.zeros(Q).at[problem.cols].add(problem.vals * r[:, None])

    def ztwz(w):               # Z' W Z, dense (Q, Q), from each row's products
        products = w[:, None, None] * problem.vals[:, :, None] * problem.vals[:, None, :]
        return jnp.zeros((Q, Q)).at[problem.cols[:, :, None], problem.cols[:, None, :]].add(products)

    def derivatives(eta):
        first = jax.grad(lambda e: jnp.sum(loglik(e)))
        return first(eta), -jax.grad(lambda e: jnp.sum(first(e)))(eta)

    def deviance(x, u0, steps):
        theta, beta = x[:num_theta], x[num_theta:]
        Lam = _lambda(theta, blocks, entries)
        fixed = problem.X @ beta + problem.offset

        def penalised(u):
            return jnp.sum(loglik(fixed + z_times(Lam.times(u)))) - 0.5 * u @ u

        def newton(u, _):
            eta = fixed + z_times(Lam.times(u))
            d1, w = derivatives(eta)
            A = Lam.sandwich(ztwz(w)) + jnp.eye(Q)
            step = jnp.linalg.solve(A, Lam.t_times(zt_times(d1)) - u)
            # damped: the best of a few step lengths (a full Newton step can overshoot with a log
            # link far from the mode); the choice is piecewise constant, so gradients pass through
            candidates = u[None, :] + STEP_LENGTHS[:, None] * step[None, :]
            values = jax.vmap(penalised)(candidates)
            values = jnp.where(jnp.isfinite(values), values, -jnp.inf)
            # the longest step within rounding of the best: at the mode all candidates tie, and the
            # full step is the one whose derivative carries d(mode)/d(theta, beta)
            best = jnp.argmax(values >= jnp.max(values) - 1e-10 * (1.0 + jnp.abs(jnp.max(values))))
            return candidates[best], None

        u, _ = jax.lax.scan(newton, u0, None, length=steps)
        eta = fixed + z_times(Lam.times(u))
        _, w = derivatives(eta)
        L = jnp.linalg.cholesky(Lam.sandwich(ztwz(w)) + jnp.eye(Q))
        value = -2.0 * jnp.sum(loglik(eta)) + u @ u + 2.0 * jnp.sum(jnp.log(jnp.diagonal(L)))
        return value, u, L

    return deviance


def _glm_start(problem: _Problem, loglik) -> np.ndarray:
    """beta of the GLM without random effects (Newton on beta), lme4's starting point in spirit."""
    def objective(beta):
        return -jnp.sum(loglik(problem.X @ beta + problem.offset))

    grad, hess = jax.jit(jax.grad(objective)), jax.jit(jax.hessian(objective))
    beta = jnp.zeros(problem.p)
    for _ in range(50):
        step = jnp.linalg.solve(hess(beta), grad(beta))
        beta = beta - step
        if float(jnp.max(jnp.abs(step))) < 1e-10:
            break
    return np.asarray(beta)


def _estimates(x, num_theta, hessian, u, problem, blocks, entries, loglik, deviance, record) -> GLMMOutput:
    theta, beta = x[:num_theta], x[num_theta:]
    value, u_hat, L = deviance(jnp.asarray(x), jnp.asarray(u), NEWTON_STEPS)
    cov = 2.0 * np.linalg.inv(hessian)
    Lam = _lambda(jnp.asarray(theta), blocks, entries)
    factors = [np.asarray(T) for T in Lam.Ts]
    b_all = np.asarray(Lam.times(u_hat))
    L_inv = np.linalg.inv(np.asarray(L))
    modes, start = [], 0
    for block in blocks:
        modes.append(b_all[start:start + block.width].reshape(block.num_levels, block.num_terms))
        start += block.width

    def variances():
        M = np.asarray(jax.vmap(Lam.times, in_axes=1, out_axes=1)(jnp.asarray(L_inv.T)))  # Lambda L^-T
        diag = np.sum(M**2, axis=1)                                                       # Var(b) = M M'

        out, s = [], 0
        for block in blocks:
            out.append(diag[s:s + block.width].reshape(block.num_levels, block.num_terms))
            s += block.width
        return out

    singular = tuple(t for t, (k, i, j) in enumerate(entries) if i == j and theta[t] < SINGULAR_BELOW)
    return GLMMOutput(theta, entries, beta, cov[num_theta:, num_theta:], factors, modes, variances,
                      -0.5 * float(value), record, singular, float(value))
