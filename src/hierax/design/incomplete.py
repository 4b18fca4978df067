"""Responses the data record only in part: censored (``cens()``) and truncated (``trunc()``).

brms's coding, so a brms user's data and formula work unchanged:

- ``y | cens(censored)``: each row's code is "none" (0: y observed), "right" (1: the value lies
  above y), "left" (-1: below y) or "interval" (2: between y and y2, from ``cens(censored, y2)``);
  text, those numbers, or True/False (True: right-censored, as brms reads a logical).
- ``y | trunc(lb = 0, ub = 10)``: values outside [lb, ub] could not have been observed at all;
  bounds are numbers or columns. A lower bound at or below the family's support (0 for a
  positive family) truncates nothing and is dropped (:func:`within_support`, by the model stage).

Checked here, with the rows named: codes outside the set, interval rows without an upper end
above y, and bounds that exclude a value the data recorded.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hierax.design.evaluate import Categorical, evaluate
from hierax.errors import DataError, HieraxError
from hierax.formula.nodes import to_text

NONE, RIGHT, LEFT, INTERVAL = 0, 1, -1, 2
CODES = {"none": NONE, "right": RIGHT, "left": LEFT, "interval": INTERVAL, "True": RIGHT, "False": NONE}
SHOWN = 5


class Censoring(NamedTuple):
    """Per row, the censoring code (:data:`NONE`, :data:`RIGHT`, :data:`LEFT`, :data:`INTERVAL`)
    and the upper end of an interval-censored row (y itself on the other rows)."""

    code: np.ndarray
    y2: np.ndarray

    @property
    def share(self) -> float:
        return float(np.mean(self.code != NONE))


class Truncation(NamedTuple):
    """Per row, the bounds (-inf and inf where there is none)."""

    lower: np.ndarray
    upper: np.ndarray


def censoring_of(response, data, state: dict, y: np.ndarray) -> Censoring | None:
    """The :class:`Censoring` of ``response.cens`` (and ``cens_y2``) on ``data``, checked."""
    if response.cens is None:
        return None
    code = _codes(evaluate(response.cens, data, state), to_text(response.cens))
    interval = code == INTERVAL
    if response.cens_y2 is None:
        if interval.any():
            raise DataError(f"{_rows(interval)} interval-censored (code 'interval' or 2) but cens() has no upper "
                            "end; write cens(censored, y2) with y2 the interval's upper end")
        return Censoring(code, np.asarray(y, float).copy())
    y2 = np.asarray(evaluate(response.cens_y2, data, state), float)
    bad = interval & ~(np.isfinite(y2) & (y2 > y))
    if bad.any():
        raise DataError(f"{_rows(bad)} interval-censored, but y2 ({to_text(response.cens_y2)!r}) is not above the "
                        f"response there (values {_values(y2[bad])}, response {_values(y[bad])}); an "
                        "interval's upper end must exceed its lower end, the response")
    return Censoring(code, np.where(interval, y2, y))


def truncation_of(response, data, state: dict, y: np.ndarray, censoring: Censoring | None) -> Truncation | None:
    """The :class:`Truncation` of ``response.trunc_lb``/``trunc_ub`` on ``data``, checked against
    the values the data recorded (y, and y2 of interval-censored rows)."""
    if response.trunc_lb is None and response.trunc_ub is None:
        return None
    n = len(y)
    lower = _bound(response.trunc_lb, data, state, n, -np.inf, "lb")
    upper = _bound(response.trunc_ub, data, state, n, np.inf, "ub")
    crossed = lower >= upper
    if crossed.any():
        raise DataError(f"trunc(): lb is not below ub in {_rows(crossed)}; the bounds must leave room for values")
    top = y if censoring is None else np.where(censoring.code == INTERVAL, censoring.y2, y)
    outside = (y < lower) | (top > upper)
    if outside.any():
        raise DataError(f"trunc() excludes values the data recorded: {_rows(outside)} lie outside [lb, ub] "
                        f"(values {_values(y[outside])}); a truncated response can only be observed inside "
                        "its bounds, so check the bounds or the data")
    return Truncation(lower, upper)


def within_support(truncation: Truncation | None, support_lower: float) -> Truncation | None:
    """``truncation`` less the lower bounds at or below the family's support (they exclude
    nothing: trunc(lb = 0) of a positive family), or None where no bound is left."""
    if truncation is None:
        return None
    lower = np.where(truncation.lower <= support_lower, -np.inf, truncation.lower)
    if np.all(np.isinf(lower)) and np.all(np.isinf(truncation.upper)):
        return None
    return Truncation(lower, truncation.upper)


def _codes(value, label: str) -> np.ndarray:
    if isinstance(value, Categorical):
        unknown = [level for level in value.levels if level not in CODES]
        if unknown:
            raise DataError(f"cens({label}) holds {unknown[:SHOWN]}, which are not censoring codes; use 'none', "
                            "'right', 'left' or 'interval' (or -1, 0, 1, 2; or True for right-censored)")
        table = np.array([CODES[level] for level in value.levels], dtype=np.int8)
        return table[np.asarray(value.codes)]
    value = np.asarray(value, float)
    bad = ~np.isin(value, [NONE, RIGHT, LEFT, INTERVAL])
    if bad.any():
        raise DataError(f"cens({label}) is {_values(np.unique(value[bad]))} in {_rows(bad)}; censoring "
                        "codes are -1 (left), 0 (none), 1 (right) and 2 (interval), or the words 'left', 'none', "
                        "'right' and 'interval'")
    return value.astype(np.int8)


def _bound(node, data, state: dict, n: int, absent: float, name: str) -> np.ndarray:
    if node is None:
        return np.full(n, absent)
    value = evaluate(node, data, state)
    if isinstance(value, Categorical):
        raise DataError(f"trunc({name} = {to_text(node)}) must be a number or a numeric column, not categories")
    value = np.broadcast_to(np.asarray(value, float), (n,)).copy()
    if np.isnan(value).any():
        raise DataError(f"trunc({name} = {to_text(node)}) is missing in {_rows(np.isnan(value))}")
    return value


def _rows(mask: np.ndarray) -> str:
    """'rows 3, 7' or 'row 3': positions counted from 0, as the data checks of
    ``hierax.design.columns`` give them."""
    index = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in index[:SHOWN])
    more = f" and {len(index) - SHOWN} more" if len(index) > SHOWN else ""
    return f"row{'s' if len(index) > 1 else ''} {shown}{more}"


def _values(values: np.ndarray) -> str:
    """The first few values, as a reader writes them: '[1.5, -2]'."""
    return "[" + ", ".join(f"{v:.6g}" for v in values[:SHOWN]) + (", ..." if len(values) > SHOWN else "") + "]"


def refuse_truncated_draws(truncation: Truncation | None, what: str, instead: str = "") -> None:
    """A HieraxError for ``what`` (simulated responses or their means) of a truncated model: the
    family's own draws and mean ignore the bounds, and would be silently wrong. ``instead``: what
    the caller can offer in their place."""
    if truncation is not None:
        raise HieraxError(f"{what} of a truncated response (trunc()) are not available yet: the family's draws and "
                          f"mean ignore the bounds. The fit's parameters are right{instead}")
