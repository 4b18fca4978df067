"""||K c_u||^2 for every column c_u of a sparse C and a dense lower triangular K.

With K = L22^-1, the inverse of the Cholesky factor of a ratings-sized model's Schur complement
S22 = L22 L22', these are the quadratic forms c_u' S22^-1 c_u that the gradient in the first
block's theta contracts with (``hierax.engines.profiled_wide``): they need K alone (LAPACK's
dtrtri, a third of a factorisation's flops) where forming S22^-1 (dpotri) needs twice that, and
they replace forming the derivative's middle term C diag(dM) C'. Columns held dense (heavy
users) go through BLAS's triangular product; the sparse ones through a compiled loop
(``_triangular_kernel``) that visits K a tile of rows at a time, u's entries scaling contiguous
column segments of K: sum over u's entries a of (Q - a) multiply-adds.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.linalg
import scipy.sparse as sp

TILE = 256      # rows of K per tile: 256 x 10,700 doubles (ml-10m's shape) is 22 MB


def dense_norms(K: np.ndarray, C: np.ndarray) -> np.ndarray:
    """||K c_u||^2 for the columns of a dense C (K lower triangular; its upper triangle not read)."""
    if C.shape[1] == 0:
        return np.zeros(0)
    KC = scipy.linalg.blas.dtrmm(1.0, K, C, lower=1)
    return np.einsum("ij,ij->j", KC, KC)


def sparse_norms(K: np.ndarray, C: sp.csc_matrix, data: np.ndarray | None = None) -> np.ndarray:
    """||K c_u||^2 for the columns of a sparse C (CSC, row indices sorted within a column: see
    ``gram.sorted_csc``), with ``data`` in place of C's values where given (a rescaled C)."""
    out = np.zeros(C.shape[1])
    if C.shape[1]:
        _kernel()(C.indptr, C.indices, C.data if data is None else np.asarray(data, float),
                  np.asfortranarray(K), TILE, out)
    return out


@functools.cache
def _kernel():
    """The compiled loop, imported on first use (Numba's import and compilation cost nothing to
    fits that never need it)."""
    from hierax.linalg._triangular_kernel import triangular_norms

    return triangular_norms
