"""Linear mixed models by penalised least squares and the profiled deviance (lme4's method).

Bates, Maechler, Bolker and Walker (2015), "Fitting linear mixed-effects models using lme4",
J. Stat. Softw. 67(1), section 3. The model is y = X beta + Z Lambda_theta u + e with
u ~ N(0, sigma^2 I) and e ~ N(0, sigma^2 I); Lambda_theta is block diagonal, one lower-triangular
q x q factor T_k per block repeated over its levels (diagonal for ``||`` blocks). For a given
theta the penalised least-squares problem

    min over (u, beta) of  |y - X beta - Z Lambda u|^2 + |u|^2

is solved through the Cholesky factor L of Lambda' Z'Z Lambda + I and R_X (from X'X minus
what the random effects explain), and sigma and beta are profiled out:

    ML:    -2 log L(theta)  = log|L|^2 + n (1 + log(2 pi r2 / n))
    REML:  -2 log L_R(theta) = log|L|^2 + log|R_X|^2 + (n - p)(1 + log(2 pi r2 / (n - p)))

with r2 the penalised residual sum of squares. The cross-products of [Z X y] are formed once
(from the per-level blocks, through a sparse Z; never a dense one); each evaluation then costs one
Cholesky of a Q x Q matrix (Q = sum of levels x effects). The objective is a pure float64 JAX
function of theta, so its gradient is exact.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

_LOG_2PI = float(np.log(2.0 * np.pi))


class Block(NamedTuple):
    """One random-effects block as the engine sees it: per-row effect values and level index."""

    Z: np.ndarray            # (n, q)
    group_index: np.ndarray  # (n,)
    num_levels: int
    correlated: bool

    @property
    def num_terms(self) -> int:
        return self.Z.shape[1]

    @property
    def width(self) -> int:
        return self.num_levels * self.num_terms


class CrossProducts(NamedTuple):
    """Z'Z (Q, Q), Z'X (Q, p), Z'y (Q,), X'X, X'y, y'y and n: all the data the objective needs."""

    ZtZ: np.ndarray
    ZtX: np.ndarray
    Zty: np.ndarray
    XtX: np.ndarray
    Xty: np.ndarray
    yty: float
    n: int


def sparse_z(blocks, n: int) -> sp.csc_matrix:
    """Z (n, Q) in sparse form; block k's level l, effect j is column offset_k + l q_k + j."""
    rows, cols, vals, offset = [], [], [], 0
    for block in blocks:
        q = block.num_terms
        for j in range(q):
            rows.append(np.arange(n))
            cols.append(offset + block.group_index * q + j)
            vals.append(block.Z[:, j])
        offset += block.width
    return sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, offset))


def cross_products(X: np.ndarray, y: np.ndarray, blocks) -> CrossProducts:
    Z = sparse_z(blocks, len(y))
    return CrossProducts(np.asarray((Z.T @ Z).todense()), np.asarray(Z.T @ X), np.asarray(Z.T @ y),
                         X.T @ X, X.T @ y, float(y @ y), len(y))


class ThetaLayout(NamedTuple):
    """Where each theta lives: (block, row, column) of T_k, lme4's column-wise lower order."""

    entries: tuple
    lower: np.ndarray  # 0 for diagonal entries, -inf below the diagonal

    @property
    def size(self) -> int:
        return len(self.entries)


def theta_layout(blocks) -> ThetaLayout:
    entries = []
    for k, block in enumerate(blocks):
        q = block.num_terms
        if block.correlated:
            entries += [(k, i, j) for j in range(q) for i in range(j, q)]
        else:
            entries += [(k, j, j) for j in range(q)]
    lower = np.array([0.0 if i == j else -np.inf for _, i, j in entries])
    return ThetaLayout(tuple(entries), lower)


def theta_start(layout: ThetaLayout) -> np.ndarray:
    """lme4's start: identity factors (relative sds 1, no correlation)."""
    return np.array([1.0 if i == j else 0.0 for _, i, j in layout.entries])


def factors(theta, blocks, layout: ThetaLayout) -> list:
    """The lower-triangular T_k of every block from theta."""
    Ts = [jnp.zeros((b.num_terms, b.num_terms)) for b in blocks]
    for t, (k, i, j) in enumerate(layout.entries):
        Ts[k] = Ts[k].at[i, j].set(theta[t])
    return Ts


class PLSSolution(NamedTuple):
    """Everything that follows from theta: coefficients, factors, and the pieces of the deviance."""

    beta: jax.Array
    u: jax.Array
    r2: jax.Array
    log_det_L: jax.Array     # log |L|^2
    log_det_RX: jax.Array    # log |R_X|^2
    L: jax.Array
    RX: jax.Array


