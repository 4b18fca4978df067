"""Gaussian models with several grouping factors, the group effects integrated out exactly through
the blocked Cholesky factor of the REML engine (``hierax.linalg.pls``).

With crossed or nested factors the levels no longer split the rows, and the per-level algebra of
``hierax.density.collapsed`` does not apply; the penalised least-squares factorisation of lme4
(Bates, Maechler, Bolker and Walker 2015, section 3) does. Write b = Lambda_theta u with
Lambda_theta = blockdiag(T_k), T_k = diag(sd_k) L_k / sigma (the relative covariance factor),
u ~ N(0, sigma^2 I), and L_theta the Cholesky factor of Lambda'Z'WZ Lambda + I. Then, with
beta_theta, R_X and r2_theta the penalised least-squares solution, its fixed-effects factor and
its minimum penalised residual sum of squares at theta (W the row weights),

    log p(y | beta, theta, sigma) = -n/2 log(2 pi sigma^2) - 1/2 log|L_theta|^2
                                    - (r2_theta + |R_X' (beta - beta_theta)|^2) / (2 sigma^2),

since the penalised residual sum of squares at beta exceeds its minimum by that quadratic form.
One evaluation costs the engine's: per-level work on the largest factor, and one dense Cholesky
of the others' effects. The effects are drawn afterwards from their exact conditional,

    u | y, beta, theta, sigma = L_theta^-T (c_u - R_ZX beta + sigma eps),   eps ~ N(0, I),

which has mean A^-1 Lambda'Z'W(y - X beta) and covariance sigma^2 A^-1, A = L_theta L_theta'.
"""

from __future__ import annotations

import dataclasses

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hierax.linalg import pls
from hierax.model.spec import ModelSpec
from hierax.model.layout import RESIDUAL_SD, PARAMS

_LOG_2PI = float(np.log(2.0 * np.pi))


class BlockedStats(NamedTuple):
    """The engine's cross-products of the (weighted) data, and the number of rows kept."""

    data: pls.PLSData
    n: jax.Array


def engine_blocks(spec: ModelSpec, weight: np.ndarray | None = None) -> list:
    """The spec's blocks as the engine sees them (user's order), rows scaled by sqrt(weight)."""
    scale = np.ones(spec.num_obs) if weight is None else np.sqrt(np.asarray(weight, dtype=float))
    return [dataclasses.replace(b, Z=b.Z * scale[:, None]) for b in spec.blocks]


def blocked_shape(spec: ModelSpec) -> pls.Shape:
    """The static shape of the factorisation (hashable; part of the sampler's structure)."""
    return pls.shape_of(engine_blocks(spec), spec.num_obs, spec.X.shape[1])


def blocked_stats(spec: ModelSpec, y=None, weight=None) -> BlockedStats:
    """Cross-products of [Z X y] for response ``y`` and row weights ``weight`` (NumPy, once)."""
    y = spec.y if y is None else np.asarray(y, dtype=float)
    if spec.offset is not None:
        y = y - spec.offset
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=float)
    scale = np.sqrt(w)
    _, data = pls.prepare(spec.X * scale[:, None], y * scale, engine_blocks(spec, w))
    return BlockedStats(data, jnp.asarray(w.sum()))


def relative_factors(params: dict, shape: pls.Shape, names: tuple):
    """theta, the entries of T_k = diag(sd_k) L_k / sigma in the engine's order; ``names`` are
    the blocks' names in the user's order."""
    Ts = [params[PARAMS.sd][name][:, None] * params[PARAMS.cor_chol][name] / params[RESIDUAL_SD] for name in names]
    return jnp.stack([Ts[k][i, j] for k, i, j in shape.entries])


def blocked_loglik(params: dict, stats: BlockedStats, shape: pls.Shape, names: tuple):
    """log p(y | beta, sd, cor, sigma) with every group effect integrated out (module docstring)."""
    f = pls.factorise(relative_factors(params, shape, names), stats.data, shape)
    sigma2 = params[RESIDUAL_SD] ** 2
    quadratic = jnp.sum((f.RX.T @ (params[PARAMS.fixed] - f.beta)) ** 2)
    return -0.5 * stats.n * (_LOG_2PI + jnp.log(sigma2)) - 0.5 * f.log_det_L - 0.5 * (f.r2 + quadratic) / sigma2


def draw_blocked_effects(rng_key, params: dict, stats: BlockedStats, shape: pls.Shape, names: tuple) -> dict:
    """One draw of every block's b (levels, q) from the exact conditional given the rest."""
    theta = relative_factors(params, shape, names)
    f = pls.factorise(theta, stats.data, shape)
    noise = jax.random.normal(rng_key, f.cu.shape)
    u = pls.back_substitute(f, f.cu - f.RZX @ params[PARAMS.fixed] + params[RESIDUAL_SD] * noise, theta, stats.data, shape)
    Ts, out, start = pls.factors(theta, shape), {}, 0
    for m, k in enumerate(shape.order):                    # engine order: largest block first
        levels, q = shape.levels[m], shape.terms[m]
        out[names[k]] = u[start:start + levels * q].reshape(levels, q) @ Ts[m].T
        start += levels * q
    return out
