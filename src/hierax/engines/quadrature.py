"""Adaptive Gauss-Hermite quadrature for a GLMM with one scalar grouping factor (lme4's nAGQ > 1).

With one grouping factor and one effect per level, the integral over the spherical effects
factorises over levels, each one-dimensional:

    p(y | x) = prod_l int exp(-g_l(u) / 2) du / sqrt(2 pi),
    g_l(u) = -2 sum_{i in l} log p(y_i | eta_i(u)) + u^2.

Centred at the level's conditional mode u^_l and scaled by s_l = a_l^-1/2, where a_l is A's entry
for the level (half the curvature of g_l at the mode), u = u^_l + s_l z turns each integral into
an expectation over z ~ N(0, 1), which K Gauss-Hermite nodes z_k with weights w_k (summing to 1)
approximate:

    -2 log p_l = g_l(u^_l) + log a_l - 2 log sum_k w_k exp(-(g_l(u^_l + s_l z_k) - g_l(u^_l)) / 2 + z_k^2 / 2).

With K = 1 (z = 0, w = 1) the last term vanishes and this is the Laplace approximation; the
quadrature is exact for a gaussian g_l and improves as K grows (Liu and Pierce 1994; lme4's
``nAGQ``, Bates et al. 2015, section 5.4 of the lme4 GLMM vignette). The Laplace engine adds the
last term, summed over levels, to its objective; its implicit-function gradient holds unchanged,
since the expansion point is still the mode of g.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

MAX_NODES = 100
# quadrature nodes evaluated together over the rows: one reduction along the levels' rows gives
# their per-level sums, and a chunk's (nodes, rows) arrays stay small
NODES_A_PASS = 7


@functools.lru_cache(maxsize=None)
def gauss_hermite(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and log weights for E[f(Z)], Z ~ N(0, 1): ``numpy``'s probabilists' Hermite rule
    (weight exp(-z^2 / 2)) with its weights divided by sqrt(2 pi), so that they sum to 1."""
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    return z, np.log(w / np.sqrt(2.0 * np.pi))


class Bucket(NamedTuple):
    """Levels of similar size, their rows laid out level by level: ``rows`` (levels, width) the
    rows' indices, ``real`` where a row is one (False in a short level's padding, which points at
    a row of the data: row 0 in :func:`level_rows`'s layout, the padding row itself in the
    one-factor kernel's, ``hierax.engines.laplace_one``), ``levels`` the bucket's levels."""

    rows: jax.Array
    real: jax.Array
    levels: jax.Array


class LevelRows(NamedTuple):
    """The rows of one grouping factor laid out level by level (:func:`level_rows`), for the
    quadrature's per-level sums: ``buckets`` (:class:`Bucket`) and ``order``, where each level's
    sum sits when the buckets' sums are put side by side."""

    buckets: tuple
    order: jax.Array


