"""The blocked factorisation of ``hierax.linalg.pls`` for ratings-sized crossed models, on the host.

``pls`` lists the first-block products of the Schur complement's middle term

    G = C21 blockdiag(M_l) C12,    M_l = T1 A11_l^-1 T1'    (C21 = Z2'Z1, Q2 x Q1)

once, and weights them at each evaluation. A first-block level with k entries in C21 gives k^2
products. In ratings data (users x items) a user who rated 1,000 items gives a million, and a
MovieLens-sized data set hundreds of millions: the list no longer fits in memory (ml-1m's shape:
7 GB). Here G is formed at each evaluation instead, from C21 itself, in two parts:

* **heavy levels** (many entries): their columns of C21 are held dense, and their part of G is a
  dense product by BLAS (``dsyrk``: Q2^2 / 2 multiply-adds a column, at BLAS speed);
* **light levels**: their columns stay sparse, and their products, about k^2 / 2 a level, are
  added into the dense result directly (``hierax.linalg.gram``; SciPy's sparse product where the
  first block has several effects).

A level is heavy when its k exceeds ``HEAVY_SHARE`` of Q2. One thread, on the synthetic data of
``benchmarks/ratings_data.py``, the middle term took (dense part + sparse part, seconds):

    share of Q2      all sparse   1/4          1/8          1/12         1/17
    ml-1m's shape    0.39         0.05 + 0.38  0.15 + 0.24  0.27 + 0.18  0.47 + 0.10
    ml-10m's shape   9.9          -            -            2.3 + 7.6    -

so 1/8; near it the time hardly changes. The split changes the speed, not the result.
Memory is C21 (its nonzeros) plus the dense columns plus a few Q2 x Q2 matrices.

Everything here runs on the host, in NumPy, SciPy and ``gram``'s one compiled loop: at these
sizes a dense Cholesky of Q2 x Q2 (ml-1m: 3,706) and the products dominate, and LAPACK and BLAS
run them as fast as XLA would, with no compilation. ``hierax.engines.profiled_wide`` builds the
objective and its gradient from these pieces; the model, the estimates and the answers are those
of ``pls``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from hierax.linalg import gram
from hierax.linalg.pls import CrossProducts, Factorisation, Shape, cross_products, factors

HEAVY_SHARE = 1.0 / 8.0      # a level with more than this share of Q2 entries in C21 is dense
PAIR_CHUNK = 20_000_000      # level pairs gathered at once by ``first_block_quadratic``


class Memo:
    """The last middle terms and the last evaluation's pieces, kept for reuse: a step in a theta
    entry of another block leaves the middle term as it was (finite differences for Newton's
    start Hessian, ``hierax.engines.lmm_newton``), and the estimates are taken at the point
    evaluated last. Two middle terms (M's and its derivative's) and one evaluation are kept."""

    def __init__(self):
        self.middles: dict = {}
        self.last: tuple | None = None      # (theta's bytes, Pieces)

    def middle(self, key: bytes, make):
        if key not in self.middles:
            if len(self.middles) >= 2:
                self.middles.pop(next(iter(self.middles)))
            self.middles[key] = make()
        return self.middles[key]


class WideData(NamedTuple):
    """The cross-products and C21 split into dense heavy and sparse light first-block levels,
    the later blocks' rows in ``order`` (``popularity_order``)."""

    cross: CrossProducts         # rows and columns of the later blocks in ``order``
    heavy: np.ndarray            # first-block levels held dense
    light: np.ndarray            # the others
    C21_heavy: np.ndarray        # (Q2, heavy levels x q1)
    C21_light: sp.csc_matrix     # (Q2, light levels x q1), row indices sorted
    light_starts: np.ndarray     # where each light column's entries in each row tile begin (``gram``)
    memo: Memo                   # reused results (not data: a fresh one per split)
    order: np.ndarray            # (Q2,): the later blocks' original row at each row held here


def prepare(X: np.ndarray, y: np.ndarray, blocks) -> tuple[Shape, WideData]:
    """Cross-products as ``pls.cross_products``, with C21's columns split by level weight."""
    shape, cross = cross_products(X, y, blocks)
    return shape, split(cross, shape)


