"""The Laplace engine's precision matrix in blocks: linear in the rows, dense only where it must be.

A = Lambda' Z' W Z Lambda + I is the Hessian (up to 2) of the penalised deviance in the spherical
effects u. As in ``hierax.linalg.pls`` (MixedModels.jl's scheme), the block with the most columns
comes first: a row belongs to one of its levels, so its part A11 is block diagonal, one q1 x q1
block per level. The other blocks' part A22 (Q2 = the sum of their levels x effects) is dense and
enters through the Schur complement

    S = A22 - A21 A11^-1 A12,     log|A| = sum_l log|A11_l| + log|S|,

so one factorisation costs the per-level work, a scatter-add and a dense Cholesky of size Q2:
bernoulli with 5,000 levels x 2 effects and one grouping factor has Q2 = 0; 5,000 observation-
level effects beside 50 sites, Q2 = 50.

Unlike REML's, W changes at every Newton step, so the products are formed from the rows each
time, by index sums prepared once (:func:`pattern_of`):

* ``V = Z Lambda`` row by row (row i's entries of block k are z_ik' T_k), so A needs no Lambda
  sandwich: A11_l = I + sum_{i in l} w_i v1_i v1_i';
* A12 is kept as one q1-vector per *pair* (first-block level l, other column c) that some row
  touches: B_p = sum over those rows of w_i v1_i v2_ic;
* S's products B_p' A11_l^-1 B_p' run over the pairs of pairs with one first-block level
  (``terms``), sum_l (pairs of l)^2 in all: 5,000 for the observation-level model above, 7,584
  for VerbAgg (316 subjects x 24 items).

Everything is JAX and differentiable (the log-determinant's gradient in x and u is what the
Laplace engine's implicit-function gradient needs): the per-level factors through batched small
Cholesky factorisations, S through :func:`spd_log_det`'s inverse.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hierax.engines.profiled import inverse_from_cholesky
from hierax.errors import ModelError
from hierax.linalg.small import backward_solve, forward_solve, small_cholesky

# S is dense: Q2^3 / 3 per factorisation and Q2^2 doubles. Above this many columns outside the
# first block (or this many Schur products) the engine refuses rather than run for many minutes.
MAX_DENSE_EFFECTS = 2500
MAX_SCHUR_TERMS = 20_000_000


class Layout(NamedTuple):
    """Static: which block comes first, and where each block's columns sit in u and in a row."""

    first: int              # the first block's index in the user's order
    rest: tuple             # the others, in the user's order
    offsets: tuple          # each block's start in u (user order)
    widths: tuple           # each block's levels x q
    row_slices: tuple       # each block's (start, stop) among a row's K entries
    terms: tuple            # each block's q
    L1: int
    Q2: int

    @property
    def q1(self) -> int:
        return self.terms[self.first]


class Pattern(NamedTuple):
    """The index sums, prepared once from the data (arrays: traced, not static)."""

    first_index: jax.Array   # (n,) each row's first-block level
    rest_cols: jax.Array     # (n, K2) each row's columns among the Q2 others
    pair: jax.Array          # (n, K2) the pair (first-block level, other column) of each entry
    pair_level: jax.Array    # (P,)
    pair_col: jax.Array      # (P,)
    term_first: jax.Array    # (T,) pairs of pairs with one first-block level
    term_second: jax.Array   # (T,)


class Factor(NamedTuple):
    """The blocked Cholesky factorisation of A."""

    L11: jax.Array           # (L1, q1, q1) per-level factors
    B: jax.Array             # (P, q1) A12 by pairs
    Y: jax.Array             # (P, q1) A11^-1 A12 by pairs
    LS: jax.Array            # (Q2, Q2) factor of the Schur complement


def layout_of(blocks) -> Layout:
    widths = tuple(int(b.num_levels * b.num_terms) for b in blocks)
    first = int(np.argmax(widths))
    terms = tuple(int(b.num_terms) for b in blocks)
    ends = np.cumsum(terms)
    rest = tuple(k for k in range(len(blocks)) if k != first)
    return Layout(first, rest, tuple(int(v) for v in np.cumsum((0,) + widths)[:-1]), widths,
                  tuple((int(e - q), int(e)) for e, q in zip(ends, terms)), terms, int(blocks[first].num_levels),
                  int(sum(widths[k] for k in rest)))


