"""The compiled loop of ``hierax.linalg.gram`` (imported only when that product is needed)."""

import numba


@numba.njit(cache=True, nogil=True)
def lower_gram_by_tiles(indptr, indices, data, weights, starts, out):   # pragma: no cover (compiled)
    """For every tile (I, J), J <= I, of the result and every column u of C with entries in both,
    out[a, b] += weights[u] C[a, u] C[b, u] over its entries a in tile I and b in tile J, b <= a."""
    tiles = starts.shape[1] - 1
    for I in range(tiles):
        for J in range(I + 1):
            for u in range(len(indptr) - 1):
                a0, a1 = starts[u, I], starts[u, I + 1]
                b0, b1 = starts[u, J], starts[u, J + 1]
                if a0 == a1 or b0 == b1:
                    continue
                w = weights[u]
                for p in range(a0, a1):
                    row = out[indices[p]]
                    wa = w * data[p]
                    last = b1 if J < I else p + 1       # in a diagonal tile, b <= a only
                    for q in range(b0, last):
                        row[indices[q]] += wa * data[q]


@numba.njit(cache=True, nogil=True)
def quadratic_by_tiles(indptr, indices, data, starts, P, out):          # pragma: no cover (compiled)
    """out[u] += sum over column u's entries a, b of C[a, u] P[a, b] C[b, u], P symmetric, by the
    tiles of ``lower_gram_by_tiles``: each pair below the diagonal twice, each diagonal one once."""
    tiles = starts.shape[1] - 1
    for I in range(tiles):
        for J in range(I + 1):
            for u in range(len(indptr) - 1):
                a0, a1 = starts[u, I], starts[u, I + 1]
                b0, b1 = starts[u, J], starts[u, J + 1]
                if a0 == a1 or b0 == b1:
                    continue
                for p in range(a0, a1):
                    a = indices[p]
                    row = P[a]
                    below = 0.0
                    for q in range(b0, b1 if J < I else p):      # row indices below a (distinct, sorted)
                        below += row[indices[q]] * data[q]
                    total = 2.0 * below
                    if J == I:
                        total += row[a] * data[p]
                    out[u] += data[p] * total
