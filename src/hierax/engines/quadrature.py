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

import jax
import jax.numpy as jnp
import numpy as np

MAX_NODES = 100
# quadrature nodes evaluated together over the rows: their per-level sums go through one
# scatter-add, and a chunk's (nodes, rows) arrays stay small
NODES_A_PASS = 7


@functools.lru_cache(maxsize=None)
def gauss_hermite(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and log weights for E[f(Z)], Z ~ N(0, 1): ``numpy``'s probabilists' Hermite rule
    (weight exp(-z^2 / 2)) with its weights divided by sqrt(2 pi), so that they sum to 1."""
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    return z, np.log(w / np.sqrt(2.0 * np.pi))


def correction(rowwise_loglik, eta, shift_per_unit, u, a, level, num_levels: int, nodes: int):
    """sum_l -2 log sum_k w_k exp(-(g_l(u^_l + s_l z_k) - g_l(u^_l)) / 2 + z_k^2 / 2).

    ``rowwise_loglik(eta)``: the log-likelihood of each row at linear predictor ``eta`` (n,);
    ``eta``: at the mode; ``shift_per_unit``: d eta_i / d u_l for each row (its Z Lambda value);
    ``u``, ``a``: each level's mode and A entry; ``level``: each row's level.
    """
    ratios = log_ratios(rowwise_loglik, eta, shift_per_unit[:, None], u[:, None], jnp.sqrt(a)[:, None, None], level,
                        num_levels, nodes)
    return -2.0 * jnp.sum(ratios)


def log_ratios(rowwise_loglik, eta, V, u, L, level, num_levels: int, nodes: int):
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
    at_mode = _penalised_at(rowwise_loglik, eta, V, u, jnp.zeros((1,) + u.shape), level, num_levels)[0]
    count = len(grid)
    chunk = min(count, NODES_A_PASS)
    padded = np.concatenate([grid, np.zeros((-count % chunk, q))])          # whole chunks; the padding is dropped
    offsets = jnp.einsum("lij,kj->kli", L_inv_t, jnp.asarray(padded)).reshape(-1, chunk, num_levels, q)
    shifted = jax.lax.map(lambda part: _penalised_at(rowwise_loglik, eta, V, u, part, level, num_levels), offsets)
    shifted = shifted.reshape(-1, num_levels)[:count]                         # (K^q, levels)
    terms = (jnp.asarray(log_w)[:, None] - 0.5 * (shifted - at_mode[None, :])
             + 0.5 * jnp.sum(jnp.asarray(grid) ** 2, axis=1)[:, None])
    return jax.scipy.special.logsumexp(terms, axis=0)


def _penalised_at(rowwise_loglik, eta, V, u, offsets, level, num_levels: int):
    """g_l at u^_l + offset for each of several offsets (m, levels, q): (m, levels).

    Each offset's gathers by column are kept in memory before the likelihood reads them: XLA's
    CPU backend does not vectorise a loop that fuses a gather with log1p or exp
    (``hierax.engines.laplace_one``); the m rows of log-likelihoods are summed per level by one
    scatter-add."""
    m, q = offsets.shape[0], offsets.shape[2]
    gathered = jax.lax.optimization_barrier(tuple(tuple(offsets[j, :, k][level] for k in range(q)) for j in range(m)))
    rows = jnp.stack([eta + sum(V[:, k] * gathered[j][k] for k in range(q)) for j in range(m)])
    sums = jnp.zeros((m, num_levels)).at[:, level].add(jax.vmap(rowwise_loglik)(rows))
    return -2.0 * sums + jnp.sum((u[None] + offsets) ** 2, axis=2)