def pattern_of(blocks, layout: Layout) -> Pattern:
    """The pairs and the Schur products' index lists (NumPy, once per data set)."""
    n = len(blocks[0].group_index)
    g1 = np.asarray(blocks[layout.first].group_index, np.int64)
    cols, start = [], 0
    for k in layout.rest:
        q = layout.terms[k]
        cols += [start + np.asarray(blocks[k].group_index, np.int64) * q + t for t in range(q)]
        start += layout.widths[k]
    rest_cols = np.stack(cols, axis=1) if cols else np.zeros((n, 0), np.int64)
    keys = (g1[:, None] * max(layout.Q2, 1) + rest_cols).ravel()
    unique, pair = np.unique(keys, return_inverse=True)
    pair_level, pair_col = unique // max(layout.Q2, 1), unique % max(layout.Q2, 1)   # sorted by level
    counts = np.bincount(pair_level, minlength=layout.L1)
    starts = np.cumsum(counts) - counts
    sizes = counts.astype(np.int64) ** 2
    if sizes.sum() > MAX_SCHUR_TERMS:
        raise ModelError(f"method='laplace' would form {int(sizes.sum()):,} products for the crossed group terms "
                         f"(over {MAX_SCHUR_TERMS:,}); fit this model with method='nuts', or group by coarser factors")
    level = np.repeat(np.arange(layout.L1), sizes)
    t = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    m = np.maximum(counts[level], 1)
    term_first, term_second = starts[level] + t // m, starts[level] + t % m
    as_int = lambda a: jnp.asarray(np.asarray(a, np.int32))   # noqa: E731 - indices fit in 32 bits (checked by size)
    return Pattern(as_int(g1), as_int(rest_cols), as_int(pair.reshape(rest_cols.shape)), as_int(pair_level),
                   as_int(pair_col), as_int(term_first), as_int(term_second))


def check_size(blocks) -> None:
    """Refuse a model whose dense part (the blocks after the first) is too large."""
    layout = layout_of(blocks)
    if layout.Q2 > MAX_DENSE_EFFECTS:
        sizes = ", ".join(f"{blocks[k].num_levels} x {blocks[k].num_terms}" for k in layout.rest)
        raise ModelError(
            f"method='laplace' factors the {layout.Q2:,} group effects outside the largest grouping factor ({sizes}) "
            f"as one dense matrix, which takes many minutes above {MAX_DENSE_EFFECTS:,}; fit this model with "
            "method='nuts', or group by a coarser factor")


def row_values(vals, Ts, layout: Layout):
    """V = Z Lambda row by row: (n, K), block k's entries z_ik' T_k."""
    parts = [vals[:, a:b] @ T for (a, b), T in zip(layout.row_slices, Ts)]
    return jnp.concatenate(parts, axis=1)


def rows_times(V, v, cols):
    """sum_k V[i, k] v[cols[i, k]] per row i: a sparse matrix with rows (V, cols) times v.

    Column by column: XLA's CPU gather of whole (n, K) rows, and its transposed scatter, cost
    half again as much as K gathers of one column each (bernoulli, 100,000 rows, K = 2)."""
    total = V[:, 0] * v[cols[:, 0]]
    for k in range(1, cols.shape[1]):
        total = total + V[:, k] * v[cols[:, k]]
    return total


def level_outer_sums(w, V1, index, levels: int):
    """sum over each level's rows of w_i v_i v_i' (levels, q, q), one segment sum per entry of the
    lower triangle (the same sums of (n, q, q) products cost more on a CPU)."""
    q = V1.shape[1]
    entries = {(i, j): jax.ops.segment_sum(w * V1[:, i] * V1[:, j], index, levels) for i in range(q) for j in range(i + 1)}
    return jnp.stack([jnp.stack([entries[max(i, j), min(i, j)] for j in range(q)], axis=-1) for i in range(q)], axis=-2)


