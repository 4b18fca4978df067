"""What each group-level effect varies around: its fixed effect and the groups it is nested in.

Centring a random effect properly means centring it on its mean (Gelfand, Sahu and Carlin 1995,
"Efficient parametrisations for normal linear mixed models", Biometrika 82(3)): a county's
coordinate is its whole intercept, beta_0 + u_county beta_u + b_county, not the deviation b_county
alone. When the data pin a level, they pin the whole; a deviation would then be tied to the fixed
coefficients (and to the effects of every coarser group it sits in) along a ridge that a
diagonal mass matrix cannot follow.

So for each block we record, per effect k, which fixed coefficients belong to the level's mean:
the columns of X that equal Z_k times a value constant within each level (the intercept for a
varying intercept, a county-level predictor such as log uranium, a year dummy for broods that
each lie in one year; for an observation-level effect, every column). And we record each coarser
block that nests it (every level of the finer factor lies in one level of the coarser) with the
effects they share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Parent:
    """A coarser block that nests this one.

    ``index[l]`` is the coarser level containing level l; ``terms`` pairs the positions of the
    shared effects (here, there).
    """

    block: str
    index: np.ndarray
    terms: tuple


def level_mean_design(block, X: np.ndarray) -> np.ndarray:
    """M (levels, q, p) with the level means of the fixed part m[l, k] = M[l, k] @ beta.

    Column c of X joins effect k when X[:, c] = Z[:, k] * g[level] for some per-level g, i.e. it
    is zero where Z_k is and its ratio to Z_k is constant within every level; M[l, k, c] = g[l].
    A column joins at most one effect (the first that fits).
    """
    levels, q, p = block.num_levels, block.num_terms, X.shape[1]
    M = np.zeros((levels, q, p))
    taken = np.zeros(p, dtype=bool)
    for k in range(q):
        for c in range(p):
            if not taken[c]:
                g = _per_level_ratio(X[:, c], block.Z[:, k], block.group_index, levels)
                if g is not None:
                    M[:, k, c], taken[c] = g, True
    return M


def _per_level_ratio(x: np.ndarray, z: np.ndarray, group_index: np.ndarray, levels: int) -> np.ndarray | None:
    """g with x = z * g[group_index], or None. Levels where z is zero throughout get g = 0."""
    scale = max(float(np.max(np.abs(x))), 1e-300)
    active = z != 0
    if np.any(np.abs(x[~active]) > 1e-12 * scale):
        return None
    ratio = x[active] / z[active]
    index = group_index[active]
    low = np.full(levels, np.inf)
    high = np.full(levels, -np.inf)
    np.minimum.at(low, index, ratio)
    np.maximum.at(high, index, ratio)
    seen = np.isfinite(low)
    if np.any(high[seen] - low[seen] > 1e-9 * max(float(np.max(np.abs(ratio), initial=0.0)), 1e-300)):
        return None
    return np.where(seen, low, 0.0)


def nesting_parents(block, others) -> tuple:
    """The blocks among ``others`` that nest ``block`` and share at least one effect with it.

    A block nests another when it has fewer levels and every level of the other occurs with
    exactly one of its levels in the data (``(1 | a/b)`` gives ``a:b`` nested in ``a``).
    """
    parents = []
    for other in others:
        if other is block or other.num_levels >= block.num_levels:
            continue
        shared = tuple((i, other.terms.index(t)) for i, t in enumerate(block.terms) if t in other.terms)
        index = _nesting_index(block.group_index, other.group_index, block.num_levels) if shared else None
        if index is not None:
            parents.append(Parent(other.name, index, shared))
    return tuple(parents)


def _nesting_index(fine: np.ndarray, coarse: np.ndarray, num_fine: int) -> np.ndarray | None:
    index = np.full(num_fine, -1, dtype=np.int64)
    index[fine] = coarse                           # the last coarse level seen with each fine level
    if np.any(index < 0) or np.any(index[fine] != coarse):
        return None
    return index
