"""Build the model matrices from a resolved formula and a data frame.

Fixed effects become a dense ``X`` (n x p). Each group term becomes a :class:`~hierax.design.block.Block`:
the per-row effect design ``Z`` (n x q, dense but only q wide), an integer ``group_index``
(n,), and the level names. The full random-effects matrix (n x levels*q) is never formed: the
linear predictor adds ``sum(Z * b[group_index], axis=1)`` for each block.

Categorical predictors use treatment contrasts by R's rule: a factor in a term is coded by
contrasts (first level dropped) when the term without that factor is also in the model
(the intercept counts as the empty term), and by full indicators otherwise. Labels are
``name[level]``, joined with ``:`` in interactions, as in ``period[2]`` or ``a[x]:b``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hierax.design.block import Block
from hierax.design.columns import check_data_columns, check_many_levels
from hierax.design.evaluate import Categorical, as_categorical, evaluate
from hierax.design.incomplete import Censoring, Truncation, censoring_of, truncation_of
from hierax.errors import DataError
from hierax.formula.nodes import Name, to_text
from hierax.formula.terms import Formula, GroupTerm, Term


@dataclass(frozen=True)
class DesignInfo:
    """What is needed to encode new data the way the fit's data were encoded."""

    formula: Formula
    categorical_levels: dict = field(default_factory=dict)
    transform_state: dict = field(default_factory=dict)
    response_levels: tuple | None = None


@dataclass(frozen=True)
class Design:
    """Numeric arrays for one formula and one data set; engines never see the formula.

    ``trials`` is set for binomial data, ``se`` for a known measurement sd, ``offset`` for
    ``offset(...)``, ``weights`` for ``weights(w)``; each is None otherwise.
    """

    y: np.ndarray
    X: np.ndarray
    fixed_names: tuple
    random: tuple
    response_name: str
    info: DesignInfo
    trials: np.ndarray | None = None
    se: np.ndarray | None = None
    offset: np.ndarray | None = None
    weights: np.ndarray | None = None
    se_sigma: bool = False              # se(s, sigma = TRUE): a residual sd beside the known ones
    censoring: Censoring | None = None  # cens(): each row's code, and y2 (hierax.design.incomplete)
    truncation: Truncation | None = None    # trunc(): each row's bounds

    @property
    def num_obs(self) -> int:
        return len(self.y)


def build_design(formula: Formula, data) -> Design:
    """Evaluate ``formula`` on ``data``: response, fixed-effect matrix and random blocks.

    Parameters
    ----------
    formula : Formula
        From :func:`hierax.formula.parse_formula`.
    data : pandas.DataFrame, polars.DataFrame or a mapping of columns.

    Raises
    ------
    DataError
        For a missing or duplicated column (with the closest names), missing or infinite values,
        numbers stored as text, dates (``hierax.design.columns``), a non-numeric response, a
        grouping factor with a single level, or collinear fixed effects.

    Warns
    -----
    UserWarning
        For a text predictor with about one level per two rows or more.
    """
    data = as_pandas(data)
    check_data_columns(formula, data)
    check_many_levels(formula, data)
    state: dict = {}
    levels: dict = {}
    y, failures, response_levels = _response(formula, data, state)
    trials = None
    if failures is not None:
        trials = y + failures
    elif formula.response.trials is not None:
        trials = _numeric_column(formula.response.trials, data, state, "trials()")
    se = None if formula.response.se is None else _numeric_column(formula.response.se, data, state, "se()")
    offset = None if formula.offset is None else _numeric_column(formula.offset, data, state, "offset()")
    weights = (None if formula.response.weights is None
               else _numeric_column(formula.response.weights, data, state, "weights()"))
    X, names = term_matrix(formula.intercept, formula.fixed, data, state, levels)
    check_finite_columns(X, names, "fixed-effect")
    check_full_rank(X, names)
    blocks = _random_blocks(formula.random, data, state, levels)
    info = DesignInfo(formula, levels, state, response_levels)
    censoring = censoring_of(formula.response, data, state, y)
    truncation = truncation_of(formula.response, data, state, y, censoring)
    return Design(y, X, tuple(names), blocks, formula.response.label, info, trials, se, offset, weights,
                  formula.response.se_sigma, censoring, truncation)


def as_pandas(data, what: str = "data") -> pd.DataFrame:
    """Accept pandas, polars (via ``to_pandas``) or a dict of columns (``what`` names the
    argument in messages)."""
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True)
    if hasattr(data, "to_pandas") and not isinstance(data, pd.Series):
        return data.to_pandas().reset_index(drop=True)
    if isinstance(data, dict):
        try:
            return pd.DataFrame(data)
        except ValueError as error:      # unequal lengths, or scalars only
            raise DataError(f"{what} given as a dict cannot be made a table ({error}); give every column as a "
                            "list or array of the same length, e.g. {'x': [1.0, 2.0], 'g': ['a', 'b']}") from None
    raise DataError(f"{what} must be a pandas or polars DataFrame (or a dict of columns), got {type(data).__name__}; "
                    "for a Series, use series.to_frame()")


def check_finite_columns(matrix: np.ndarray, names, kind: str) -> None:
    """Columns computed from finite data can still be infinite or NaN (``I(x / z)`` with z = 0,
    ``I(x^1000)``); such a column would be reported as collinear or poison the fit."""
    bad = ~np.isfinite(matrix)
    for j in np.flatnonzero(bad.any(axis=0)):
        raise DataError(f"{kind} column {names[j]!r} is not a finite number in {int(bad[:, j].sum())} row(s) "
                        f"(e.g. row {int(np.argmax(bad[:, j]))}: a division by zero or an overflow); transform the "
                        "columns so that every value is a finite number, or drop those rows")


