"""Encode new data the way a fit's data were encoded, for prediction.

The fixed-effect columns use the fit's factor levels and learned transforms (``DesignInfo``); a
level of a fixed-effect factor the fit never saw is an error, since it has no coefficient. A
grouping factor's new levels are not an error: they are marked (index -1) and the caller decides
what they mean (a draw from the population, or its mean).

The columns are checked as the fit's were (``hierax.design.columns``), and each must be of the
kind it had in the fit: text where numbers were fitted is an error naming the column, not a
silent re-coding into dummies that no coefficient matches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hierax.design.build import DesignInfo, _response, as_pandas, check_finite_columns, term_matrix
from hierax.design.columns import SHOWN, check_complete, check_unique, check_values, value_roles
from hierax.design.evaluate import as_categorical, evaluate, is_categorical_series, level_label
from hierax.errors import DataError
from hierax.formula.terms import names_in, right_hand_nodes


@dataclass(frozen=True)
class NewDesign:
    """The fit's design on new rows: ``blocks`` are the fit's blocks on these rows
    (:meth:`hierax.design.block.Block.on_rows`)."""

    X: np.ndarray
    blocks: tuple
    offset: np.ndarray | None
    trials: np.ndarray | None
    num_obs: int


def encode_newdata(info: DesignInfo, fixed_names: tuple, blocks, data) -> NewDesign:
    """X, the random blocks and the offset of ``data``, encoded as the fit's.

    ``blocks`` are the fit's blocks (for their level names); ``trials`` are read when the
    response's columns are present (binomial), else None.
    """
    formula = info.formula
    data = as_pandas(data, "the new data")
    check_new_columns(info, data)
    state, levels = dict(info.transform_state), dict(info.categorical_levels)
    X, names = term_matrix(formula.intercept, formula.fixed, data, state, levels)
    if tuple(names) != tuple(fixed_names):
        raise DataError(f"the new data give fixed-effect columns {names}, the fit had {list(fixed_names)}; pass "
                        "columns of the same kinds (numbers or categories) as the data the model was fitted to")
    check_finite_columns(X, names, "fixed-effect")
    offset = None if formula.offset is None else _numeric(evaluate(formula.offset, data, state, levels))
    new_blocks = []
    for g, block in zip(formula.random, blocks):
        Z, _ = term_matrix(g.intercept, g.terms, data, state, levels)
        labels = _group_labels(g, data)
        position = {level: i for i, level in enumerate(block.levels)}
        index = np.array([position.get(label, -1) for label in labels], dtype=np.int64)
        new_blocks.append(block.on_rows(Z, index, np.where(index < 0, labels, None)))
    return NewDesign(X, tuple(new_blocks), offset, _trials(formula, data, state, levels), len(data))


def check_new_columns(info: DesignInfo, data: pd.DataFrame) -> None:
    """The columns the right-hand side needs (the response's are optional), each present once,
    complete, of a kind a predictor takes, and of the kind it had in the fit; extra columns are
    ignored.

    Raises
    ------
    DataError
        Naming the column, the problem and the fix.
    """
    formula = info.formula
    if len(data) == 0:
        raise DataError("the new data have no rows; pass at least one row to predict for")
    needed = []
    for node in right_hand_nodes(formula):
        needed += [name for name in names_in(node) if name not in needed]
    missing = [name for name in needed if name not in data.columns]
    if missing:
        raise DataError(f"the new data lack column(s) {missing} that the formula uses; add them to the new data "
                        f"(prediction needs every predictor and grouping factor: {needed})")
    check_unique(data, needed, "the new data")
    check_complete(data, needed, "the new data", needed)
    for name, numeric in value_roles(formula, response=False).items():
        check_values(data[name], name, "the new data", numeric, warn=False)
        _check_same_kind(data[name], name, info.categorical_levels.get(name))


def _check_same_kind(series: pd.Series, name: str, fitted_levels: tuple | None) -> None:
    """A column numeric in the fit is numeric here; one categorical there holds its levels here.

    ``fitted_levels`` are the fit's levels of ``name`` (None: it was numeric). Numbers where a
    factor was fitted are fine when they name its levels (a factor of codes 1, 2, 3).
    """
    categorical = is_categorical_series(series)
    if fitted_levels is None and categorical:
        shown = ", ".join(repr(str(v)) for v in pd.unique(series.astype(str))[:3])
        raise DataError(f"column {name!r} of the new data holds categories or text (e.g. {shown}), but it was "
                        f"numeric when the model was fitted; pass numbers, e.g. "
                        f"newdata[{name!r}] = pd.to_numeric(newdata[{name!r}])")
    if fitted_levels is not None and not categorical:
        labels = {level_label(v) for v in pd.unique(series)}
        unknown = sorted(labels - set(fitted_levels))
        if unknown:
            raise DataError(f"column {name!r} of the new data holds numbers ({', '.join(unknown[:SHOWN])}), but it was "
                            f"categorical when the model was fitted, with levels {list(fitted_levels[:8])}; pass "
                            "those levels, as in the data the model was fitted to")


def _group_labels(g, data) -> np.ndarray:
    """Each row's level label of a (possibly interacted) grouping factor, as the fit writes them."""
    parts = [as_categorical(data[f.name].astype(object)) for f in g.group.factors]
    labels = [np.asarray(part.levels, dtype=object)[part.codes] for part in parts]
    joined = labels[0]
    for more in labels[1:]:
        joined = np.array([f"{a}:{b}" for a, b in zip(joined, more)], dtype=object)
    return joined


def observed_response(info: DesignInfo, data) -> np.ndarray | None:
    """The response of rows of new ``data``, as the fit encoded its own (a two-level categorical
    as 0/1); None where ``data`` lacks its columns."""
    data = as_pandas(data)
    response = info.formula.response
    needed = [name for node in (response.value, response.failures) if node is not None for name in names_in(node)]
    if not all(name in data.columns for name in needed):
        return None
    return _response(info.formula, data, dict(info.transform_state))[0]


def _trials(formula, data, state, levels) -> np.ndarray | None:
    response = formula.response
    node = response.trials
    if response.failures is not None:
        needed = [name for part in (response.value, response.failures) for name in names_in(part)]
        present = all(name in data.columns for name in needed)
        if not present:
            return None
        return _numeric(evaluate(response.value, data, state, levels)) + \
            _numeric(evaluate(response.failures, data, state, levels))
    if node is None or not all(name in data.columns for name in names_in(node)):
        return None
    return _numeric(evaluate(node, data, state, levels))


def _numeric(value) -> np.ndarray:
    return np.asarray(value, dtype=float)
