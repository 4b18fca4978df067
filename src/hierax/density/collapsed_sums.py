"""The collapsed sampler's statistics as exact sums: the same bits in memory and out of core.

The collapsed density (``hierax.density.collapsed``) reads the data only through per-level
sums (:class:`~hierax.density.collapsed.GroupStats`), taken around a reference point beta_ref.
NUTS turns a difference in their last bit into different draws (``hierax.linalg.exact``), so
they are formed here from order-independent exact sums, and so is everything else the sampler
reads of the rows (beta_ref, and the start's crude fit):

1. bounds: the largest |value| of each column of X and Z, of y and of the row weights, and the
   number of rows (maxima do not depend on order);
2. beta_ref solves the normal equations of exact sums X'WX and X'Wy;
3. the per-level sums around beta_ref, and the columns' sums for the start's scales.

Rows in memory go through :func:`statistics` at once; out-of-core chunks give the
:class:`ReferenceSums` and :class:`LevelSums` of their rows, which add exactly, and
:func:`finish` turns their totals into the same statistics. Every product is formed elementwise
in a fixed order, so a row's terms have the same bits wherever the row is.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hierax.linalg.exact import exact_sums, grids, total


class Bounds(NamedTuple):
    """Bounds on the terms of every sum: the largest |value| of each column of X (``x``) and of
    Z (``z``), of the response (``y``) and of the row weights (``w``); ``count`` rows."""

    x: tuple
    z: tuple
    y: float
    w: float
    count: int

    @classmethod
    def of(cls, X, Z, y, w) -> Bounds:
        def largest(a, axis=None):
            return np.max(np.abs(a), axis=axis, initial=0.0)

        return cls(tuple(largest(X, 0).tolist()), tuple(largest(Z, 0).tolist()), float(largest(y)), float(largest(w)),
                   len(y))

    def residual(self, beta_ref) -> float:
        """A bound on |y - X beta_ref|."""
        return self.y + sum(abs(float(b)) * x for b, x in zip(beta_ref, self.x))

    def grid(self, *factors) -> tuple:
        return grids(float(np.prod(factors)) * self.w, self.count)


class ReferenceSums(NamedTuple):
    """Exact pieces of X'WX (PARTS, p, p) and X'Wy (PARTS, p): the reference point's equations."""

    XtX: np.ndarray
    Xty: np.ndarray


class LevelSums(NamedTuple):
    """Exact pieces of the statistics around beta_ref (a leading PARTS axis on each): per level
    ZtZ (q, q, levels), ZtX (q, p, levels), Zty (q, levels); totals XtX (p, p), Xty (p,), yty,
    n (the weights' sum), Xs (p,: the columns' sums) and rs (the residuals' sum)."""

    ZtZ: np.ndarray
    ZtX: np.ndarray
    Zty: np.ndarray
    XtX: np.ndarray
    Xty: np.ndarray
    yty: np.ndarray
    n: np.ndarray
    Xs: np.ndarray
    rs: np.ndarray


class Crude(NamedTuple):
    """The start's crude fit (``hierax.density.init``): beta, the residual sd, each column's sd."""

    beta: np.ndarray
    scale: float
    x_sd: np.ndarray


def reference_sums(X, y, w, bounds: Bounds) -> ReferenceSums:
    p = X.shape[1]
    Xw = X * w[:, None]
    XtX = [[exact_sums(Xw[:, k] * X[:, m], bounds.grid(bounds.x[k], bounds.x[m])) for m in range(p)] for k in range(p)]
    Xty = [exact_sums(Xw[:, k] * y, bounds.grid(bounds.x[k], bounds.y)) for k in range(p)]
    return ReferenceSums(_stack(XtX, 2, (p, p)), _stack(Xty, 1, (p,)))


def reference_point(sums: ReferenceSums, bounds: Bounds) -> np.ndarray:
    """beta_ref: the normal equations of the exact sums (a reference point only: the statistics
    around it are exact for any beta_ref; near least squares, they cancel least)."""
    p = len(bounds.x)
    if not p:
        return np.zeros(0)
    XtX = np.array([[float(total(sums.XtX[:, k, m], bounds.grid(bounds.x[k], bounds.x[m]))) for m in range(p)]
                    for k in range(p)])
    Xty = np.array([float(total(sums.Xty[:, k], bounds.grid(bounds.x[k], bounds.y))) for k in range(p)])
    return np.linalg.lstsq(XtX, Xty, rcond=None)[0]


def residual(X, y, beta_ref) -> np.ndarray:
    """y - X beta_ref, column by column in a fixed order (a matrix product's order of additions
    may depend on the number of rows)."""
    r = np.array(y, dtype=float)
    for k in range(X.shape[1]):
        r = r - X[:, k] * beta_ref[k]
    return r