def _response(formula: Formula, data, state):
    """The outcome as floats; a two-level categorical becomes 0/1 (second level = 1)."""
    value = evaluate(formula.response.value, data, state)
    label = formula.response.label
    response_levels = None
    if isinstance(value, Categorical):
        if len(value.levels) != 2 or formula.response.failures is not None:
            raise DataError(
                f"the response {label!r} is not numeric (levels {list(value.levels)[:5]}); "
                "use a numeric column, or a two-level one for a bernoulli model"
            )
        response_levels = value.levels
        value = value.codes.astype(float)
    failures = None
    if formula.response.failures is not None:
        failures = _numeric_column(formula.response.failures, data, state, "cbind()")
    if not np.all(np.isfinite(value)):
        raise DataError(f"the response {label!r} is not a finite number in {int(np.sum(~np.isfinite(value)))} row(s) "
                        "(e.g. a division by zero); drop those rows, or transform the response so that every value "
                        "is a finite number")
    return np.asarray(value, dtype=float), failures, response_levels


def _numeric_column(node, data, state, where: str) -> np.ndarray:
    value = evaluate(node, data, state)
    if isinstance(value, Categorical):
        raise DataError(f"{to_text(node)!r} in {where} must be numeric, but it holds categories (levels "
                        f"{list(value.levels[:5])}); use a numeric column")
    if not np.all(np.isfinite(value)):
        raise DataError(f"{to_text(node)!r} in {where} is not a finite number in {int(np.sum(~np.isfinite(value)))} "
                        "row(s); drop those rows, or transform the columns so that every value is a finite number")
    return np.asarray(value, dtype=float)


def term_matrix(intercept: bool, terms: tuple, data, state, levels) -> tuple[np.ndarray, list[str]]:
    """Columns for an intercept and ``terms``, with R's contrast rule."""
    present = {frozenset()} if intercept else set()
    present |= {t.key for t in terms}
    columns = [np.ones(len(data))] if intercept else []
    names = ["(Intercept)"] if intercept else []
    for term in terms:
        cols, labels = _term_columns(term, present, data, state, levels)
        columns.extend(cols)
        names.extend(labels)
    X = np.column_stack(columns) if columns else np.zeros((len(data), 0))
    return X, names


def _term_columns(term: Term, present: set, data, state, levels):
    cols, labels = [np.ones(len(data))], [""]
    for factor in term.factors:
        text = to_text(factor)
        value = evaluate(factor, data, state, levels)
        if isinstance(value, Categorical):
            levels[text] = value.levels
            contrast = (term.key - {text}) in present
            used = value.levels[1:] if contrast else value.levels
            offset = 1 if contrast else 0
            f_cols = [(value.codes == i + offset).astype(float) for i in range(len(used))]
            f_labels = [f"{text}[{lev}]" for lev in used]
        else:
            f_cols, f_labels = [value], [text]
        # The earlier factors vary fastest, as in R's model.matrix.
        cols = [c * fc for fc in f_cols for c in cols]
        labels = [_join(lab, fl) for fl in f_labels for lab in labels]
    return cols, labels


def _join(left: str, right: str) -> str:
    return right if not left else f"{left}:{right}"


def check_full_rank(X: np.ndarray, names: list[str]) -> None:
    """Fixed effects must be identifiable: report the first column that others determine."""
    if X.shape[1] == 0 or np.linalg.matrix_rank(X) == X.shape[1]:
        return
    for j in range(1, X.shape[1] + 1):
        if np.linalg.matrix_rank(X[:, :j]) < j:
            raise DataError(
                f"fixed effect {names[j - 1]!r} is a linear combination of the columns before it "
                f"({', '.join(names[: j - 1])}); remove it or the terms it duplicates"
            )


def _random_blocks(group_terms: tuple, data, state, levels) -> tuple:
    blocks, seen = [], {}
    for g in group_terms:
        Z, names = term_matrix(g.intercept, g.terms, data, state, levels)
        check_finite_columns(Z, names, f"group-level ({g.group_label})")
        group_index, group_levels = _group_index(g, data)
        seen[g.group_label] = seen.get(g.group_label, 0) + 1
        name = g.group_label if seen[g.group_label] == 1 else f"{g.group_label}.{seen[g.group_label]}"
        blocks.append(Block(name, g.group_label, tuple(names), group_levels, Z, group_index, g.correlated))
    return tuple(blocks)


def _group_index(g: GroupTerm, data) -> tuple[np.ndarray, tuple]:
    """Levels of a (possibly interacted) grouping factor, sorted by the levels of its parts."""
    parts = [as_categorical(data[f.name].astype(object) if isinstance(f, Name) else f) for f in g.group.factors]
    key = np.zeros(len(parts[0].codes), dtype=np.int64)
    for part in parts:                              # mixed radix: sorts as the parts' levels do
        key = key * len(part.levels) + part.codes
    unique, inverse = np.unique(key, return_inverse=True)
    rows = []
    for part in reversed(parts):
        rows.append(unique % len(part.levels))
        unique = unique // len(part.levels)
    rows = np.column_stack(rows[::-1])
    level_names = tuple(":".join(parts[k].levels[row[k]] for k in range(len(parts))) for row in rows)
    if len(level_names) < 2:
        raise DataError(
            f"grouping factor {g.group_label!r} has only one level ({level_names[0]!r}); a varying "
            "effect needs at least two groups. Remove the group term or check the column"
        )
    return inverse.reshape(-1).astype(np.int32), level_names
