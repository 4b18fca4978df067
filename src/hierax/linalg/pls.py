"""Linear mixed models by penalised least squares and the profiled deviance (lme4's method).

Bates, Maechler, Bolker and Walker (2015), "Fitting linear mixed-effects models using lme4",
J. Stat. Softw. 67(1), section 3. The model is y = X beta + Z Lambda_theta u + e with
u ~ N(0, sigma^2 I) and e ~ N(0, sigma^2 I); Lambda_theta is block diagonal, one lower-triangular
q x q factor T_k per block repeated over its levels (diagonal for ``||`` blocks). At theta the
penalised least-squares problem min |y - X beta - Z Lambda u|^2 + |u|^2 is solved through the
Cholesky factor L of A = Lambda' Z'Z Lambda + I and R_X, and sigma and beta are profiled out:

    ML:    -2 log L(theta)   = log|L|^2 + n (1 + log(2 pi r2 / n))
    REML:  -2 log L_R(theta) = log|L|^2 + log|R_X|^2 + (n - p)(1 + log(2 pi r2 / (n - p)))

with r2 the penalised residual sum of squares.

Blocked, as in MixedModels.jl: the block with the most levels comes first, and its part of A is
block diagonal (one q x q block per level: a row belongs to one level), so its Cholesky factor is
per level. Everything else (the other blocks) is dense, of size Q2 = sum of their levels x
effects, and enters through the Schur complement

    S = Lambda_2' (C22 - C21 Lambda_1 A11^-1 Lambda_1' C12) Lambda_2 + I,

whose middle term is a sum over first-block levels of small outer products. Those products are
listed once (``SchurTerms``) and weighted at each theta, so one evaluation costs the per-level
work, a scatter-add, and one dense Cholesky of size Q2 (InstEval: 1,142, not 4,114). The
cross-products of [Z X y] are formed once, through a sparse Z; Z is never dense. The objective
is a pure float64 JAX function of theta (data as arguments, so a model of the same shape reuses
the compiled code). ``hierax.engines.profiled`` evaluates it, with its exact gradient written
out, during optimisation; ``factorise`` here gives the estimates at the optimum.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from jax.experimental import sparse as jsparse

_LOG_2PI = float(np.log(2.0 * np.pi))


class Shape(NamedTuple):
    """The static description of a model: block sizes (first block first) and the theta layout.

    ``entries`` are (block, row, column) of T_k in lme4's column-wise lower order, blocks in
    ``order`` (the user's order); ``order[0]`` is the first (largest) block.
    """

    levels: tuple
    terms: tuple
    entries: tuple
    order: tuple
    n: int
    p: int

    @property
    def num_theta(self) -> int:
        return len(self.entries)

    @property
    def rest_width(self) -> int:
        return int(sum(lv * q for lv, q in zip(self.levels[1:], self.terms[1:])))


class PLSData(NamedTuple):
    """All the data the objective needs, computed once (arrays; blocks in ``Shape`` order)."""

    D11: jax.Array        # (L1, q1, q1): per-level blocks of Z1'Z1
    schur: SchurTerms     # the products that make C21 Lambda_1 A11^-1 Lambda_1' C12
    C21: object           # BCOO (Q2, Q1)
    tail: jax.Array       # (Q2 + p + 1, Q2 + p + 1): cross-products of [Z2 X y]
    ZtR: jax.Array        # (Q, p + 1): Z'[X y]
    RtR: jax.Array        # (p + 1, p + 1): [X y]'[X y]


def theta_entries(blocks) -> tuple:
    entries = []
    for k, block in enumerate(blocks):
        q = block.num_terms
        if block.correlated:
            entries += [(k, i, j) for j in range(q) for i in range(j, q)]
        else:
            entries += [(k, j, j) for j in range(q)]
    return tuple(entries)


def theta_lower(entries) -> np.ndarray:
    """0 for diagonal entries (relative sds), -inf below the diagonal."""
    return np.array([0.0 if i == j else -np.inf for _, i, j in entries])


def theta_start(entries) -> np.ndarray:
    """lme4's start: identity factors (relative sds 1, no correlation)."""
    return np.array([1.0 if i == j else 0.0 for _, i, j in entries])


def shape_of(blocks, n: int, p: int) -> Shape:
    """The static description of a model with these blocks, n rows and p fixed effects: from
    sizes alone, no data read."""
    order = tuple(sorted(range(len(blocks)), key=lambda k: -blocks[k].width))
    return Shape(tuple(blocks[k].num_levels for k in order), tuple(blocks[k].num_terms for k in order),
                 theta_entries(blocks), order, n, p)


class CrossProducts(NamedTuple):
    """The cross-products of [Z X y] that every route needs, in NumPy and SciPy (blocks in
    ``Shape`` order)."""

    D11: np.ndarray          # (L1, q1, q1): per-level blocks of Z1'Z1
    C21: sp.csc_matrix       # (Q2, Q1): Z2'Z1
    tail: np.ndarray         # (Q2 + p + 1, Q2 + p + 1): cross-products of [Z2 X y]
    ZtR: np.ndarray          # (Q, p + 1): Z'[X y]
    RtR: np.ndarray          # (p + 1, p + 1): [X y]'[X y]


def cross_products(X: np.ndarray, y: np.ndarray, blocks) -> tuple[Shape, CrossProducts]:
    """Order the blocks (largest first) and form the cross-products of [Z X y], Z sparse."""
    shape = shape_of(blocks, len(y), X.shape[1])
    ordered = [blocks[k] for k in shape.order]
    first, n = ordered[0], len(y)
    q1, L1 = first.num_terms, first.num_levels
    Z = _sparse_z(ordered, n).tocsc()
    R = np.column_stack([X, y])
    Q1 = first.width
    Z1, Z2 = Z[:, :Q1], Z[:, Q1:]
    D11 = np.stack([np.stack([np.bincount(first.group_index, first.Z[:, i] * first.Z[:, j], minlength=L1)
                              for j in range(q1)], axis=-1) for i in range(q1)], axis=1)      # (L1, q1, q1)
    Z2R = Z2.T @ R
    tail = np.block([[(Z2.T @ Z2).toarray(), Z2R], [Z2R.T, R.T @ R]])
    return shape, CrossProducts(D11, (Z2.T @ Z1).tocsc(), tail, Z.T @ R, R.T @ R)


def prepare(X: np.ndarray, y: np.ndarray, blocks) -> tuple[Shape, PLSData]:
    """Order the blocks, form the cross-products and the list of first-block products."""
    shape, c = cross_products(X, y, blocks)
    return shape, listed(c, shape)


def listed(c: CrossProducts, shape: Shape) -> PLSData:
    """The cross-products as JAX arrays, with the first-block products listed."""
    return PLSData(jnp.asarray(c.D11), _schur_terms(c.C21, c.D11, shape.terms[0]),
                   jsparse.BCOO.from_scipy_sparse(c.C21.tocoo()), jnp.asarray(c.tail), jnp.asarray(c.ZtR),
                   jnp.asarray(c.RtR))


def schur_products(C21: sp.csc_matrix, q1: int) -> int:
    """How many first-block products ``_schur_terms`` would list before summing: for each level,
    its entries in C21 squared (q1 effects each). Ratings data make this huge (a user who rated
    1,000 items gives a million), which is when ``hierax.linalg.wide`` forms the products at each
    evaluation instead of listing them."""
    per_level = np.diff(C21.indptr).reshape(-1, q1).sum(axis=1)
    return int(np.sum(per_level.astype(np.int64) ** 2))


def _sparse_z(blocks, n: int) -> sp.csc_matrix:
    """Z (n, Q): block k's level l, effect j is column offset_k + l q_k + j."""
    rows, cols, vals, offset = [], [], [], 0
    for block in blocks:
        q = block.num_terms
        for j in range(q):
            rows.append(np.arange(n))
            cols.append(offset + block.group_index * q + j)
            vals.append(block.Z[:, j])
        offset += block.width
    return sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, offset))


