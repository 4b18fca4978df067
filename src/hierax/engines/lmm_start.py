"""A start for the optimiser of a ratings-sized crossed model: theta fitted on a subsample.

Each evaluation of such a model's objective costs a dense Cholesky factorisation and inverse of
the Schur complement (ml-1m's shape: 3,706 x 3,706, about a second on two cores), so the number
of evaluations sets the time. From lme4's start (identity factors) L-BFGS-B takes about twelve.
Started from the relative sds of the same model fitted to the rows of a few hundred random levels
of the widest block after the first (items, in ratings data), whose Schur complement is that
small, it takes about half as many. The subsample fixes only where the optimiser starts; the
estimates are those of the whole data, to the same convergence tolerance.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

LEVELS_KEPT = 400          # levels of the widest block after the first kept in the subsample
SMALLEST_START = 0.05      # a relative sd the subsample puts nearer 0 starts here (not on the bound)


def subsample(X: np.ndarray, y: np.ndarray, blocks, shape, seed: int = 0):
    """X, y and the blocks on the rows of ``LEVELS_KEPT`` random levels of the widest block after
    the first, every block's levels renumbered to those observed; None when that block is not
    more than twice that wide (the whole data are then about as cheap)."""
    widest = blocks[shape.order[1]]
    if widest.num_levels <= 2 * LEVELS_KEPT:
        return None
    kept = np.zeros(widest.num_levels, bool)
    kept[np.random.default_rng(seed).choice(widest.num_levels, LEVELS_KEPT, replace=False)] = True
    rows = kept[widest.group_index]
    return X[rows], y[rows], [_on_subset(block, rows) for block in blocks]


def _on_subset(block, rows: np.ndarray):
    """The block (``hierax.design.block.Block``) on those rows, its levels those observed there."""
    levels, index = np.unique(block.group_index[rows], return_inverse=True)
    return replace(block, levels=tuple(block.levels[i] for i in levels), Z=block.Z[rows], group_index=index.ravel())


def usable_start(theta: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """The subsample's theta with its relative sds at least ``SMALLEST_START`` (a start on the
    bound has a zero gradient there, which a gradient method cannot leave)."""
    return np.where(np.isfinite(lower), np.maximum(theta, SMALLEST_START), theta)
