"""The sums of a chunk's rows that a gaussian mixed model's fit needs, and how two chunks' add.

A chunk is encoded with the whole data's encoding (``hierax.design.summary.encode_rows``) and
reduced to:

* the cross-products of [Z X y] (``hierax.linalg.pls.cross_products``): REML's sufficient
  statistics, of size levels x effects, not rows;
* the R factor of [X y] (QR, Householder): its last diagonal entry is the norm of y's
  least-squares residual and its leading block has X's singular values, so the exact-fit and
  rank checks read it without the cancellation of X'X; two chunks' factors stacked and factorised
  again give the factor of both (TSQR);
* the moments of each column of X and Z and of y, and up to three distinct values of y, for
  the default priors, the checks of a whole response (``hierax.model.summarised``) and the
  bounds of the collapsed sampler's exact sums.

For NUTS, two more passes form the collapsed sampler's statistics as exact sums
(``hierax.density.collapsed_sums``): the reference point's equations, then the per-level sums
around it. Their chunks' sums add exactly, so the statistics have the same bits as the same rows
give in memory, and so have the draws.

``y`` here is the response less any offset, as the REML engine takes it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hierax.density.collapsed_sums import Bounds, level_sums, reference_sums
from hierax.design.summary import Moments, SummarisedDesign, encode_rows
from hierax.linalg.pls import CrossProducts, Shape, cross_products

DISTINCT_KEPT = 3        # enough to tell a two-valued response from a continuous one


class Statistics(NamedTuple):
    """The sums over some rows (see the module docstring); ``shape.n`` is their number."""

    shape: Shape
    cross: CrossProducts
    R: np.ndarray               # (<= p + 1, p + 1) upper triangular: [X y] = Q R
    columns: tuple              # Moments of each column of X
    z_columns: tuple            # Moments of each column of each block's Z, block after block
    response: Moments           # of y less the offset
    outcome: Moments            # of y itself (the default priors' scale)
    distinct: frozenset         # up to DISTINCT_KEPT distinct values of y (less the offset)
    group: object = None        # (GroupStats, Crude) of the collapsed sampler, once summed

    def scaled(self, scale: np.ndarray) -> Statistics:
        """The statistics of the columns X / scale (``model.scaling.unit_scaled``'s sampled
        model). The cross-products, which only REML reads, are dropped rather than rescaled."""
        p = len(self.columns)
        R = np.column_stack([self.R[:, :p] / scale, self.R[:, p:]])
        columns = tuple(Moments(c.n, c.mean / s, c.m2 / s**2, c.low / s, c.high / s) for c, s in zip(self.columns, scale))
        return self._replace(cross=None, R=R, columns=columns)

    def column_rms(self) -> np.ndarray:
        """Each column's root mean square (``linalg.columns.column_scales`` before its guard)."""
        return np.array([np.sqrt(c.mean**2 + c.m2 / c.n) for c in self.columns])

    def bounds(self) -> Bounds:
        """The bounds of the collapsed sampler's exact sums (one block; no row weights)."""
        def largest(m: Moments) -> float:
            return max(abs(m.low), abs(m.high))

        return Bounds(tuple(largest(c) for c in self.columns), tuple(largest(c) for c in self.z_columns),
                      largest(self.response), 1.0, self.shape.n)


def chunk_statistics(design: SummarisedDesign, data) -> Statistics | None:
    """The :class:`Statistics` of one chunk (a pandas frame); None for a chunk without rows."""
    if not len(data):
        return None
    rows = encode_rows(design, data)
    y = _response(rows)
    shape, cross = cross_products(rows.X, y, list(rows.blocks))
    R = np.linalg.qr(np.column_stack([rows.X, y]), mode="r")
    distinct = frozenset(np.unique(y)[:DISTINCT_KEPT].tolist())
    z_columns = tuple(Moments.of(z) for block in rows.blocks for z in block.Z.T)
    return Statistics(shape, cross, R, tuple(Moments.of(x) for x in rows.X.T), z_columns, Moments.of(y),
                      Moments.of(rows.y), distinct)


def merge_statistics(a: Statistics | None, b: Statistics | None) -> Statistics | None:
    """The statistics of two chunks' rows together."""
    if a is None or b is None:
        return a if b is None else b
    cross = CrossProducts(*(x + z for x, z in zip(a.cross, b.cross)))
    R = np.linalg.qr(np.vstack([a.R, b.R]), mode="r")
    distinct = frozenset(sorted(a.distinct | b.distinct)[:DISTINCT_KEPT])
    return Statistics(a.shape._replace(n=a.shape.n + b.shape.n), cross, R,
                      tuple(x.merge(z) for x, z in zip(a.columns, b.columns)),
                      tuple(x.merge(z) for x, z in zip(a.z_columns, b.z_columns)), a.response.merge(b.response),
                      a.outcome.merge(b.outcome), distinct)


def chunk_reference_sums(design: SummarisedDesign, scale: np.ndarray, bounds: Bounds, data):
    """The exact sums of the reference point's equations over one chunk, for the columns
    X / ``scale`` that the sampler samples; None for a chunk without rows."""
    if not len(data):
        return None
    rows = encode_rows(design, data)
    y = _response(rows)
    return reference_sums(rows.X / scale, y, np.ones(len(y)), bounds)


def chunk_level_sums(design: SummarisedDesign, scale: np.ndarray, bounds: Bounds, beta_ref: np.ndarray, data):
    """The exact per-level sums of one chunk around ``beta_ref`` (one block); None without rows."""
    if not len(data):
        return None
    rows = encode_rows(design, data)
    y, block = _response(rows), rows.blocks[0]
    return level_sums(rows.X / scale, block.Z, block.group_index, block.num_levels, y, np.ones(len(y)), beta_ref,
                      bounds)


def add_sums(a, b):
    """Two chunks' exact sums (a NamedTuple of arrays) together: every field adds exactly."""
    if a is None or b is None:
        return a if b is None else b
    return type(a)(*(x + z for x, z in zip(a, b)))


def _response(rows) -> np.ndarray:
    return rows.y if rows.offset is None else rows.y - rows.offset
