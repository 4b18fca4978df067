"""The compiled loop of ``hierax.linalg.gram`` (imported only when its products are needed).

It visits the tiles (I, J), J <= I, of a Q x Q matrix and, in each, every column u of C with
entries in both tile I (rows a) and tile J (rows b), using u's pairs a >= b only: ``starts[u]``
gives where u's entries in each tile begin (row indices distinct and sorted within a column).
With ``gather`` false it adds weights[u] C[a, u] C[b, u] to matrix[a, b] (the lower triangle of
C W C'); with ``gather`` true it adds C[a, u] matrix[a, b] C[b, u] to forms[u], each pair below
the diagonal twice (c_u' P c_u for a symmetric P).
"""

import numba


@numba.njit(cache=True, nogil=True)
def by_tiles(indptr, indices, data, weights, starts, matrix, forms, gather):   # pragma: no cover (compiled)
    for I in range(starts.shape[1] - 1):
        for J in range(I + 1):
            for u in range(len(indptr) - 1):
                a0, a1, b0, b1 = starts[u, I], starts[u, I + 1], starts[u, J], starts[u, J + 1]
                if a0 == a1 or b0 == b1:
                    continue
                for p in range(a0, a1):
                    row = matrix[indices[p]]
                    if gather:
                        below = 0.0
                        for q in range(b0, b1 if J < I else p):      # rows below a (distinct, sorted)
                            below += row[indices[q]] * data[q]
                        forms[u] += data[p] * (2.0 * below + (row[indices[p]] * data[p] if J == I else 0.0))
                    else:
                        wa = weights[u] * data[p]
                        for q in range(b0, b1 if J < I else p + 1):  # in a diagonal tile, b <= a only
                            row[indices[q]] += wa * data[q]
