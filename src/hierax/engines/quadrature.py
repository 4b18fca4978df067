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
    z, log_w = gauss_hermite(nodes)
    s = 1.0 / jnp.sqrt(a)

    def g(eta_k, u_k):
        return -2.0 * jax.ops.segment_sum(rowwise_loglik(eta_k), level, num_levels) + u_k ** 2

    at_mode = g(eta, u)
    shifted = jax.vmap(lambda zk: g(eta + shift_per_unit * (s * zk)[level], u + s * zk))(jnp.asarray(z))  # (K, L)
    terms = jnp.asarray(log_w)[:, None] - 0.5 * (shifted - at_mode[None, :]) + 0.5 * jnp.asarray(z)[:, None] ** 2
    return -2.0 * jnp.sum(jax.scipy.special.logsumexp(terms, axis=0))