def _first_and_rest(V, layout: Layout):
    a, b = layout.row_slices[layout.first]
    rest = [V[:, slice(*layout.row_slices[k])] for k in layout.rest]
    return V[:, a:b], (jnp.concatenate(rest, axis=1) if rest else V[:, :0])


def factor(w, V, pattern: Pattern, layout: Layout) -> Factor:
    """The blocked factor of A = V' W V + I (V = Z Lambda), W = diag(w)."""
    return log_det(w, V, pattern, layout)[1]


def log_det(w, V, pattern: Pattern, layout: Layout):
    """log|A| (differentiable in w and V) and the blocked factor."""
    V1, V2 = _first_and_rest(V, layout)
    A11 = level_outer_sums(w, V1, pattern.first_index, layout.L1)
    L11 = _level_cholesky(A11 + jnp.eye(layout.q1))
    value = 2.0 * jnp.sum(jnp.log(jnp.diagonal(L11, axis1=1, axis2=2)))
    if layout.Q2 == 0:
        empty = jnp.zeros((0, layout.q1))
        return value, Factor(L11, empty, empty, jnp.zeros((0, 0)))
    S, B, Y = _schur(w, V1, V2, L11, pattern, layout)
    log_det_S, LS = spd_log_det(S)
    return value + log_det_S, Factor(L11, B, Y, LS)


def _schur(w, V1, V2, L11, pattern: Pattern, layout: Layout):
    """S = A22 - A21 A11^-1 A12, with A12 by pairs (B) and A11^-1 A12 (Y)."""
    q1, Q2 = layout.q1, layout.Q2
    entries = (w[:, None, None] * V2[:, :, None] * V1[:, None, :]).reshape(-1, q1)        # (n K2, q1)
    pairs = pattern.pair.reshape(-1)
    B = jnp.stack([jax.ops.segment_sum(entries[:, j], pairs, len(pattern.pair_level)) for j in range(q1)], axis=1)
    Y = _per_level_solve(L11[pattern.pair_level], B)
    A22 = jnp.zeros((Q2, Q2)).at[pattern.rest_cols[:, :, None], pattern.rest_cols[:, None, :]].add(
        w[:, None, None] * V2[:, :, None] * V2[:, None, :])
    products = jnp.sum(B[pattern.term_first] * Y[pattern.term_second], axis=1)
    S = A22 + jnp.eye(Q2) - jnp.zeros((Q2, Q2)).at[pattern.pair_col[pattern.term_first],
                                                     pattern.pair_col[pattern.term_second]].add(products)
    return S, B, Y


def solve(F: Factor, r, pattern: Pattern, layout: Layout):
    """A^-1 r for r in u's layout (user order), by block elimination."""
    r1, r2 = split(r, layout)
    y1 = _per_level_solve(F.L11, r1)
    if layout.Q2 == 0:
        return join(y1, r2, layout)
    t = r2 - jax.ops.segment_sum(jnp.sum(F.B * y1[pattern.pair_level], axis=1), pattern.pair_col, layout.Q2)
    d2 = jax.scipy.linalg.cho_solve((F.LS, True), t)
    back = jax.ops.segment_sum(F.B * d2[pattern.pair_col][:, None], pattern.pair_level, layout.L1)
    return join(_per_level_solve(F.L11, r1 - back), d2, layout)


def is_finite(F: Factor):
    """Whether the factorisation succeeded (A positive definite): no NaN on the factors' diagonals."""
    return jnp.all(jnp.isfinite(jnp.diagonal(F.L11, axis1=1, axis2=2))) & jnp.all(jnp.isfinite(jnp.diagonal(F.LS)))


def factor_defined(F: Factor) -> bool:
    """:func:`is_finite` of a factor on the host (NumPy arrays), without a JAX program."""
    return bool(np.all(np.isfinite(np.diagonal(np.asarray(F.L11), axis1=1, axis2=2)))
                and np.all(np.isfinite(np.diagonal(np.asarray(F.LS)))))


def split(u, layout: Layout):
    """u (user order) as the first block's (L1, q1) and the others' (Q2,)."""
    a = layout.offsets[layout.first]
    u1 = u[a:a + layout.widths[layout.first]].reshape(layout.L1, layout.q1)
    rest = [u[layout.offsets[k]:layout.offsets[k] + layout.widths[k]] for k in layout.rest]
    return u1, (jnp.concatenate(rest) if rest else u[:0])


