"""Maps from unconstrained reals to constrained parameters, with log-Jacobians.

Positive parameters (sds, sigma) are ``exp(u)``. The Cholesky factor of a correlation matrix
is built from canonical partial correlations ``tanh(u)``, row by row (Lewandowski, Kurowicka and
Joe 2009; the transform of the Stan reference manual, "Cholesky factors of correlation matrices").
"""

from __future__ import annotations

import jax.numpy as jnp


def num_cor_params(dim: int) -> int:
    """Unconstrained values for a dim x dim correlation matrix: dim (dim - 1) / 2."""
    return dim * (dim - 1) // 2


def corr_cholesky(raw, dim: int):
    """Cholesky factor L of a correlation matrix from ``dim (dim-1)/2`` reals, and log|J|.

    Row i of L (0-based) is built from the partial correlations ``z = tanh(raw)`` in that row:
    L[i, j] = z_ij sqrt(1 - sum_{k<j} L[i, k]^2) and L[i, i] = sqrt(1 - sum_{k<i} L[i, k]^2),
    so every row has unit length. The log-Jacobian adds log(1 - z^2) for the tanh and
    0.5 log(1 - sum_{k<j} L[i, k]^2) for each below-diagonal element.
    """
    z = jnp.tanh(raw)
    log_jac = jnp.sum(jnp.log1p(-(z**2)))
    rows = [jnp.zeros(dim).at[0].set(1.0)]
    k = 0
    for i in range(1, dim):
        row = jnp.zeros(dim)
        remaining = 1.0
        for j in range(i):
            log_jac = log_jac + 0.5 * jnp.log(remaining)
            value = z[k] * jnp.sqrt(remaining)
            row = row.at[j].set(value)
            remaining = remaining - value**2
            k += 1
        rows.append(row.at[i].set(jnp.sqrt(remaining)))
    return jnp.stack(rows), log_jac


def corr_from_cholesky(L):
    """Correlation matrix L L^T."""
    return L @ jnp.swapaxes(L, -1, -2)


def ordered(raw):
    """Increasing values c from reals: c_1 = raw_1, c_k = c_{k-1} + exp(raw_k) (Stan's ordered
    transform), and log|J| = sum_{k>1} raw_k."""
    steps = jnp.concatenate([raw[:1], jnp.exp(raw[1:])])
    return jnp.cumsum(steps), jnp.sum(raw[1:])


def ordered_inverse(values):
    """The reals that :func:`ordered` maps to increasing ``values`` (NumPy)."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    return np.concatenate([values[:1], np.log(np.diff(values))])
