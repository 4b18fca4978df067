"""Evaluate formula expressions on a data frame.

An expression gives either a numeric vector or a :class:`Categorical`. Transforms that depend on
the data (``scale``, ``center``) record what they learned (mean, sd) so that new data are
encoded the same way; that record is part of ``DesignInfo``.
"""

from __future__ import annotations

import decimal
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hierax.errors import DataError
from hierax.formula.nodes import BinOp, Call, Name, Neg, Number, Paren, to_text

_ELEMENTWISE = {
    "log": np.log, "log1p": np.log1p, "log2": np.log2, "log10": np.log10,
    "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs,
}
_ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "^": np.power}


@dataclass(frozen=True)
class Categorical:
    """A categorical variable: integer ``codes`` into ``levels`` (strings, in order)."""

    codes: np.ndarray
    levels: tuple


def is_categorical_series(series: pd.Series) -> bool:
    """Strings, booleans and pandas categoricals are categorical; numbers are numeric, also when
    an object column holds them (as Python or NumPy numbers, not as text)."""
    if pd.api.types.is_bool_dtype(series):
        return True
    return not (pd.api.types.is_numeric_dtype(series) or holds_numbers(series))


def holds_numbers(series: pd.Series) -> bool:
    """An object column whose values (missing ones aside) are all ints, floats or Decimals, not
    booleans or text: numbers in a column that lost its numeric type (e.g. built from mixed
    records). Read as numbers, not as one category per value."""
    if series.dtype != object:
        return False
    values = series.dropna()
    return len(values) > 0 and all(
        isinstance(v, (numbers.Real, decimal.Decimal)) and not isinstance(v, (bool, np.bool_)) for v in values)


def level_label(value) -> str:
    """How a level is written in labels: ``3.0`` as ``3``, strings as they are."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def as_categorical(series: pd.Series, levels: tuple | None = None) -> Categorical:
    """Encode ``series`` with the given ``levels``, or with its own levels in sorted order.

    Levels of a pandas categorical keep their declared order (as R factors do); other values
    are sorted (numbers numerically), as R's ``factor()`` does.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=False)   # label each distinct value once
    uniques = list(uniques)
    if levels is None:
        declared = tuple(series.cat.categories) if isinstance(series.dtype, pd.CategoricalDtype) else None
        levels = ordered_levels(uniques, declared)
    index = {level: i for i, level in enumerate(levels)}
    labels = [level_label(v) for v in uniques]
    position = np.array([index.get(label, -1) for label in labels], dtype=np.int32)
    if (position < 0).any():
        unseen = sorted(label for label, k in zip(labels, position) if k < 0)[:5]
        raise DataError(f"column {series.name!r} has level(s) {unseen} that the fit did not have (its levels: "
                        f"{list(levels[:8])}); a fixed effect has no coefficient for a new level: drop those rows, "
                        "or refit with data that include the level")
    return Categorical(position[codes], tuple(levels))


def ordered_levels(values, declared: tuple | None = None) -> tuple:
    """The level labels of the distinct raw ``values`` (missing ones ignored): in the ``declared``
    order of a pandas categorical's categories, else sorted (numbers numerically), as R's
    ``factor()`` orders them. Shared by :func:`as_categorical` and the out-of-core scan
    (``hierax.design.summary``), which meets the values a chunk at a time."""
    present = [v for v in values if not pd.isna(v)]
    if declared is not None:
        present = set(present)
        raw = [c for c in declared if c in present]
    else:
        raw = sorted(present, key=_sort_key)
    return tuple(level_label(v) for v in raw)


def _sort_key(value):
    return (0, float(value), "") if isinstance(value, (int, float, np.number, bool)) else (1, 0.0, str(value))


def evaluate(node, data: pd.DataFrame, state: dict, categorical_levels: dict | None = None):
    """Value of expression ``node`` on ``data``.

    Parameters
    ----------
    node : formula node
    data : the data frame (already checked to hold every column the formula names).
    state : dict
        Learned transform parameters keyed by expression text; filled in when empty (fitting),
        read when present (new data).
    categorical_levels : dict, optional
        Levels of categorical expressions keyed by text, to encode new data like the fit.
    """
    categorical_levels = categorical_levels or {}
    if isinstance(node, Paren):
        return evaluate(node.inner, data, state, categorical_levels)
    if isinstance(node, Number):
        return np.full(len(data), node.value)
    if isinstance(node, Name):
        column = data[node.name]
        if is_categorical_series(column):
            return as_categorical(column, categorical_levels.get(node.name))
        return column.to_numpy(dtype=float)
    if isinstance(node, Neg):
        return -_numeric(evaluate(node.operand, data, state, categorical_levels), node)
    if isinstance(node, BinOp):
        left = _numeric(evaluate(node.left, data, state, categorical_levels), node.left)
        right = _numeric(evaluate(node.right, data, state, categorical_levels), node.right)
        with np.errstate(all="ignore"):          # x / 0 and overflows: the design's finiteness check names them
            return _ARITHMETIC[node.op](left, right)
    if isinstance(node, Call):
        return _call(node, data, state, categorical_levels)
    raise TypeError(f"cannot evaluate {node!r}")


def _call(node: Call, data, state, categorical_levels):
    text = to_text(node)
    if node.func in ("factor", "as.factor"):
        inner = node.args[0]
        if isinstance(inner, Name):
            return as_categorical(data[inner.name], categorical_levels.get(text))
        values = evaluate(inner, data, state, categorical_levels)
        return as_categorical(pd.Series(values, name=text), categorical_levels.get(text))
    values = _numeric(evaluate(node.args[0], data, state, categorical_levels), node.args[0])
    if node.func in ("I", "mi", "me"):  # mi(x), me(x, sdx): the column (filled where missing: hierax.missing_predictor)
        return values
    if node.func in _ELEMENTWISE:
        with np.errstate(all="ignore"):
            out = _ELEMENTWISE[node.func](values)
        if not np.all(np.isfinite(out)):
            raise DataError(f"{text} is not finite for some rows (e.g. log of a value <= 0); transform the column first")
        return out
    if node.func in ("scale", "center"):
        if text not in state:
            sd = float(np.std(values, ddof=1)) if node.func == "scale" else 1.0
            if sd == 0.0:
                raise DataError(f"{text}: the column is constant, so it cannot be scaled; a constant predictor has no "
                                "effect to estimate: remove it from the formula")
            state[text] = (float(np.mean(values)), sd)
        mean, sd = state[text]
        return (values - mean) / sd
    raise TypeError(f"unknown function {node.func}")


def _numeric(value, node):
    if isinstance(value, Categorical):
        raise DataError(f"{to_text(node)!r} is categorical (levels {list(value.levels[:5])}), but arithmetic and "
                        "functions such as log() need numbers; use a numeric column, or use the categorical "
                        "column as a term of its own")
    return value