def join(u1, u2, layout: Layout):
    """The inverse of :func:`split`."""
    parts, start = {layout.first: u1.reshape(-1)}, 0
    for k in layout.rest:
        parts[k] = u2[start:start + layout.widths[k]]
        start += layout.widths[k]
    return jnp.concatenate([parts[k] for k in range(len(layout.widths))])


def conditional_covariances(F: Factor, pattern: Pattern, layout: Layout) -> list:
    """Per block (user order), the (levels, q, q) blocks of A^-1 on the block's level diagonal
    (NumPy): the covariance of each level's u given the data, under the Laplace approximation.

    First block: A11_l^-1 + sum over pairs p, p' of l of Y_p Y_p'' (S^-1)_{c_p c_p'}; the others:
    S^-1's diagonal blocks."""
    inverse11 = _inverse_from_factors(np.asarray(F.L11))
    out = {layout.first: inverse11}
    if layout.Q2:
        S_inv = _inverse_from_factors(np.asarray(F.LS)[None])[0]
        Y = np.asarray(F.Y)
        first, second = np.asarray(pattern.term_first), np.asarray(pattern.term_second)
        col = np.asarray(pattern.pair_col)
        weights = S_inv[col[first], col[second]]
        outer = Y[first][:, :, None] * Y[second][:, None, :] * weights[:, None, None]
        levels = np.asarray(pattern.pair_level)[first]
        np.add.at(inverse11, levels, outer)
        start = 0
        for k in layout.rest:
            q, width = layout.terms[k], layout.widths[k]
            block = S_inv[start:start + width, start:start + width].reshape(width // q, q, width // q, q)
            out[k] = np.einsum("lilj->lij", block)
            start += width
    return [out[k] for k in range(len(layout.widths))]


def _inverse_from_factors(L: np.ndarray) -> np.ndarray:
    """(L L')^-1 for a stack of lower-triangular factors (..., m, m), in NumPy."""
    L_inv = np.linalg.inv(L)
    return np.swapaxes(L_inv, -1, -2) @ L_inv


def _level_cholesky(A):
    """Lower Cholesky factors of A (levels, q, q), entry by entry (``hierax.linalg.small``)."""
    q = A.shape[-1]
    R = small_cholesky([[A[:, i, j] for j in range(q)] for i in range(q)])
    return jnp.stack([jnp.stack(row, axis=-1) for row in R], axis=-2)


def _per_level_solve(L, b):
    """A_l^-1 b_l for each level's factor L_l (levels, q, q) and right-hand side b_l (levels, q)."""
    q = L.shape[-1]
    R = [[L[:, i, j] for j in range(q)] for i in range(q)]
    return jnp.stack(backward_solve(R, forward_solve(R, [b[:, i] for i in range(q)])), axis=-1)


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


def draw_offset(F: Factor, z, pattern: Pattern, layout: Layout):
    """M z for z ~ N(0, I) in u's layout, with M M' = A^-1: a draw from N(0, A^-1), the Laplace
    approximation's spread around the mode. The other blocks first, from their marginal
    N(0, S^-1) (d2 = LS'^-1 z2); then the first block given them, N(-A11^-1 A12 d2, A11^-1)
    level by level (d1 = L11'^-1 z1 - Y d2, Y = A11^-1 A12 by pairs). Since M' A M = I, the
    quadratic form (M z)' A (M z) is z'z."""
    z1, z2 = split(z, layout)
    q = layout.q1
    R = [[F.L11[:, i, j] for j in range(q)] for i in range(q)]
    d1 = jnp.stack(backward_solve(R, [z1[:, i] for i in range(q)]), axis=-1)
    if layout.Q2 == 0:
        return join(d1, z2, layout)
    d2 = jax.scipy.linalg.solve_triangular(F.LS, z2, lower=True, trans="T")
    d1 = d1 - jax.ops.segment_sum(F.Y * d2[pattern.pair_col][:, None], pattern.pair_level, layout.L1)
    return join(d1, d2, layout)