def solve_pls(theta, cp: CrossProducts, blocks, layout: ThetaLayout) -> PLSSolution:
    """Solve the penalised least-squares problem at theta."""
    Ts = factors(theta, blocks, layout)
    offsets = np.cumsum([0] + [b.width for b in blocks])
    A = _scaled_ztz(jnp.asarray(cp.ZtZ), Ts, blocks, offsets) + jnp.eye(int(offsets[-1]))
    lam_ztx = _scale_rows(jnp.asarray(cp.ZtX), Ts, blocks, offsets)
    lam_zty = _scale_rows(jnp.asarray(cp.Zty)[:, None], Ts, blocks, offsets)[:, 0]
    L = jnp.linalg.cholesky(A)
    RZX = jax.scipy.linalg.solve_triangular(L, lam_ztx, lower=True)
    cu = jax.scipy.linalg.solve_triangular(L, lam_zty, lower=True)
    RX = jnp.linalg.cholesky(jnp.asarray(cp.XtX) - RZX.T @ RZX)          # lower: R_X' in lme4's terms
    cbeta = jax.scipy.linalg.solve_triangular(RX, jnp.asarray(cp.Xty) - RZX.T @ cu, lower=True)
    beta = jax.scipy.linalg.solve_triangular(RX.T, cbeta, lower=False)
    u = jax.scipy.linalg.solve_triangular(L.T, cu - RZX @ beta, lower=False)
    r2 = cp.yty - cu @ cu - cbeta @ cbeta
    return PLSSolution(beta, u, r2, 2.0 * jnp.sum(jnp.log(jnp.diagonal(L))),
                       2.0 * jnp.sum(jnp.log(jnp.diagonal(RX))), L, RX)


def _scaled_ztz(ZtZ, Ts, blocks, offsets):
    """Lambda' Z'Z Lambda, block pair by block pair, without forming Lambda."""
    rows = []
    for a, (block_a, T_a) in enumerate(zip(blocks, Ts)):
        cols = []
        for b, (block_b, T_b) in enumerate(zip(blocks, Ts)):
            M = ZtZ[offsets[a]:offsets[a + 1], offsets[b]:offsets[b + 1]]
            M = M.reshape(block_a.num_levels, block_a.num_terms, block_b.num_levels, block_b.num_terms)
            scaled = jnp.einsum("aibj,ic,jd->acbd", M, T_a, T_b)
            cols.append(scaled.reshape(block_a.width, block_b.width))
        rows.append(jnp.concatenate(cols, axis=1))
    return jnp.concatenate(rows, axis=0)


def _scale_rows(M, Ts, blocks, offsets):
    """Lambda' M for M with Q rows."""
    parts = []
    for a, (block, T) in enumerate(zip(blocks, Ts)):
        part = M[offsets[a]:offsets[a + 1]].reshape(block.num_levels, block.num_terms, -1)
        parts.append(jnp.einsum("aip,ic->acp", part, T).reshape(block.width, -1))
    return jnp.concatenate(parts, axis=0)


def profiled_deviance(solution: PLSSolution, n: int, p: int, reml: bool):
    """-2 log likelihood (ML) or the REML criterion, sigma and beta profiled out."""
    if reml:
        dof = n - p
        return solution.log_det_L + solution.log_det_RX + dof * (1.0 + _LOG_2PI + jnp.log(solution.r2 / dof))
    return solution.log_det_L + n * (1.0 + _LOG_2PI + jnp.log(solution.r2 / n))


def make_objective(cp: CrossProducts, blocks, layout: ThetaLayout, reml: bool):
    """``objective(theta) -> scalar`` (jit-compiled, float64), to minimise over theta."""
    p = cp.XtX.shape[0]

    @jax.jit
    def objective(theta):
        return profiled_deviance(solve_pls(theta, cp, blocks, layout), cp.n, p, reml)

    return objective


def unscaled_random_effects(solution: PLSSolution, theta, blocks, layout) -> list:
    """b = Lambda u per block, (levels, q)."""
    Ts = factors(theta, blocks, layout)
    offsets = np.cumsum([0] + [b.width for b in blocks])
    out = []
    for a, (block, T) in enumerate(zip(blocks, Ts)):
        u = solution.u[offsets[a]:offsets[a + 1]].reshape(block.num_levels, block.num_terms)
        out.append(u @ T.T)
    return out


def conditional_variances(solution: PLSSolution, theta, sigma2, blocks, layout) -> list:
    """Per block, (levels, q) conditional variances of b given y at the estimates:
    diag of sigma^2 Lambda (Lambda'Z'Z Lambda + I)^-1 Lambda' (lme4's condVar, beta taken as known)."""
    Ts = factors(theta, blocks, layout)
    offsets = np.cumsum([0] + [b.width for b in blocks])
    L_inv = jax.scipy.linalg.solve_triangular(solution.L, jnp.eye(solution.L.shape[0]), lower=True)
    out = []
    for a, (block, T) in enumerate(zip(blocks, Ts)):
        rows = L_inv[:, offsets[a]:offsets[a + 1]].reshape(-1, block.num_levels, block.num_terms)
        # columns of A^-1 restricted to the block: A^-1 = L^-T L^-1; Lambda acts within each level
        scaled = jnp.einsum("rai,ci->rac", rows, T)      # (Q, levels, q): L^-1 Lambda' columns
        out.append(sigma2 * jnp.sum(scaled**2, axis=0))
    return out
