"""Encode new data the way a fit's data were encoded, for prediction.

The fixed-effect columns use the fit's factor levels and learned transforms (``DesignInfo``); a
level of a fixed-effect factor the fit never saw is an error, since it has no coefficient. A
grouping factor's new levels are not an error: they are marked (index -1) and the caller decides
what they mean (a draw from the population, or its mean).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hierax.design.build import DesignInfo, as_pandas, term_matrix
from hierax.design.evaluate import as_categorical, evaluate
from hierax.errors import DataError
from hierax.formula.terms import names_in, right_hand_nodes


@dataclass(frozen=True)
class NewBlock:
    """A random block on new data: ``Z`` (n, q) and ``group_index`` (n,), -1 for an unseen level,
    whose label is in ``new_labels`` (n,) (None for seen levels)."""

    Z: np.ndarray
    group_index: np.ndarray
    new_labels: np.ndarray


@dataclass(frozen=True)
class NewDesign:
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
    data = as_pandas(data)
    _check_columns(formula, data)
    state, levels = dict(info.transform_state), dict(info.categorical_levels)
    X, names = term_matrix(formula.intercept, formula.fixed, data, state, levels)
    if tuple(names) != tuple(fixed_names):
        raise DataError(f"the new data give fixed-effect columns {names}, the fit had {list(fixed_names)}")
    offset = None if formula.offset is None else _numeric(evaluate(formula.offset, data, state, levels))
    new_blocks = []
    for g, block in zip(formula.random, blocks):
        Z, _ = term_matrix(g.intercept, g.terms, data, state, levels)
        labels = _group_labels(g, data)
        position = {level: i for i, level in enumerate(block.levels)}
        index = np.array([position.get(label, -1) for label in labels], dtype=np.int64)
        new_blocks.append(NewBlock(Z, index, np.where(index < 0, labels, None)))
    return NewDesign(X, tuple(new_blocks), offset, _trials(formula, data, state, levels), len(data))


def _check_columns(formula, data: pd.DataFrame) -> None:
    """The columns the right-hand side needs (the response's are optional)."""
    needed = []
    for node in right_hand_nodes(formula):
        needed += [name for name in names_in(node) if name not in needed]
    missing = [name for name in needed if name not in data.columns]
    if missing:
        raise DataError(f"the new data lack column(s) {missing} that the formula uses")
    for name in needed:
        if data[name].isna().any():
            raise DataError(f"column {name!r} of the new data has missing values; drop or fill them first")


def _group_labels(g, data) -> np.ndarray:
    """Each row's level label of a (possibly interacted) grouping factor, as the fit writes them."""
    parts = [as_categorical(data[f.name].astype(object)) for f in g.group.factors]
    labels = [np.asarray(part.levels, dtype=object)[part.codes] for part in parts]
    joined = labels[0]
    for more in labels[1:]:
        joined = np.array([f"{a}:{b}" for a, b in zip(joined, more)], dtype=object)
    return joined


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
