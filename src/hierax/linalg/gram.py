"""C W C' for a sparse C and a diagonal W, the lower triangle accumulated into a dense matrix.

The middle term of a ratings-sized model's Schur complement (``hierax.linalg.wide``) is such a
product over the users who rated few items: a user with k entries adds k(k + 1)/2 products to
the lower triangle. SciPy's sparse product builds the whole (nearly dense) result as a sparse
matrix, hashing every product into its row, then it is copied into a dense one: about 16 ns a
lower-triangle product on the synthetic ml-1m. Here the products are added into the dense matrix
directly, tile by tile, so that a tile of it stays in cache while every user's products in it
are added: about 1.7 ns a product on ml-1m (0.4 s against 1.1 s for the middle term with the
dense part) and 6 ns on ml-10m (its 10,700-wide matrix is 0.9 GB; 8-10 s against 26 s).

The loops are compiled by Numba (on first use; cached on disk after); nothing else here is.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse as sp

TILE = 512      # rows and columns of the result per tile (512 x 512 doubles: 2 MB)


def add_lower_gram(C: sp.csc_matrix, weights: np.ndarray, out: np.ndarray, starts: np.ndarray) -> None:
    """out[a, b] += sum_u weights[u] C[a, u] C[b, u] for a >= b (the lower triangle), in place.

    ``C``: CSC with sorted row indices (``sorted_csc``); ``starts``: ``tile_starts(C)``.
    """
    if not (out.flags.c_contiguous and out.flags.writeable) or out.dtype != np.float64:
        raise ValueError("add_lower_gram adds in place to a writeable C-ordered float64 matrix")
    _kernel()(C.indptr, C.indices, C.data, np.ascontiguousarray(weights, dtype=np.float64), starts, out,
              np.zeros(0), False)


def quadratic_forms(C: sp.csc_matrix, P: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """c_u' P c_u for every column c_u of C, P symmetric (Q x Q, C-ordered), by the same tiles."""
    out = np.zeros(C.shape[1])
    _kernel()(C.indptr, C.indices, C.data, np.zeros(0), starts, np.ascontiguousarray(P, dtype=np.float64), out, True)
    return out


def sorted_csc(C) -> sp.csc_matrix:
    """C in CSC with each column's row indices distinct and sorted (what the loops assume)."""
    C = sp.csc_matrix(C, copy=True)
    C.sum_duplicates()
    return C


def tile_starts(C: sp.csc_matrix, tile: int = TILE) -> np.ndarray:
    """(columns, tiles + 1): where each column's entries in each tile of rows begin, as positions
    in C.indices (row indices sorted within a column)."""
    columns, tiles = C.shape[1], -(-C.shape[0] // tile)
    column = np.repeat(np.arange(columns), np.diff(C.indptr))
    counts = np.bincount(column * tiles + C.indices // tile, minlength=columns * tiles).reshape(columns, tiles)
    starts = np.zeros((columns, tiles + 1), np.int64)
    np.cumsum(counts, axis=1, out=starts[:, 1:])
    return starts + C.indptr[:-1, None]


@functools.cache
def _kernel():
    """The compiled loop (``_gram_kernel``), imported on first use: Numba's import and compilation
    cost nothing to fits that never need it."""
    from hierax.linalg._gram_kernel import by_tiles

    return by_tiles