def level_rows(level, num_levels: int) -> LevelRows:
    """The layout of :class:`LevelRows` for rows in levels ``level`` (NumPy, once per data set).

    Why: the quadrature sums each node's log-likelihood over every level's rows. As a scatter-add
    over the rows, XLA's CPU backend computes the log-likelihood in a loop it does not vectorise,
    or writes it out first; summed along the last axis of a (levels, width) layout it is one
    vectorised reduction (the embedded Laplace's check at 100,000 rows in 5,000 levels, 49 nodes:
    42 to 30 ms a draw, its conditional mode included).
    Levels go into buckets by size, ladder steps 1, 2, 3, 4, 6, 8, 12, ... (powers of 2 and 1.5
    times them), each level padded to the largest level of its bucket: padding adds at most half
    the rows, and none where the levels are of one size (5,000 levels of 20 rows padded to the
    ladder's 24 cost a sixth more time for nothing)."""
    level = np.asarray(level, dtype=np.int64)
    counts = np.bincount(level, minlength=num_levels)
    by_level = np.argsort(level, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    widths = _widths(int(counts.max()) if len(counts) else 0)
    bucket_of = np.searchsorted(widths, counts)
    buckets, placed = [], []
    for b in range(len(widths)):
        levels = np.flatnonzero((bucket_of == b) & (counts > 0))
        if not len(levels):
            continue
        width = int(counts[levels].max())           # the ladder's step, or less where no level fills it
        offset = np.arange(width)[None, :]
        real = offset < counts[levels, None]
        rows = np.where(real, by_level[np.minimum(starts[levels, None] + offset, len(level) - 1)], 0)
        buckets.append(Bucket(jnp.asarray(rows.astype(np.int32)), jnp.asarray(real),
                              jnp.asarray(levels.astype(np.int32))))
        placed.append(levels)
    empty = np.flatnonzero(counts == 0)         # a level without rows sums to 0: placed after the buckets
    sequence = np.concatenate(placed + [empty]) if placed or len(empty) else np.zeros(0, np.int64)
    order = np.empty(num_levels, np.int64)
    order[sequence] = np.arange(num_levels)
    return LevelRows(tuple(buckets), jnp.asarray(order.astype(np.int32)))


def _widths(largest: int) -> list[int]:
    """The ladder's steps 1, 2, 3, 4, 6, 8, 12, 16, ..., up to the first at least ``largest``: a
    level goes into the bucket of the first step at least its size."""
    ladder, k = [1, 2], 1
    while ladder[-1] < largest:
        ladder += [3 * 2 ** (k - 1), 2 ** (k + 1)]
        k += 1
    return ladder[:next(i for i, w in enumerate(ladder) if w >= largest) + 1]


def correction(loglik, row_data, eta, shift_per_unit, u, a, rows: LevelRows, num_levels: int, nodes: int):
    """sum_l -2 log sum_k w_k exp(-(g_l(u^_l + s_l z_k) - g_l(u^_l)) / 2 + z_k^2 / 2).

    ``loglik(row_data, eta)``: the log-likelihood of each row at linear predictor ``eta`` (n,),
    given the rows' data ``row_data`` (a pytree of arrays with a leading row axis: the response,
    trials, ...); ``eta``: at the mode; ``shift_per_unit``: d eta_i / d u_l for each row (its Z
    Lambda value); ``u``, ``a``: each level's mode and A entry; ``rows``: the rows laid out by
    level (:func:`level_rows`).
    """
    ratios = log_ratios(loglik, row_data, eta, shift_per_unit[:, None], u[:, None], jnp.sqrt(a)[:, None, None], rows,
                        num_levels, nodes)
    return -2.0 * jnp.sum(ratios)


def log_ratios(loglik, row_data, eta, V, u, L, rows: LevelRows, num_levels: int, nodes: int):
    """Per level, log of p_l / p_l^Laplace by the tensor-product rule with ``nodes`` nodes per
    effect (``nodes`` ** q in all): log sum_k w_k exp(-(g_l(u^_l + L_l'^-1 z_k) - g_l(u^_l)) / 2
    + |z_k|^2 / 2), for q effects per level.

    ``V`` (n, q): d eta_i / d u_l (the rows' Z Lambda values); ``u`` (levels, q): the modes;
    ``L`` (levels, q, q): lower Cholesky factors of A's level blocks (A_l = L_l L_l'); the rest as
    in :func:`correction`. The quadrature runs over z = L_l' (u - u^_l), in which the Laplace
    approximation to the level's posterior is N(0, I).
    """
    q = u.shape[1]
    z1, log_w1 = gauss_hermite(nodes)
    grid = np.stack(np.meshgrid(*([z1] * q), indexing="ij"), axis=-1).reshape(-1, q)          # (K^q, q)
    log_w = np.sum(np.stack(np.meshgrid(*([log_w1] * q), indexing="ij"), axis=-1).reshape(-1, q), axis=1)
    L_inv_t = jnp.swapaxes(jnp.linalg.inv(L), -1, -2)          # (levels, q, q): z -> L'^-1 z
    laid = [_laid_out(bucket, row_data, eta, V) for bucket in rows.buckets]

    def penalised(offsets):
        return _penalised_at(loglik, laid, u, offsets, rows, num_levels)

    at_mode = penalised(jnp.zeros((1,) + u.shape))[0]
    count = len(grid)
    chunk = min(count, NODES_A_PASS)
    padded = np.concatenate([grid, np.zeros((-count % chunk, q))])          # whole chunks; the padding is dropped
    offsets = jnp.einsum("lij,kj->kli", L_inv_t, jnp.asarray(padded)).reshape(-1, chunk, num_levels, q)
    shifted = jax.lax.map(penalised, offsets).reshape(-1, num_levels)[:count]            # (K^q, levels)
    terms = (jnp.asarray(log_w)[:, None] - 0.5 * (shifted - at_mode[None, :])
             + 0.5 * jnp.sum(jnp.asarray(grid) ** 2, axis=1)[:, None])
    return jax.scipy.special.logsumexp(terms, axis=0)


def _laid_out(bucket: Bucket, row_data, eta, V):
    """A bucket's rows' data, eta and V's columns, each (levels, width, ...), and
    1.0 where a row is real (0.0 in padding), gathered once for every node.

    V is 0 in the padding, so that a padded entry's linear predictor stays row 0's eta at the mode
    (where its log-likelihood is finite) at every node: multiplied by 0.0 it adds nothing. (A
    ``where`` in the node's loop instead kept XLA from vectorising it: twice the time.)"""
    columns = tuple(jnp.where(bucket.real, V[:, k][bucket.rows], 0.0) for k in range(V.shape[1]))
    return (jax.tree_util.tree_map(lambda a: a[bucket.rows], row_data), eta[bucket.rows], columns,
            bucket.real.astype(eta.dtype))


def _penalised_at(loglik, laid, u, offsets, rows: LevelRows, num_levels: int):
    """g_l at u^_l + offset for each of several offsets (m, levels, q): (m, levels).

    Bucket by bucket (:func:`level_rows`), each row's linear predictor moved by its level's offset
    and the log-likelihood summed along the level's row axis; the offsets gathered to the bucket's
    levels are kept in memory first (XLA's CPU backend does not vectorise a loop that fuses a
    gather with log1p or exp: ``hierax.engines.laplace_one``)."""
    m, q = offsets.shape[0], offsets.shape[2]
    shifts = jax.lax.optimization_barrier(tuple(offsets[:, bucket.levels] for bucket in rows.buckets))
    sums = []
    for (data, eta, V, real), shift in zip(laid, shifts):
        moved = eta[None] + sum(V[k][None] * shift[:, :, k, None] for k in range(q))          # (m, levels, width)
        # loglik sees one level's rows (width,) at a time, as it would see all rows (n,): mapped over
        # the levels and the nodes, no reshape (reshaping to (m, n) made XLA's loop 1.5-3 times slower)
        values = jax.vmap(jax.vmap(loglik), in_axes=(None, 0))(data, moved)
        sums.append(jnp.sum(values * real, axis=-1))
    placed = sum(bucket.levels.shape[0] for bucket in rows.buckets)
    sums.append(jnp.zeros((m, num_levels - placed)))             # levels without rows (``level_rows``)
    return -2.0 * jnp.concatenate(sums, axis=1)[:, rows.order] + jnp.sum((u[None] + offsets) ** 2, axis=2)