def split(cross: CrossProducts, shape: Shape) -> WideData:
    q1, Q2 = shape.terms[0], shape.rest_width
    order = popularity_order(cross.C21, shape)
    cross = _reordered(cross, order, shape)
    entries = np.diff(cross.C21.indptr).reshape(-1, q1).max(axis=1)
    is_heavy = entries > HEAVY_SHARE * Q2
    heavy, light = np.flatnonzero(is_heavy), np.flatnonzero(~is_heavy)
    C21_light = gram.sorted_csc(cross.C21[:, _columns(light, q1)])
    return WideData(cross, heavy, light, cross.C21[:, _columns(heavy, q1)].toarray(), C21_light,
                    gram.tile_starts(C21_light), Memo(), order)


def popularity_order(C21: sp.csc_matrix, shape: Shape) -> np.ndarray:
    """The later blocks' rows, each block's levels by their number of first-block levels (the
    items by their raters), fewest first; a level's q rows stay together, blocks in place.

    Why: the gradient's quadratic forms ||L22^-1 c_l||^2 (``hierax.linalg.triangular``) cost,
    for each entry of c_l in row a, Q2 - a multiply-adds, and most entries are the popular
    items': held last, they cost least (on ml-1m's shape 6.5e8 against 1.25e9 in label order).
    The criterion, its gradient and the estimates do not depend on the order.
    """
    per_row = np.bincount(C21.indices, minlength=C21.shape[0])
    order, start = [], 0
    for L, q in zip(shape.levels[1:], shape.terms[1:]):
        levels = np.argsort(per_row[start:start + L * q].reshape(L, q).sum(axis=1), kind="stable")
        order.append(start + (levels[:, None] * q + np.arange(q)).ravel())
        start += L * q
    return np.concatenate(order) if order else np.zeros(0, np.int64)


def _reordered(cross: CrossProducts, order: np.ndarray, shape: Shape) -> CrossProducts:
    """The cross-products with the later blocks' rows (and columns) in ``order``."""
    Q1 = shape.levels[0] * shape.terms[0]
    tail_rows = np.concatenate([order, len(order) + np.arange(shape.p + 1)])
    return cross._replace(C21=sp.csc_matrix(cross.C21[order]), tail=cross.tail[np.ix_(tail_rows, tail_rows)],
                          ZtR=np.concatenate([cross.ZtR[:Q1], cross.ZtR[Q1:][order]]))


