"""The data's scale that default priors are set from, and how their numbers are rounded.

Kept apart from the prior rules so that a family's default priors (``hierax.model.families``)
and the rules that apply them share it without importing each other.
"""

from __future__ import annotations

import math

import numpy as np

SIGNIFICANT_DIGITS = 4   # of a default prior's scale: readable, and never 0 whatever the data's units


def significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``value`` to ``digits`` significant digits (not decimals: 2.5e-9 stays 2.5e-9, 2.5e7 stays 2.5e7)."""
    return float(f"{value:.{digits}g}")


def round_location(location: float, scale: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``location`` rounded to the decimal place of ``scale``'s last kept digit.

    A mean of 1,000,123 with an sd of 1 keeps its units digit; rounding it to significant digits
    of its own would move the prior's centre by hundreds of sds.
    """
    decimals = digits - 1 - math.floor(math.log10(scale))
    return float(round(location, decimals))


def data_scale(y, family) -> tuple[float, float]:
    """(m, s) of the default rule: for a family whose mean is a location (gaussian, student,
    lognormal on log y), the mean and sd of the (transformed) response; (0, 1) otherwise, one
    unit on the link scale."""
    if not family.location or len(y) < 2:
        return 0.0, 1.0
    values = np.asarray(family.transform(np.asarray(y, dtype=float)))
    return location_and_scale(float(np.mean(values)), float(np.std(values, ddof=1)))


def location_and_scale(mean: float, sd: float) -> tuple[float, float]:
    """(m, s) of the default rule from the (transformed) response's mean and sd (n - 1 in the
    denominator): out-of-core data give these from moments merged over chunks."""
    if not (np.isfinite(sd) and sd > 0):
        return 0.0, 1.0
    return round_location(mean, sd), sd
