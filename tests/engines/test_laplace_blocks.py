"""The Laplace engine's blocked precision (``hierax.engines.laplace_blocks``) against the dense
matrix it stands for: A = V' W V + I with V = Z Lambda, for crossed and nested blocks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hierax.design.block import Block
from hierax.engines import laplace_blocks as blocked
from hierax.errors import ModelError
from hierax.linalg.pls import block_factors, theta_entries

RNG = np.random.default_rng(11)
N = 300


def crossed_blocks():
    """A first block of 40 levels x 2 effects, crossed with 6 levels x 2 and 9 levels x 1."""
    x = RNG.normal(size=N)
    return [Block.from_index(np.ones((N, 1)), RNG.integers(0, 9, N), 9, name="c"),
            Block.from_index(np.column_stack([np.ones(N), x]), RNG.integers(0, 40, N), 40, name="a"),
            Block.from_index(np.column_stack([np.ones(N), RNG.normal(size=N)]), RNG.integers(0, 6, N), 6, name="b")]


def dense_pieces(blocks, w):
    """The dense A (user order of u) and V, from the blocks and random factors T_k."""
    entries = theta_entries(blocks)
    theta = RNG.uniform(0.3, 1.5, len(entries)) * np.array([1.0 if i == j else 0.4 for _, i, j in entries])
    Ts = block_factors(theta, entries, [b.num_terms for b in blocks])
    Z = np.zeros((N, sum(b.width for b in blocks)))
    start = 0
    for b, T in zip(blocks, Ts):
        ZL = b.Z @ T
        for t in range(b.num_terms):
            Z[np.arange(N), start + b.group_index * b.num_terms + t] = ZL[:, t]
        start += b.width
    V = np.concatenate([b.Z @ T for b, T in zip(blocks, Ts)], axis=1)
    vals = np.concatenate([b.Z for b in blocks], axis=1)
    return Z.T @ (w[:, None] * Z) + np.eye(Z.shape[1]), V, vals, Ts


@pytest.mark.parametrize("which", ["crossed", "one factor"])
def test_log_det_solve_and_covariances_equal_the_dense_matrix(which):
    blocks = crossed_blocks() if which == "crossed" else crossed_blocks()[1:2]
    w = RNG.uniform(0.1, 2.0, N)
    A, V, vals, Ts = dense_pieces(blocks, w)
    layout = blocked.layout_of(blocks)
    pattern = blocked.pattern_of(blocks, layout)
    assert layout.first == (1 if which == "crossed" else 0)
    np.testing.assert_allclose(blocked.row_values(jnp.asarray(vals), [jnp.asarray(T) for T in Ts], layout), V)
    value, F = blocked.log_det(jnp.asarray(w), jnp.asarray(V), pattern, layout)
    np.testing.assert_allclose(float(value), np.linalg.slogdet(A)[1], rtol=1e-12)
    r = RNG.normal(size=A.shape[0])
    np.testing.assert_allclose(blocked.solve(F, jnp.asarray(r), pattern, layout), np.linalg.solve(A, r), rtol=1e-9)
    inverse, start = np.linalg.inv(A), 0
    for block, C in zip(blocks, blocked.conditional_covariances(F, pattern, layout)):
        q = block.num_terms
        for level in (0, block.num_levels - 1):
            rows = slice(start + level * q, start + (level + 1) * q)
            np.testing.assert_allclose(C[level], inverse[rows, rows], rtol=1e-9, atol=1e-12)
        start += block.width


def test_the_log_det_gradient_is_the_dense_one():
    blocks = crossed_blocks()
    w = RNG.uniform(0.1, 2.0, N)
    _, V, _, _ = dense_pieces(blocks, w)
    layout = blocked.layout_of(blocks)
    pattern = blocked.pattern_of(blocks, layout)

    cols, start = [], 0
    for b in blocks:
        cols += [start + b.group_index * b.num_terms + t for t in range(b.num_terms)]
        start += b.width
    cols = np.stack(cols, axis=1)                                   # (N, K): each entry's column of Z

    @jax.jit
    def dense(w, V):
        Z = jnp.zeros((N, start)).at[np.arange(N)[:, None], cols].set(V)
        return jnp.linalg.slogdet(Z.T @ (w[:, None] * Z) + jnp.eye(start))[1]

    got = jax.grad(lambda w, V: blocked.log_det(w, V, pattern, layout)[0], argnums=(0, 1))(jnp.asarray(w), jnp.asarray(V))
    want = jax.grad(dense, argnums=(0, 1))(jnp.asarray(w), jnp.asarray(V))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


def test_a_dense_part_too_large_is_refused_naming_nuts():
    n = 6000
    blocks = [Block.from_index(np.ones((n, 1)), np.arange(n) % 3000, 3000, name="a"),
              Block.from_index(np.ones((n, 1)), np.arange(n) % 2999, 2999, name="b")]
    with pytest.raises(ModelError, match="method='nuts'"):
        blocked.check_size(blocks)


def test_too_many_schur_products_are_refused_naming_nuts(monkeypatch):
    """Each first-block level adds (its pairs)^2 products to S: 40 levels crossed with 6 + 9 other
    columns give thousands; with the limit lowered below that, the engine refuses."""
    blocks = crossed_blocks()
    monkeypatch.setattr(blocked, "MAX_SCHUR_TERMS", 100)
    with pytest.raises(ModelError, match="products for the crossed group terms"):
        blocked.pattern_of(blocks, blocked.layout_of(blocks))


@pytest.mark.parametrize("which", ["crossed", "one factor"])
def test_draw_offset_has_covariance_A_inverse_and_A_norm_z(which):
    """M z (``draw_offset``) for the unit vectors z gives M; M M' must be A^-1 and M' A M = I,
    what the embedded Laplace's draws and their importance ratios rely on."""
    blocks = crossed_blocks() if which == "crossed" else crossed_blocks()[1:2]
    w = RNG.uniform(0.1, 2.0, N)
    A, V, _, _ = dense_pieces(blocks, w)
    layout = blocked.layout_of(blocks)
    pattern = blocked.pattern_of(blocks, layout)
    F = blocked.factor(jnp.asarray(w), jnp.asarray(V), pattern, layout)
    M = np.stack([np.asarray(blocked.draw_offset(F, jnp.asarray(e), pattern, layout)) for e in np.eye(A.shape[0])],
                 axis=1)
    np.testing.assert_allclose(M @ M.T, np.linalg.inv(A), atol=1e-10)
    np.testing.assert_allclose(M.T @ A @ M, np.eye(A.shape[0]), atol=1e-9)
