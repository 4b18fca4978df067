"""The tiled lower-triangle product C W C' against the dense product."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hierax.linalg import gram


@pytest.mark.parametrize("tile", [1, 3, 7, 512])
def test_lower_gram_equals_the_dense_product(tile):
    rng = np.random.default_rng(3)
    C = gram.sorted_csc(sp.random(23, 40, density=0.3, random_state=4, format="csc") * 3.0)
    weights = rng.normal(size=40)
    out = np.full((23, 23), 0.5)                          # it adds to what is there
    gram.add_lower_gram(C, weights, out, gram.tile_starts(C, tile))
    dense = C.toarray()
    expected = np.tril(dense @ np.diag(weights) @ dense.T) + np.tril(np.full((23, 23), 0.5))
    np.testing.assert_allclose(np.tril(out), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(np.triu(out, 1), np.triu(np.full((23, 23), 0.5), 1))   # upper untouched


def test_tile_starts_bracket_each_columns_rows():
    C = gram.sorted_csc(sp.random(10, 6, density=0.5, random_state=1, format="csc"))
    starts = gram.tile_starts(C, 4)
    for u in range(6):
        for t in range(starts.shape[1] - 1):
            rows = C.indices[starts[u, t]:starts[u, t + 1]]
            assert np.all((rows >= 4 * t) & (rows < 4 * (t + 1)))
        assert starts[u, 0] == C.indptr[u] and starts[u, -1] == C.indptr[u + 1]


def test_refuses_an_output_it_cannot_add_to_in_place():
    C = gram.sorted_csc(sp.random(5, 4, density=0.5, random_state=2, format="csc"))
    with pytest.raises(ValueError, match="C-ordered"):
        gram.add_lower_gram(C, np.ones(4), np.zeros((5, 5), order="F"), gram.tile_starts(C))


@pytest.mark.parametrize("tile", [1, 4, 512])
def test_quadratic_forms_equal_the_dense_ones(tile):
    C = gram.sorted_csc(sp.random(17, 9, density=0.4, random_state=6, format="csc") * 2.0)
    P = np.random.default_rng(7).normal(size=(17, 17))
    P = P + P.T
    dense = C.toarray()
    np.testing.assert_allclose(gram.quadratic_forms(C, P, gram.tile_starts(C, tile)),
                               np.einsum("au,ab,bu->u", dense, P, dense), rtol=1e-12, atol=1e-12)
