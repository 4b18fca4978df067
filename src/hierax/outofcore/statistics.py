"""The sums of a chunk's rows that a gaussian mixed model's fit needs, and how two chunks' add.

A chunk is encoded with the whole data's encoding (``hierax.design.summary.encode_rows``) and
reduced to:

* the cross-products of [Z X y] (``hierax.linalg.pls.cross_products``): REML's sufficient
  statistics, of size levels x effects, not rows;
* the R factor of [X y] (QR, Householder): its last diagonal entry is the norm of y's
  least-squares residual and its leading block has X's singular values, so the exact-fit and
  rank checks read it without the cancellation of X'X; two chunks' factors stacked and factorised
  again give the factor of both (TSQR);
* the moments of each column of X and of y, and up to three distinct values of y, for the
  default priors and the checks of a whole response (``hierax.model.summarised``).

``y`` here is the response less any offset, as the REML engine takes it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hierax.design.summary import Moments, SummarisedDesign, encode_rows
from hierax.linalg.pls import CrossProducts, Shape, cross_products

DISTINCT_KEPT = 3        # enough to tell a two-valued response from a continuous one


class Statistics(NamedTuple):
    """The sums over some rows (see the module docstring); ``shape.n`` is their number."""

    shape: Shape
    cross: CrossProducts
    R: np.ndarray               # (<= p + 1, p + 1) upper triangular: [X y] = Q R
    columns: tuple              # Moments of each column of X
    response: Moments           # of y (less the offset)
    distinct: frozenset         # up to DISTINCT_KEPT distinct values of y (less the offset)


def chunk_statistics(design: SummarisedDesign, data) -> Statistics | None:
    """The :class:`Statistics` of one chunk (a pandas frame); None for a chunk without rows."""
    if not len(data):
        return None
    rows = encode_rows(design, data)
    y = rows.y if rows.offset is None else rows.y - rows.offset
    shape, cross = cross_products(rows.X, y, list(rows.blocks))
    R = np.linalg.qr(np.column_stack([rows.X, y]), mode="r")
    distinct = frozenset(np.unique(y)[:DISTINCT_KEPT].tolist())
    return Statistics(shape, cross, R, tuple(Moments.of(x) for x in rows.X.T), Moments.of(y), distinct)


def merge_statistics(a: Statistics | None, b: Statistics | None) -> Statistics | None:
    """The statistics of two chunks' rows together."""
    if a is None or b is None:
        return a if b is None else b
    cross = CrossProducts(*(x + z for x, z in zip(a.cross, b.cross)))
    R = np.linalg.qr(np.vstack([a.R, b.R]), mode="r")
    distinct = frozenset(sorted(a.distinct | b.distinct)[:DISTINCT_KEPT])
    return Statistics(a.shape._replace(n=a.shape.n + b.shape.n), cross, R,
                      tuple(x.merge(z) for x, z in zip(a.columns, b.columns)), a.response.merge(b.response), distinct)