def level_sums(X, Z, index, levels: int, y, w, beta_ref, bounds: Bounds) -> LevelSums:
    q, p = Z.shape[1], X.shape[1]
    r = residual(X, y, beta_ref)
    rb = bounds.residual(beta_ref)
    Zw, Xw = Z * w[:, None], X * w[:, None]

    def by_level(values, *factors):
        return exact_sums(values, bounds.grid(*factors), index, levels)

    ZtZ = [[by_level(Zw[:, i] * Z[:, k], bounds.z[i], bounds.z[k]) for k in range(q)] for i in range(q)]
    ZtX = [[by_level(Zw[:, i] * X[:, k], bounds.z[i], bounds.x[k]) for k in range(p)] for i in range(q)]
    Zty = [by_level(Zw[:, i] * r, bounds.z[i], rb) for i in range(q)]
    XtX = [[exact_sums(Xw[:, k] * X[:, m], bounds.grid(bounds.x[k], bounds.x[m])) for m in range(p)] for k in range(p)]
    Xty = [exact_sums(Xw[:, k] * r, bounds.grid(bounds.x[k], rb)) for k in range(p)]
    Xs = [exact_sums(Xw[:, k], bounds.grid(bounds.x[k])) for k in range(p)]
    return LevelSums(_stack(ZtZ, 2, (q, q, levels)), _stack(ZtX, 2, (q, p, levels)), _stack(Zty, 1, (q, levels)),
                     _stack(XtX, 2, (p, p)), _stack(Xty, 1, (p,)), exact_sums(w * r * r, bounds.grid(rb, rb)),
                     exact_sums(w, bounds.grid()), _stack(Xs, 1, (p,)), exact_sums(w * r, bounds.grid(rb)))


def finish(sums: LevelSums, bounds: Bounds, beta_ref):
    """(GroupStats, Crude) from the totals of the exact sums (every chunk's added)."""
    from hierax.density.collapsed import GroupStats

    q, p, rb = len(bounds.z), len(bounds.x), bounds.residual(beta_ref)

    def value(pieces, *factors):
        return total(pieces, bounds.grid(*factors))

    ZtZ = np.array([[value(sums.ZtZ[:, i, k], bounds.z[i], bounds.z[k]) for k in range(q)] for i in range(q)])
    ZtX = np.array([[value(sums.ZtX[:, i, k], bounds.z[i], bounds.x[k]) for k in range(p)] for i in range(q)])
    Zty = np.array([value(sums.Zty[:, i], bounds.z[i], rb) for i in range(q)])
    XtX = np.array([[value(sums.XtX[:, k, m], bounds.x[k], bounds.x[m]) for m in range(p)] for k in range(p)])
    Xty = np.array([value(sums.Xty[:, k], bounds.x[k], rb) for k in range(p)])
    yty, n, rs = value(sums.yty, rb, rb), value(sums.n), value(sums.rs, rb)
    Xs = np.array([value(sums.Xs[:, k], bounds.x[k]) for k in range(p)])
    ZtX = ZtX.reshape(q, p, -1) if p else np.zeros((q, 0, ZtZ.shape[-1]))
    stats = GroupStats(ZtZ, ZtX, Zty, XtX.reshape(p, p), Xty.reshape(p), np.asarray(yty), np.asarray(n),
                       np.asarray(beta_ref, float))
    mean_r = rs / n
    x_sd = np.sqrt(np.maximum(np.diag(XtX.reshape(p, p)) / n - (Xs.reshape(p) / n) ** 2, 0.0)) if p else np.zeros(0)
    return stats, Crude(np.asarray(beta_ref, float), float(np.sqrt(max(yty / n - mean_r**2, 0.0))), x_sd)


def statistics(X, Z, index, levels: int, y, w):
    """(GroupStats, Crude) of rows in memory: the same bits as their chunks' sums give."""
    X, Z, y, w = (np.asarray(a, dtype=float) for a in (X, Z, y, w))
    bounds = Bounds.of(X, Z, y, w)
    beta_ref = reference_point(reference_sums(X, y, w, bounds), bounds)
    return finish(level_sums(X, Z, index, levels, y, w, beta_ref, bounds), bounds, beta_ref)


def _stack(nested, depth: int, shape: tuple) -> np.ndarray:
    """Nested lists (``depth`` deep) of (PARTS, ...) arrays as one (PARTS, *shape) array."""
    from hierax.linalg.exact import PARTS

    if not np.prod(shape[:depth]):
        return np.zeros((PARTS,) + shape)
    array = np.array(nested)                      # (*shape[:depth], PARTS, *rest)
    return np.moveaxis(array, depth, 0).reshape((PARTS,) + shape)
