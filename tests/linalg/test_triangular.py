"""||K c_u||^2 for a lower triangular K (``hierax.linalg.triangular``) against dense products,
with tiles smaller than the matrix (the loop's tile edges) and stale values in K's upper triangle
(dtrtri leaves there what its input held)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp

from hierax.engines import profiled_wide
from hierax.linalg import gram, triangular

Q = 37


@pytest.fixture(scope="module")
def factor():
    """(K with a stale upper triangle, Fortran order; its lower triangle; a sparse C)."""
    rng = np.random.default_rng(0)
    A = rng.normal(size=(Q, Q))
    L, _ = scipy.linalg.lapack.dpotrf(A @ A.T + Q * np.eye(Q), lower=1, clean=0)
    K, info = scipy.linalg.lapack.dtrtri(L, lower=1)
    assert info == 0 and np.abs(np.triu(K, 1)).max() > 0           # stale values above the diagonal
    C = gram.sorted_csc(sp.random(Q, 50, density=0.2, random_state=1, format="csc"))
    C.data = rng.normal(size=C.nnz)
    return K, np.tril(K), C


@pytest.mark.parametrize("tile", [1, 2, 5, 36, 37, 256])
def test_sparse_norms_equal_the_dense_product_for_any_tile(factor, tile, monkeypatch):
    K, lower, C = factor
    monkeypatch.setattr(triangular, "TILE", tile)
    expected = np.sum((lower @ C.toarray()) ** 2, axis=0)
    np.testing.assert_allclose(triangular.sparse_norms(K, C), expected, rtol=1e-13)


def test_sparse_norms_take_rescaled_values(factor):
    K, lower, C = factor
    scaled = C.copy()
    scaled.data = C.data * np.linspace(0.5, 2.0, Q)[C.indices]
    expected = np.sum((lower @ scaled.toarray()) ** 2, axis=0)
    np.testing.assert_allclose(triangular.sparse_norms(K, C, scaled.data), expected, rtol=1e-13)


def test_dense_norms_equal_the_dense_product_and_leave_c_alone(factor):
    K, lower, C = factor
    dense = C.toarray()
    kept = dense.copy()
    np.testing.assert_allclose(triangular.dense_norms(K, dense), np.sum((lower @ kept) ** 2, axis=0), rtol=1e-13)
    np.testing.assert_array_equal(dense, kept)
    assert triangular.dense_norms(K, np.zeros((Q, 0))).shape == (0,)


@pytest.mark.parametrize("tile", [1, 4, 36, 37, 512])
def test_lower_column_squares_read_the_lower_triangle_only(factor, tile):
    K, lower, _ = factor
    np.testing.assert_allclose(profiled_wide._lower_column_squares(K, tile), np.sum(lower ** 2, axis=0), rtol=1e-13)