class SchurTerms(NamedTuple):
    """The first-block products of C21 Lambda_1 A11^-1 Lambda_1' C12, summed where they can be.

    G = C21 blockdiag(M_l) C12 with M_l = T1 A11_l^-1 T1' is a sum over first-block levels l of
    products C21[a, (l, i)] M_l[i, j] C21[b, (l, j)]. Levels with the same D11 block (Z1'Z1 of
    the level: for an intercept, its number of rows) share M_l, so their products with the same
    target (a, b) and effects (i, j) are added once, here; and only the lower triangle (a >= b)
    is kept. InstEval: 3.56 million products become 1.06 million terms.
    """

    target: jax.Array      # a * Q2 + b, a >= b
    effect: jax.Array      # class * q1^2 + i * q1 + j
    value: jax.Array       # summed products
    mirror: jax.Array      # 2 below the diagonal, 1 on it: the weight of a term in the full G
    class_level: jax.Array  # a representative level of each class


def _schur_terms(C21: sp.csc_matrix, D11: np.ndarray, q1: int) -> SchurTerms:
    Q2, L1 = C21.shape[0], D11.shape[0]
    _, first, level_class = np.unique(D11.reshape(L1, -1), axis=0, return_index=True, return_inverse=True)
    level_class = level_class.ravel()
    lev, i, j = (x.ravel() for x in np.meshgrid(np.arange(L1), np.arange(q1), np.arange(q1), indexing="ij"))
    col_i, col_j = lev * q1 + i, lev * q1 + j
    nnz = np.diff(C21.indptr)
    k_i, k_j = nnz[col_i], nnz[col_j]
    counts = k_i * k_j
    combo = np.repeat(np.arange(len(counts)), counts)
    t = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    first_entry = C21.indptr[col_i][combo] + t // k_j[combo]
    second_entry = C21.indptr[col_j][combo] + t % k_j[combo]
    a, b = C21.indices[first_entry], C21.indices[second_entry]
    lower = a >= b
    value = (C21.data[first_entry] * C21.data[second_entry])[lower]
    effect = (level_class[lev] * q1 * q1 + i * q1 + j)[combo][lower]
    summed = sp.coo_matrix((value, (a[lower].astype(np.int64) * Q2 + b[lower], effect)),
                           shape=(Q2 * Q2, (level_class.max() + 1) * q1 * q1)).tocsr()
    summed.sum_duplicates()
    target = np.repeat(np.arange(Q2 * Q2), np.diff(summed.indptr))
    mirror = np.where(target // Q2 > target % Q2, 2.0, 1.0)
    return SchurTerms(jnp.asarray(target), jnp.asarray(summed.indices), jnp.asarray(summed.data),
                      jnp.asarray(mirror), jnp.asarray(first))


def schur_middle(M, terms: SchurTerms, Q2: int):
    """G = C21 Lambda_1 A11^-1 Lambda_1' C12 (Q2 x Q2) from M_l = T1 A11_l^-1 T1' (L1, q1, q1)."""
    per_effect = M[terms.class_level].reshape(-1)
    lower = jnp.zeros(Q2 * Q2).at[terms.target].add(terms.value * per_effect[terms.effect]).reshape(Q2, Q2)
    return lower + jnp.tril(lower, -1).T


def block_factors(theta, entries, terms) -> list:
    """The lower-triangular T_k of every block from theta, in the blocks' own order.

    ``terms[k]`` is block k's number of effects. A NumPy theta gives NumPy factors (no JAX
    dispatch, which costs a compilation per operation the first time); a JAX theta, traced or
    not, gives JAX factors.
    """
    if isinstance(theta, np.ndarray):
        Ts = [np.zeros((q, q)) for q in terms]
        for t, (k, i, j) in enumerate(entries):
            Ts[k][i, j] = theta[t]
        return Ts
    Ts = [jnp.zeros((q, q)) for q in terms]
    for t, (k, i, j) in enumerate(entries):
        Ts[k] = Ts[k].at[i, j].set(theta[t])
    return Ts


def factors(theta, shape: Shape) -> list:
    """The T_k in the first-block-first order that the factorisation uses."""
    Ts = block_factors(theta, shape.entries, user_terms(shape))
    return [Ts[k] for k in shape.order]


def user_terms(shape: Shape) -> list:
    """Number of effects of each block, in the user's order."""
    terms = {k: shape.terms[m] for m, k in enumerate(shape.order)}
    return [terms[k] for k in range(len(shape.order))]


class Factorisation(NamedTuple):
    """The pieces of L and R_X at theta, and the solution."""

    L11: jax.Array     # (L1, q1, q1)
    L22: jax.Array     # (Q2, Q2)
    RX: jax.Array      # (p, p), lower
    beta: jax.Array
    cu: jax.Array      # (Q,)
    RZX: jax.Array     # (Q, p)
    r2: jax.Array
    log_det_L: jax.Array
    log_det_RX: jax.Array


def factorise(theta, data: PLSData, shape: Shape) -> Factorisation:
    """Blocked Cholesky of Lambda'Z'Z Lambda + I and the penalised least-squares solution."""
    Ts = factors(theta, shape)
    T1, L1, q1, p = Ts[0], shape.levels[0], shape.terms[0], shape.p
    Q1 = L1 * q1
    A11 = jnp.einsum("ji,ljk,kc->lic", T1, data.D11, T1) + jnp.eye(q1)
    L11 = jnp.linalg.cholesky(A11)
    rhs = _lambda_t(data.ZtR, Ts, shape)                                   # Lambda' Z'[X y]
    r1 = rhs[:Q1].reshape(L1, q1, p + 1)
    c1 = jax.scipy.linalg.solve_triangular(L11, r1, lower=True)            # L11^-1 r1, per level
    log_det = 2.0 * jnp.sum(jnp.log(jnp.diagonal(L11, axis1=1, axis2=2)))
    if shape.rest_width:
        A11_inv_r1 = jax.scipy.linalg.solve_triangular(L11, c1, lower=True, trans=1)
        w1 = jnp.einsum("ij,ljp->lip", T1, A11_inv_r1).reshape(Q1, p + 1)  # Lambda_1 A11^-1 r1
        S = _schur(T1, A11, Ts, data, shape)
        L22 = jnp.linalg.cholesky(S)
        t = _lambda_t(data.C21 @ w1, Ts, shape, rest_only=True)
        c2 = jax.scipy.linalg.solve_triangular(L22, rhs[Q1:] - t, lower=True)
        log_det = log_det + 2.0 * jnp.sum(jnp.log(jnp.diagonal(L22)))
        c = jnp.concatenate([c1.reshape(Q1, p + 1), c2])
    else:
        L22 = jnp.zeros((0, 0))
        c = c1.reshape(Q1, p + 1)
    RZX, cu = c[:, :p], c[:, p]
    RX = jnp.linalg.cholesky(data.RtR[:p, :p] - RZX.T @ RZX)
    cbeta = jax.scipy.linalg.solve_triangular(RX, data.RtR[:p, p] - RZX.T @ cu, lower=True)
    beta = jax.scipy.linalg.solve_triangular(RX.T, cbeta, lower=False)
    r2 = data.RtR[p, p] - cu @ cu - cbeta @ cbeta
    return Factorisation(L11, L22, RX, beta, cu, RZX, r2, log_det, 2.0 * jnp.sum(jnp.log(jnp.diagonal(RX))))


def _lambda_t(M, Ts, shape: Shape, rest_only: bool = False):
    """Lambda' M for M with Q rows (or Q2 rows, the blocks after the first, if ``rest_only``)."""
    parts, start = [], 0
    blocks = range(1, len(Ts)) if rest_only else range(len(Ts))
    for k in blocks:
        L, q = shape.levels[k], shape.terms[k]
        part = M[start:start + L * q].reshape(L, q, -1)
        parts.append(jnp.einsum("aip,ic->acp", part, Ts[k]).reshape(L * q, -1))
        start += L * q
    return jnp.concatenate(parts, axis=0)


def _schur(T1, A11, Ts, data: PLSData, shape: Shape):
    """S = Lambda_2' (C22 - C21 Lambda_1 A11^-1 Lambda_1' C12) Lambda_2 + I."""
    M = jnp.einsum("ij,ljk,ck->lic", T1, jnp.linalg.inv(A11), T1)           # T1 A11_l^-1 T1'
    Q2 = shape.rest_width
    middle = data.tail[:Q2, :Q2] - schur_middle(M, data.schur, Q2)
    left = _lambda_t(middle, Ts, shape, rest_only=True)                      # Lambda_2' (.)
    both = _lambda_t(left.T, Ts, shape, rest_only=True)                      # (.) Lambda_2
    return both.T + jnp.eye(Q2)


def profiled_deviance(f: Factorisation, n: int, p: int, reml: bool):
    """-2 log likelihood (ML) or the REML criterion, sigma and beta profiled out."""
    if reml:
        dof = n - p
        return f.log_det_L + f.log_det_RX + dof * (1.0 + _LOG_2PI + jnp.log(f.r2 / dof))
    return f.log_det_L + n * (1.0 + _LOG_2PI + jnp.log(f.r2 / n))


@partial(jax.jit, static_argnames=("shape",))
def solution(theta, data: PLSData, shape: Shape):
    """The factorisation and the spherical effects u at theta, compiled as one call."""
    f = factorise(theta, data, shape)
    return f, spherical_effects(f, theta, data, shape)


def spherical_effects(f: Factorisation, theta, data: PLSData, shape: Shape):
    """u = L^-T (cu - RZX beta), by back-substitution through the blocks."""
    return back_substitute(f, f.cu - f.RZX @ f.beta, theta, data, shape)


def back_substitute(f: Factorisation, e, theta, data: PLSData, shape: Shape):
    """L^-T e (Q,) through the blocks of L."""
    Ts = factors(theta, shape)
    L1, q1 = shape.levels[0], shape.terms[0]
    Q1 = L1 * q1
    if shape.rest_width:
        u2 = jax.scipy.linalg.solve_triangular(f.L22.T, e[Q1:], lower=False)
        back = _lambda_t((data.C21.T @ _lambda(u2[:, None], Ts, shape))[:, 0][:, None], [Ts[0]], shape)[:, 0]
        e1 = e[:Q1].reshape(L1, q1) - jax.scipy.linalg.solve_triangular(f.L11, back.reshape(L1, q1, 1),
                                                                         lower=True)[..., 0]
    else:
        u2, e1 = jnp.zeros(0), e.reshape(L1, q1)
    u1 = jax.scipy.linalg.solve_triangular(f.L11, e1[..., None], lower=True, trans=1)[..., 0]
    return jnp.concatenate([u1.reshape(Q1), u2])


def _lambda(M, Ts, shape: Shape):
    """Lambda_2 M for M with Q2 rows (the blocks after the first)."""
    parts, start = [], 0
    for k in range(1, len(Ts)):
        L, q = shape.levels[k], shape.terms[k]
        part = M[start:start + L * q].reshape(L, q, -1)
        parts.append(jnp.einsum("ci,aip->acp", Ts[k], part).reshape(L * q, -1))
        start += L * q
    return jnp.concatenate(parts, axis=0)


def random_effects(u, theta, shape: Shape) -> list:
    """b = Lambda u per block, (levels, q), in the user's block order."""
    Ts = factors(theta, shape)
    out, start = {}, 0
    for m, k in enumerate(shape.order):
        L, q = shape.levels[m], shape.terms[m]
        out[k] = np.asarray(u[start:start + L * q]).reshape(L, q) @ np.asarray(Ts[m]).T
        start += L * q
    return [out[k] for k in range(len(shape.order))]


def conditional_variances(f: Factorisation, theta, sigma2: float, data: PLSData, shape: Shape) -> list:
    """Per block (user's order), (levels, q) conditional variances of b given y at the estimates:
    the diagonal of sigma^2 Lambda A^-1 Lambda' (lme4's condVar, beta taken as known).

    With A^-1's first block A11^-1 + V'V, V = L22^-1 A21 A11^-1, and the rest (L22 L22')^-1.
    Computed once, at the end (its cost, O(Q2^2 Q1), is beyond one evaluation's).
    """
    Ts = [np.asarray(T) for T in factors(theta, shape)]
    L1, q1 = shape.levels[0], shape.terms[0]
    L11 = np.asarray(f.L11)
    A11_inv = np.linalg.inv(L11 @ np.transpose(L11, (0, 2, 1)))                       # (L1, q1, q1)
    var_u1 = A11_inv.copy()
    out = {}
    if shape.rest_width:
        L22 = np.asarray(f.L22)
        C21 = np.asarray(data.C21.todense())
        lam2_t = np.asarray(_lambda_t(jnp.asarray(C21), [jnp.asarray(T) for T in Ts], shape, rest_only=True))
        A21 = (lam2_t.reshape(-1, L1, q1) @ Ts[0])                                    # Lambda_2' C21 Lambda_1
        A21_A11_inv = np.einsum("rli,lic->rlc", A21, A11_inv)
        V = np.linalg.solve(L22, A21_A11_inv.reshape(-1, L1 * q1)).reshape(-1, L1, q1)
        var_u1 = var_u1 + np.einsum("rli,rlj->lij", V, V)
        L22_inv = np.linalg.inv(L22)
        var_u2 = L22_inv.T @ L22_inv
        start = 0
        for m in range(1, len(shape.order)):
            L, q = shape.levels[m], shape.terms[m]
            block = var_u2[start:start + L * q, start:start + L * q]
            per_level = np.stack([block[l * q:(l + 1) * q, l * q:(l + 1) * q] for l in range(L)])
            out[shape.order[m]] = sigma2 * np.einsum("ci,lij,cj->lc", Ts[m], per_level, Ts[m])
            start += L * q
    out[shape.order[0]] = sigma2 * np.einsum("ci,lij,cj->lc", Ts[0], var_u1, Ts[0])
    return [out[k] for k in range(len(shape.order))]
