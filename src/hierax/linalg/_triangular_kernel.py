"""The compiled loop of ``hierax.linalg.triangular`` (imported only when its norms are needed).

For each column c_u of a sparse C (CSC, row indices sorted) it accumulates ||K c_u||^2 for a
lower triangular K given in Fortran order, a tile of K's rows at a time: in the rows [i0, i1)
of the tile, K c_u is the sum over u's entries a < i1 of c_au K[max(a, i0):i1, a] (a column
segment, contiguous in Fortran order), and its squared norm is added to out[u]. A tile of K's
rows, ``tile`` x Q doubles, stays in cache while every column's entries read it.

The segments are added through views indexed from 0 (``w[j] += c * segment[j]``): indexed as
``v[i - i0]``, an index that might be negative, Numba's wrap-around of negative indices kept LLVM
from vectorising the loop, 3.6 times slower (1.6 against 5.9 G multiply-adds a second, one core).
"""

import numpy as np
import numba


@numba.njit(cache=True, nogil=True)
def triangular_norms(indptr, indices, data, K, tile, out):   # pragma: no cover (compiled)
    Q = K.shape[0]
    v = np.empty(tile)
    for i0 in range(0, Q, tile):
        i1 = min(i0 + tile, Q)
        rows = i1 - i0
        for u in range(len(indptr) - 1):
            p = indptr[u]
            end = indptr[u + 1]
            if p == end or indices[p] >= i1:
                continue
            for j in range(rows):
                v[j] = 0.0
            while p < end and indices[p] < i1:
                a = indices[p]
                c = data[p]
                lo = max(a, i0)
                segment = K[lo:i1, a]
                w = v[lo - i0:rows]
                for j in range(segment.shape[0]):
                    w[j] += c * segment[j]
                p += 1
            total = 0.0
            for j in range(rows):
                total += v[j] * v[j]
            out[u] += total