def _original(rows: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Rows held in ``order`` (the later blocks' part) back in the original order."""
    out = np.empty_like(rows)
    out[order] = rows
    return out


def _columns(levels: np.ndarray, q1: int) -> np.ndarray:
    return (levels[:, None] * q1 + np.arange(q1)).ravel()


def middle(weights: np.ndarray, data: WideData, positive: bool) -> np.ndarray:
    """C21 blockdiag(W_l) C12 (Q2 x Q2, dense, both triangles) for per-level symmetric W (L1, q1, q1).

    ``positive``: every W_l is positive semidefinite (M_l; for a scalar first block also its
    derivative), so the heavy part is F F' with F = C21 blockdiag(V_l), W_l = V_l V_l', by
    ``dsyrk`` at half a general product's cost. The result is shared (``Memo``): do not modify it.
    """
    key = np.asarray(weights, float).tobytes() + bytes([positive])
    return data.memo.middle(key, lambda: _middle(weights, data, positive))


def _middle(weights: np.ndarray, data: WideData, positive: bool) -> np.ndarray:
    q1 = weights.shape[1]
    heavy, Q2 = data.C21_heavy, data.C21_heavy.shape[0]
    if not len(data.heavy):
        G = np.zeros((Q2, Q2))
    elif positive:
        # F F' as (F')' F' with F' Fortran-ordered (no copy); LAPACK's upper triangle, transposed,
        # is the lower triangle of a C-ordered matrix, which ``gram`` adds to row by row
        F = _times_blocks(heavy, _roots(weights[data.heavy]))
        G = scipy.linalg.blas.dsyrk(1.0, F.T, trans=1, lower=0).T
    else:
        G = np.tril(_times_blocks(heavy, weights[data.heavy]) @ heavy.T)
    if len(data.light) and q1 == 1:
        gram.add_lower_gram(data.C21_light, weights[data.light, 0, 0], G, data.light_starts)
    elif len(data.light):
        blocks = sp.block_diag(list(weights[data.light]), format="csr")
        G += np.tril((data.C21_light @ blocks @ data.C21_light.T).toarray())
    return symmetrise(G)


def symmetrise(A: np.ndarray, tile: int = 512) -> np.ndarray:
    """Copy A's lower triangle onto its upper, in place, tile by tile (no full-size temporary)."""
    n = A.shape[0]
    for i in range(0, n, tile):
        block = A[i:i + tile, i:i + tile]
        upper = np.triu_indices(block.shape[0], 1)
        block[upper] = block.T[upper]
        for j in range(i + tile, n, tile):
            A[i:i + tile, j:j + tile] = A[j:j + tile, i:i + tile].T
    return A


def _roots(W: np.ndarray) -> np.ndarray:
    """V with V V' = W per level, for positive semidefinite W (eigenvalues clipped at 0)."""
    if W.shape[1] == 1:
        return np.sqrt(np.maximum(W, 0.0))
    values, vectors = np.linalg.eigh(W)
    return vectors * np.sqrt(np.maximum(values, 0.0))[:, None, :]


def _times_blocks(C: np.ndarray, W: np.ndarray) -> np.ndarray:
    """C blockdiag(W_l) for C with q1 columns a level, level-major."""
    H, q1 = W.shape[0], W.shape[1]
    if q1 == 1:
        return C * W[:, 0, 0][None, :]
    return np.einsum("ali,lij->alj", C.reshape(C.shape[0], H, q1), W).reshape(C.shape[0], H * q1)


class Pieces(NamedTuple):
    """What one evaluation builds: the first block's factors and the tail's matrices."""

    Ts: list
    A11_inv: np.ndarray     # (L1, q1, q1)
    L11: np.ndarray         # (L1, q1, q1)
    log_det_11: float
    R1: np.ndarray          # (L1, q1, p + 1): the first block's rows of Z'[X y]
    B: np.ndarray           # (m, m), m = Q2 + p + 1: C_TT - C_T1 blockdiag(M_l) C_1T
    scale: object           # Lambda~ = diag(Lambda_2, I): a vector when every other block is scalar
    L: np.ndarray           # (m, m) lower Cholesky factor of Lambda~' B Lambda~ + diag(I_Q2, 0)
    ok: bool                # False when that matrix was not positive definite


def pieces(theta: np.ndarray, data: WideData, shape: Shape) -> Pieces:
    """Eliminate the first block and factorise what is left (the tail); the last theta's pieces
    are reused (``Memo``)."""
    key = np.asarray(theta, float).tobytes()
    if data.memo.last is None or data.memo.last[0] != key:
        data.memo.last = (key, _pieces(theta, data, shape))
    return data.memo.last[1]


def _pieces(theta: np.ndarray, data: WideData, shape: Shape) -> Pieces:
    c = data.cross
    Ts = factors(np.asarray(theta, float), shape)
    T1, L1, q1, p, Q2 = Ts[0], shape.levels[0], shape.terms[0], shape.p, shape.rest_width
    A11 = np.einsum("ji,ljk,kc->lic", T1, c.D11, T1) + np.eye(q1)
    L11 = np.linalg.cholesky(A11)
    A11_inv = np.linalg.inv(A11)
    M = np.einsum("ij,ljk,ck->lic", T1, A11_inv, T1)
    R1 = c.ZtR[:L1 * q1].reshape(L1, q1, p + 1)
    MR1 = np.einsum("lij,ljp->lip", M, R1)
    B = c.tail.copy()
    B[Q2:, Q2:] -= np.einsum("lip,liq->pq", R1, MR1)
    cross = c.C21 @ MR1.reshape(L1 * q1, p + 1)
    B[:Q2, :Q2] -= middle(M, data, positive=True)
    B[:Q2, Q2:] -= cross
    B[Q2:, :Q2] -= cross.T
    scale = rest_scale(Ts, shape)
    S = scale_both(B, scale, Ts, shape)
    S.flat[:Q2 * (S.shape[0] + 1):S.shape[0] + 1] += 1.0
    # S is symmetric, so S.T is S in Fortran order: LAPACK factorises it in place, with no copy
    # (110 MB on ml-1m's shape); the upper triangle is left as it was (LAPACK reads and writes
    # the lower one only)
    L, info = scipy.linalg.lapack.dpotrf(S.T, lower=1, overwrite_a=1, clean=0)
    return Pieces(Ts, A11_inv, L11, float(2.0 * np.sum(np.log(np.diagonal(L11, axis1=1, axis2=2)))),
                  R1, B, scale, L, info == 0)


def rest_scale(Ts, shape: Shape):
    """Lambda~'s diagonal when every block after the first is scalar, else None."""
    if all(q == 1 for q in shape.terms[1:]):
        parts = [np.full(L, T[0, 0]) for L, T in zip(shape.levels[1:], Ts[1:])]
        return np.concatenate(parts + [np.ones(shape.p + 1)])
    return None


def scale_left(A: np.ndarray, scale, Ts, shape: Shape, transpose: bool) -> np.ndarray:
    """Lambda~' A (transpose) or Lambda~ A."""
    if scale is not None:
        return scale[:, None] * A
    out, start = A.copy(), 0
    for k in range(1, len(Ts)):
        L, q = shape.levels[k], shape.terms[k]
        part = A[start:start + L * q].reshape(L, q, -1)
        T = Ts[k].T if transpose else Ts[k]
        out[start:start + L * q] = np.einsum("ci,aip->acp", T, part).reshape(L * q, -1)
        start += L * q
    return out


def scale_both(A: np.ndarray, scale, Ts, shape: Shape) -> np.ndarray:
    """Lambda~' A Lambda~."""
    if scale is not None:
        out = np.multiply(A, scale[:, None])
        out *= scale[None, :]
        return out
    return scale_left(scale_left(A, scale, Ts, shape, True).T, scale, Ts, shape, True).T


def factorisation(theta: np.ndarray, data: WideData, shape: Shape) -> tuple[Factorisation, np.ndarray]:
    """``pls.solution`` on the host: the factorisation's pieces in ``pls``'s layout and the
    spherical effects u at theta."""
    P = pieces(theta, data, shape)
    if not P.ok:
        raise np.linalg.LinAlgError("the tail of Lambda'Z'Z Lambda + I is not positive definite at theta")
    Q2, p, L1, q1 = shape.rest_width, shape.p, shape.levels[0], shape.terms[0]
    L = np.tril(P.L)
    c1 = np.linalg.solve(P.L11, np.einsum("ic,lip->lcp", P.Ts[0], P.R1))       # L11^-1 T1' r1, per level
    RX, cbeta, r = L[Q2:Q2 + p, Q2:Q2 + p], L[Q2 + p, Q2:Q2 + p], L[-1, -1]
    beta = scipy.linalg.solve_triangular(RX.T, cbeta, lower=False)
    c1 = c1.reshape(L1 * q1, p + 1)
    RZX = np.concatenate([c1[:, :p], L[Q2:Q2 + p, :Q2].T])
    cu = np.concatenate([c1[:, p], L[-1, :Q2]])
    log_det = P.log_det_11 + 2.0 * np.sum(np.log(np.diagonal(L)[:Q2]))
    f = Factorisation(P.L11, L[:Q2, :Q2], RX, beta, cu, RZX, r * r, log_det, 2.0 * np.sum(np.log(np.diag(RX))))
    u = back_substitute(f, cu - RZX @ beta, P, data, shape)
    # u in the user's order; the factor's pieces (L22, cu, RZX) are of the rows as held here
    # (``popularity_order``): a Cholesky factor depends on the order, its products do not
    return f, _user_order(u, data, shape)


def _user_order(rows: np.ndarray, data: WideData, shape: Shape) -> np.ndarray:
    """Rows over [first block, later blocks] with the later blocks' part back in the user's order."""
    Q1 = shape.levels[0] * shape.terms[0]
    return np.concatenate([rows[:Q1], _original(rows[Q1:], data.order)])


def back_substitute(f: Factorisation, e: np.ndarray, P: Pieces, data: WideData, shape: Shape) -> np.ndarray:
    """L^-T e through the blocks (``pls.back_substitute``)."""
    Q2, L1, q1 = shape.rest_width, shape.levels[0], shape.terms[0]
    Q1 = L1 * q1
    u2 = scipy.linalg.solve_triangular(f.L22, e[Q1:], lower=True, trans=1)
    lam_u2 = scale_left(np.concatenate([u2, np.zeros(shape.p + 1)])[:, None], P.scale, P.Ts, shape,
                        transpose=False)[:Q2, 0]
    back = np.einsum("ic,li->lc", P.Ts[0], (data.cross.C21.T @ lam_u2).reshape(L1, q1))     # Lambda_1' C12 Lambda_2 u2
    e1 = e[:Q1].reshape(L1, q1) - np.linalg.solve(P.L11, back[..., None])[..., 0]
    u1 = np.linalg.solve(np.swapaxes(P.L11, 1, 2), e1[..., None])[..., 0]
    return np.concatenate([u1.reshape(Q1), u2])


def conditional_variances(f: Factorisation, theta, sigma2: float, data: WideData, shape: Shape) -> list:
    """``pls.conditional_variances`` without C21 dense: the first block's
    A11_l^-1 A12_l S22^-1 A21_l A11_l^-1 by gathering S22^-1 at each level's pairs of entries."""
    Ts = factors(np.asarray(theta, float), shape)
    L1, q1, Q2 = shape.levels[0], shape.terms[0], shape.rest_width
    S22_inv = _inverse(f.L22)
    A11_inv = np.linalg.inv(f.L11 @ np.swapaxes(f.L11, 1, 2))
    scale = rest_scale(Ts, shape)
    tilde = scale_left(scale_left(S22_inv, None if scale is None else scale[:Q2], Ts, shape, False).T,
                       None if scale is None else scale[:Q2], Ts, shape, False).T           # Lambda_2 S22^-1 Lambda_2'
    if q1 == 1:                                                                            # C12_l (.) C21_l
        C21 = gram.sorted_csc(data.cross.C21)
        quad = gram.quadratic_forms(C21, tilde, gram.tile_starts(C21))[:, None, None]
    else:
        quad = first_block_quadratic(tilde, data.cross.C21, L1, q1)
    inner = np.einsum("ji,ljk,kc->lic", Ts[0], quad, Ts[0])
    var_u1 = A11_inv + A11_inv @ inner @ A11_inv
    out, start = {shape.order[0]: sigma2 * np.einsum("ci,lij,cj->lc", Ts[0], var_u1, Ts[0])}, 0
    for m in range(1, len(shape.order)):
        L, q = shape.levels[m], shape.terms[m]
        idx = start + np.arange(L * q).reshape(L, q)
        per_level = S22_inv[idx[:, :, None], idx[:, None, :]]
        held = sigma2 * np.einsum("ci,lij,cj->lc", Ts[m], per_level, Ts[m])
        out[shape.order[m]] = _original(held, (data.order[start:start + L * q:q] - start) // q)
        start += L * q
    return [out[k] for k in range(len(shape.order))]


def _inverse(L: np.ndarray) -> np.ndarray:
    """(L L')^-1, both triangles, from the lower factor L (its upper triangle is not read)."""
    inverse, info = scipy.linalg.lapack.dpotri(L, lower=1)
    return symmetrise(inverse)


def first_block_quadratic(P: np.ndarray, C21: sp.csc_matrix, L1: int, q1: int) -> np.ndarray:
    """Per first-block level l, C21_l' P C21_l (q1 x q1), gathering P at the level's pairs of
    entries in chunks of levels (at most ``PAIR_CHUNK`` pairs at once)."""
    out = np.zeros((L1, q1, q1))
    pairs = np.cumsum(np.diff(C21.indptr).reshape(L1, q1).sum(axis=1).astype(np.int64) ** 2)
    start = 0
    while start < L1:
        done = pairs[start - 1] if start else 0
        stop = max(int(np.searchsorted(pairs, done + PAIR_CHUNK, side="right")), start + 1)
        levels = np.arange(start, stop) * q1
        for i in range(q1):
            for j in range(q1):
                out[start:stop, i, j] = _pair_sums(P, C21, levels + i, levels + j)
        start = stop
    return out


def _pair_sums(P, C21, cols_i, cols_j):
    """sum_{a, b} C21[a, i] P[a, b] C21[b, j] for each pair of columns (i, j) given."""
    k_i, k_j = np.diff(C21.indptr)[cols_i], np.diff(C21.indptr)[cols_j]
    counts = k_i * k_j
    which = np.repeat(np.arange(len(counts)), counts)
    t = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    first = C21.indptr[cols_i][which] + t // np.maximum(k_j[which], 1)
    second = C21.indptr[cols_j][which] + t % np.maximum(k_j[which], 1)
    values = C21.data[first] * C21.data[second] * P[C21.indices[first], C21.indices[second]]
    return np.bincount(which, values, minlength=len(counts))
