"""The quadrature's per-level log ratios (``hierax.engines.quadrature``) against a level-by-level
computation in NumPy, on levels of unequal sizes: the bucketed layout of ``level_rows`` must give
each level its own rows, once, whatever the sizes (one row, many, none)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from hierax.engines import quadrature
from hierax.engines.quadrature import gauss_hermite, level_rows, log_ratios


def _sizes():
    # one level without rows (3), single rows, sizes at and past the bucket widths' edges
    return np.array([1, 2, 5, 0, 7, 1, 13, 20, 3, 4, 9, 1, 33])


def _rows(sizes, seed):
    rng = np.random.default_rng(seed)
    level = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    return level, rng


def test_every_row_is_in_its_levels_bucket_once():
    sizes = _sizes()
    level, _ = _rows(sizes, 0)
    layout = level_rows(level, len(sizes))
    seen = []
    for bucket in layout.buckets:
        rows, real, levels = (np.asarray(a) for a in bucket)
        assert rows.shape == real.shape and rows.shape[0] == len(levels)
        assert np.all(real.sum(axis=1) == sizes[levels])           # each level's rows, and padding after them
        assert rows.shape[1] < 2 * max(sizes[levels].min(), 1)     # padding adds at most half the rows (or 1)
        for r, k, lev in zip(rows, real, levels):
            assert np.all(level[r[k]] == lev)
            seen.extend(r[k])
    assert sorted(seen) == list(range(len(level)))
    order = np.asarray(layout.order)
    assert sorted(order) == list(range(len(sizes)))


def test_levels_of_one_size_are_not_padded():
    """Each bucket is as wide as its largest level, not the ladder's step: 5 levels of 20 rows
    (the ladder's step is 24) take 20 columns and no padding."""
    level = np.random.default_rng(1).permutation(np.repeat(np.arange(5), 20))
    (bucket,) = level_rows(level, 5).buckets
    assert bucket.rows.shape == (5, 20) and bool(np.all(np.asarray(bucket.real)))


def _reference(y, trials, eta, V, u, L, level, nodes):
    """log p_l / p_l^Laplace level by level, directly."""
    q = u.shape[1]
    z1, log_w1 = gauss_hermite(nodes)
    grid = np.stack(np.meshgrid(*([z1] * q), indexing="ij"), axis=-1).reshape(-1, q)
    log_w = np.sum(np.stack(np.meshgrid(*([log_w1] * q), indexing="ij"), axis=-1).reshape(-1, q), axis=1)

    def g(rows, point, offset):
        e = eta[rows] + V[rows] @ offset
        ll = y[rows] * e - trials[rows] * np.logaddexp(0.0, e)
        return -2.0 * ll.sum() + np.sum((point + offset) ** 2)

    out = []
    for lev in range(len(u)):
        rows = np.flatnonzero(level == lev)
        offsets = np.linalg.solve(L[lev].T, grid.T).T
        shifted = np.array([g(rows, u[lev], o) for o in offsets])
        out.append(logsumexp(log_w - 0.5 * (shifted - g(rows, u[lev], np.zeros(q))) + 0.5 * np.sum(grid ** 2, axis=1)))
    return np.array(out)


@pytest.mark.parametrize("q, nodes", [(1, 5), (2, 4), (2, 7)])
def test_log_ratios_match_a_level_by_level_computation(q, nodes, monkeypatch):
    monkeypatch.setattr(quadrature, "NODES_A_PASS", 3)       # several chunks, the last padded
    sizes = _sizes()
    level, rng = _rows(sizes, q)
    n, levels = len(level), len(sizes)
    trials = rng.integers(1, 6, n).astype(float)
    y = rng.binomial(trials.astype(int), 0.4).astype(float)
    eta, V = rng.normal(size=n), rng.normal(size=(n, q)) * 0.5
    u = rng.normal(size=(levels, q)) * 0.3
    L = np.linalg.cholesky(np.eye(q) * 1.5 + np.einsum("li,lj->lij", *(2 * [rng.normal(size=(levels, q)) * 0.3])))

    def loglik(data, e):                       # binomial without the coefficient, data = (y, trials)
        return data[0] * e - data[1] * (jnp.maximum(e, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(e))))

    got = log_ratios(loglik, (jnp.asarray(y), jnp.asarray(trials)), jnp.asarray(eta), jnp.asarray(V), jnp.asarray(u),
                     jnp.asarray(L), level_rows(level, levels), levels, nodes)
    expected = _reference(y, trials, eta, V, u, L, level, nodes)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-10, atol=1e-12)
