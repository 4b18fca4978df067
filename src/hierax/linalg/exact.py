"""Sums whose bits do not depend on the order of their terms: the same in memory and over chunks.

A float64 sum of a million terms depends on the order of the additions, in its last bits. Those
bits are harmless to an estimate, but not to a Markov chain: NUTS amplifies a difference of
1e-16 in the log density until, after a few hundred iterations of warm-up, its draws share
nothing with the draws from the unperturbed density. So the collapsed sampler's statistics of
out-of-core data, summed chunk by chunk, would give other draws than the same rows in memory
under the same seed. Summed here, they give the same bits.

Each term is split into ``PARTS`` pieces, each an integer times a fixed power of two
(``grids``, from a bound on the terms and the number of terms). Every sum of such integers, in
any order and in any grouping, stays below 2^53 in magnitude, where float64 adds integers
exactly; so ``np.bincount`` and ``np.sum`` add them exactly, and chunks' sums add exactly. The
total is the pieces' sums scaled back and added in a fixed order. Three pieces of about
52 - log2(terms) bits each (26 bits for 20 million terms) carry 78 bits below the bound, so the
result is as accurate as a float64 sum of the same terms, or more.

The bound must be the same wherever the sum is formed (the largest |term| over all rows, or a
bound derived from such maxima), and so must the number of terms: ``grids(bound, total)``.
"""

from __future__ import annotations

import math

import numpy as np

PARTS = 3
BUDGET = 52          # bits of a float64 integer sum that stay exact (2^53 is the limit)


def grids(bound: float, total: int) -> tuple:
    """The ``PARTS`` exponents of the pieces of terms with |term| <= ``bound``, ``total`` of them."""
    step = max(int(total), 2).bit_length() + 1        # a sum of ``total`` pieces needs this many more bits
    if step >= BUDGET - 8:
        raise ValueError(f"{total} terms are too many for exact sums in float64")
    exponent = math.frexp(bound)[1] if bound > 0 and math.isfinite(bound) else 0   # bound < 2^exponent
    out = []
    for _ in range(PARTS):
        exponent = exponent + step - BUDGET           # |piece| <= 2^(BUDGET - step), so |sum| < 2^(BUDGET - 1)
        out.append(exponent)
    return tuple(out)


def pieces(values: np.ndarray, exponents: tuple) -> list:
    """``values`` split exactly into integer-valued pieces on the grids 2^exponent (the last keeps
    the rounding of what is below its grid)."""
    rest = np.asarray(values, dtype=float)
    out = []
    for g in exponents:
        if abs(g) < 900:                              # a power of two scales exactly; a product is 5x ldexp's speed
            q = np.rint(rest * 2.0 ** -g)
            rest = rest - q * 2.0 ** g                # exact: what is below the grid
        else:
            q = np.rint(np.ldexp(rest, -g))
            rest = rest - np.ldexp(q, g)
        out.append(q)
    return out


def exact_sums(values: np.ndarray, exponents: tuple, index: np.ndarray | None = None,
               levels: int = 0) -> np.ndarray:
    """(PARTS,) the pieces' sums, or (PARTS, levels) their sums by ``index``: exact integers."""
    split = pieces(values, exponents)
    if index is None:
        return np.array([np.sum(q) for q in split])
    return np.stack([np.bincount(index, q, minlength=levels) for q in split])


def total(sums: np.ndarray, exponents: tuple) -> np.ndarray:
    """The float64 value of pieces' sums (from :func:`exact_sums`, added over chunks)."""
    value = np.ldexp(sums[0], exponents[0])
    for k in range(1, len(exponents)):
        value = value + np.ldexp(sums[k], exponents[k])
    return value
