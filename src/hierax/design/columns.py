"""Check the columns a formula uses before they are evaluated, for the fit's data and new data.

A data frame can hold values that evaluate without complaint and still give a wrong model: a
numeric column read as text (``"1.5"``, ``"2.0"``) or with one stray entry (``"n/a"``) would
become a factor with one dummy per distinct value, and so would a column of dates. hierax
refuses these rather than fit a model nobody asked for, naming the column, the offending values
and the conversion that fixes it. ``factor(x)`` says that a column is categorical on purpose,
so a column used only inside ``factor()`` is not checked for its kind, and neither is a grouping
factor (its values are labels, whatever their type).

A column has one of two roles. It is *numeric* where only numbers make sense: the response,
``cbind()``, ``trials()``, ``se()``, ``offset()``, and inside functions and arithmetic
(``log(x)``, ``I(x / z)``). It is a *term* where it stands as a factor of a term (``x``, ``x:f``,
``(1 + x | g)``): numbers, or categories by its own type. Where the line is:

- text whose values all read as numbers: refused in a numeric role (convert it). As a term:
  refused with more than 20 levels (a numeric column read as text: "1.5", "2.0", ...); with 20 or
  fewer, read as categorical with a warning, since ``data.astype({"period": str})`` is how
  pandas users mark integer codes as categories (``factor(period)`` silences the warning, and
  ``pd.to_numeric`` makes it a number);
- text whose values mostly read as numbers (at least half the rows), with a few that do not:
  refused, listing the strays (convert with ``errors="coerce"`` and drop the rows, or ``factor``);
- dates, durations and complex numbers: refused (convert them to numbers);
- infinite numbers: refused (they are not data a likelihood can use);
- text with many levels, about one per two rows or more (at least 20), as a term: a warning,
  since an identifier used as a predictor gives a coefficient per row; the fit goes on. A
  different value in every row is refused: the coefficients would reproduce the data exactly.

A genuine categorical column (text levels, booleans, a pandas categorical) passes silently, and so
does an object column holding numbers (not text): it is read as numbers.
"""

from __future__ import annotations

import datetime
import difflib
import unicodedata
import warnings

import numpy as np
import pandas as pd

from hierax.design.evaluate import holds_numbers
from hierax.errors import DataError
from hierax.formula.nodes import BinOp, Call, Name, Neg, Paren, to_text
from hierax.formula.terms import Formula

FACTOR_CALLS = ("factor", "as.factor")
CODE_LEVELS = 20                      # number-like text as a term with this many levels or fewer: codes
HIGH_CARDINALITY_MIN_LEVELS = 20      # fewer levels than this never warn, whatever the rows
HIGH_CARDINALITY_SHARE = 0.5          # levels above this share of the rows warn
MOSTLY_NUMERIC_SHARE = 0.5            # text with at least this share of numbers has "strays"
SHOWN = 5                             # offending values and rows quoted in a message


def check_data_columns(formula: Formula, data: pd.DataFrame) -> None:
    """Every column ``formula`` uses is present once, complete, and of a kind its role takes.

    Raises
    ------
    DataError
        Naming the column, what is wrong with its values and the fix.

    Warns
    -----
    UserWarning
        For integer-like text used as a term (read as category codes).
    """
    if len(data) == 0:
        raise DataError("the data have no rows; pass a data frame with observations (check any filtering "
                        "done before the fit)")
    needed = formula.variables
    check_present(data, needed, "the data")
    check_unique(data, needed, "the data")
    check_complete(data, needed, "the data", list(needed), response=to_text(formula.response.value))
    bounds = bound_columns(formula)
    for name, numeric in value_roles(formula, response=True).items():
        check_values(data[name], name, "the data", numeric, infinite_ok=name in bounds)


def bound_columns(formula: Formula) -> set:
    """Columns read only as truncation bounds (``trunc(lb = lo)``), where -inf and inf say "no
    bound on this row", as in R."""
    r = formula.response
    bounds = {name for node in (r.trunc_lb, r.trunc_ub) if node is not None for name, _ in _value_names_in(node)}
    others = [r.value, r.failures, r.trials, r.se, r.weights, r.cens, r.cens_y2, formula.offset]
    others += [f for term in list(formula.fixed) + [t for g in formula.random for t in g.terms] for f in term.factors]
    used = {name for node in others if node is not None for name, _ in _value_names_in(node)}
    return bounds - used


def value_roles(formula: Formula, response: bool) -> dict:
    """{column: True if numeric-only} for the columns read as values, in order of appearance:
    every column but the grouping factors and those used only as ``factor(column)``. A column in
    both roles is numeric-only (module docstring)."""
    nodes = []      # (node, numeric-only even as a bare name)
    if response:
        r = formula.response
        nodes += [(n, True) for n in (r.value, r.failures, r.trials, r.se, r.weights, r.cens_y2, r.trunc_lb, r.trunc_ub)
                  if n is not None]
        nodes += [(r.cens, False)] if r.cens is not None else []     # codes: numbers, text or True/False
    if formula.offset is not None:
        nodes.append((formula.offset, True))
    terms = list(formula.fixed) + [t for g in formula.random for t in g.terms]
    nodes += [(factor, False) for term in terms for factor in term.factors]
    roles: dict = {}
    for node, numeric in nodes:
        for name, nested in _value_names_in(node):
            roles[name] = roles.get(name, False) or numeric or nested
    return roles


def term_names(formula: Formula) -> tuple:
    """Columns that are a factor of a term as they are (``x`` in ``x``, ``x:z`` or ``(x | g)``):
    those that become dummies when they hold text."""
    names: list[str] = []
    terms = list(formula.fixed) + [t for g in formula.random for t in g.terms]
    for term in terms:
        names += [f.name for f in term.factors if isinstance(f, Name) and f.name not in names]
    return tuple(names)


def _value_names_in(node, nested: bool = False):
    """(name, nested) for the names in ``node`` outside ``factor(...)`` (whose argument is
    categorical by request); ``nested``: inside a function or arithmetic."""
    if isinstance(node, Name):
        yield node.name, nested
    elif isinstance(node, Call):
        if node.func in FACTOR_CALLS and isinstance(node.args[0], Name):
            return
        for arg in node.args:
            yield from _value_names_in(arg, True)
    elif isinstance(node, BinOp):
        yield from _value_names_in(node.left, True)
        yield from _value_names_in(node.right, True)
    elif isinstance(node, Neg):
        yield from _value_names_in(node.operand, True)
    elif isinstance(node, Paren):
        yield from _value_names_in(node.inner, nested)


def check_present(data: pd.DataFrame, names, what: str) -> None:
    """Each of ``names`` is a column of ``data``; else the closest names and why they differ."""
    for name in names:
        if name not in data.columns:
            raise DataError(f"column {name!r} (used in the formula) is not in {what}{_hint(name, data.columns)}")


def _hint(name: str, columns) -> str:
    """What a missing name most likely is: a number-named column, a differently normalised
    Unicode name, or a spelling close to an existing column."""
    if any(not isinstance(c, str) and str(c) == name for c in columns):
        return ("; its columns are named by numbers, not text: rename them, e.g. "
                "data.columns = data.columns.astype(str)")
    normal = unicodedata.normalize("NFC", name)
    same = [c for c in columns if isinstance(c, str) and unicodedata.normalize("NFC", c) == normal]
    if same:
        return (f"; {same[0]!r} differs from it only in Unicode normalisation: rename the columns, e.g. "
                "data.columns = [unicodedata.normalize('NFC', c) for c in data.columns]")
    close = difflib.get_close_matches(name, [str(c) for c in columns], n=3)
    if close:
        return f"; did you mean {', '.join(repr(c) for c in close)}? Check the spelling in the formula"
    return "; check the spelling in the formula, or add the column"


def check_unique(data: pd.DataFrame, names, what: str) -> None:
    """No name the formula uses labels two columns (``data[name]`` would be a frame, not a column)."""
    for name in names:
        count = int(np.sum(data.columns == name))
        if count > 1:
            raise DataError(f"{what} have {count} columns named {name!r}, so the formula's {name!r} is ambiguous; "
                            "drop or rename the duplicates, e.g. data = data.loc[:, ~data.columns.duplicated()]")


def check_complete(data: pd.DataFrame, names, what: str, subset: list, response: str | None = None) -> None:
    """No missing values in the columns used (``subset`` is what the suggested dropna names). For
    a fit's data the message lists the ways on: drop the rows, model a missing ``response``
    inside the fit (``y | mi()``), or impute outside and pool (``hx.pool_fits``)."""
    for name in names:
        missing = data[name].isna().to_numpy()
        if missing.any():
            ways = "" if response is None else (
                f"; or impute them in the fit with '{name} | mi() ~ ...'" if name == response else
                f"; or model them in the fit with mi({name}): hx.bf('... ~ mi({name}) + ...') + "
                f"hx.bf('{name} | mi() ~ ...'); or impute them outside hierax (e.g. with R's mice) and pool the fits "
                "with hx.pool_fits")
            raise DataError(f"column {name!r} has {int(missing.sum())} missing value(s) in {what} "
                            f"(row(s) {_rows(missing)}); drop or impute them first, "
                            f"e.g. data.dropna(subset={subset!r}){ways}")


def _rows(mask: np.ndarray) -> str:
    rows = np.flatnonzero(mask)
    more = f", ... ({len(rows)} in all)" if len(rows) > SHOWN else ""
    return ", ".join(str(r) for r in rows[:SHOWN]) + more


def check_values(series: pd.Series, name: str, what: str, numeric: bool = False, warn: bool = True,
                 infinite_ok: bool = False) -> None:
    """A column read as values holds numbers or genuine categories (module docstring).

    ``numeric``: the column's role takes numbers only; ``warn``: warn for integer codes stored as
    text (at fitting time; new data repeat the fit's choice silently); ``infinite_ok``: -inf and
    inf are values (a truncation bound's "none").
    """
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype) or _holds_dates(series):
        alternative = "" if numeric else f", or write factor({name}) if each date is a category"
        raise DataError(f"column {name!r} of {what} holds dates ({dtype}), which hierax cannot use as numbers; "
                        "convert it to a number, e.g. days since the first date: "
                        f"(pd.to_datetime(data[{name!r}]) - pd.to_datetime(data[{name!r}]).min()).dt.days{alternative}")
    if pd.api.types.is_timedelta64_dtype(dtype):
        raise DataError(f"column {name!r} of {what} holds durations ({dtype}); convert them to a number, "
                        f"e.g. data[{name!r}].dt.total_seconds()")
    if pd.api.types.is_complex_dtype(dtype):
        raise DataError(f"column {name!r} of {what} holds complex numbers; pass real numbers, e.g. "
                        f"np.abs(data[{name!r}]) or its real part")
    if (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)) or holds_numbers(series):
        if not infinite_ok:
            _check_finite(series, name, what)
    elif _is_text(series):
        _check_text(series, name, what, numeric, warn)


def _holds_dates(series: pd.Series) -> bool:
    """An object column of Python dates or datetimes (what ``.dt.date`` gives)."""
    if series.dtype != object:
        return False
    values = series.dropna()
    return len(values) > 0 and all(isinstance(v, (datetime.date, np.datetime64)) for v in values)


def _is_text(series: pd.Series) -> bool:
    """Strings or mixed objects, but not a pandas categorical (categorical on purpose)."""
    return not isinstance(series.dtype, pd.CategoricalDtype) and (
        pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype))


def _check_finite(series: pd.Series, name: str, what: str) -> None:
    values = series.to_numpy(dtype=float)
    infinite = np.isinf(values)
    if infinite.any():
        raise DataError(f"column {name!r} of {what} has {int(infinite.sum())} infinite value(s) "
                        f"(row(s) {_rows(infinite)}); drop those rows or replace the values, "
                        f"e.g. data = data[np.isfinite(data[{name!r}])]")


def _check_text(series: pd.Series, name: str, what: str, numeric: bool, warn: bool) -> None:
    """Refuse numbers stored as text, whole or with a few stray entries; let integer codes stored
    as text pass as categories, with a warning (module docstring)."""
    values = series.dropna()
    if len(values) == 0 or holds_numbers(values):
        return
    parsed = pd.to_numeric(values.astype(str).str.strip(), errors="coerce").to_numpy(dtype=float)
    readable = ~np.isnan(parsed)
    levels = values.astype(str).nunique()
    alternative = "" if numeric else f", or write factor({name}) in the formula if it really is categorical"
    examples = ", ".join(repr(str(v)) for v in values.unique()[:3])
    if readable.all():
        if not numeric and levels <= CODE_LEVELS:
            if warn:
                _warn_codes(name, examples, levels)
            return
        use = "is used as a number" if numeric else f"would become a factor with {levels} levels"
        raise DataError(f"column {name!r} of {what} holds numbers stored as text (e.g. {examples}) and {use}; "
                        f"convert it with data[{name!r}] = pd.to_numeric(data[{name!r}]){alternative}")
    if readable.mean() >= MOSTLY_NUMERIC_SHARE:
        strays = pd.unique(values[~readable].astype(str))
        shown = ", ".join(repr(s) for s in strays[:SHOWN])
        rows = _rows(series.notna().to_numpy() & ~_numeric_mask(series))
        raise DataError(f"column {name!r} of {what} is numeric except for {int((~readable).sum())} value(s) that are "
                        f"not numbers ({shown}; row(s) {rows}); convert it with "
                        f"data[{name!r}] = pd.to_numeric(data[{name!r}], errors='coerce') and drop the rows that "
                        f"become missing (data.dropna(subset=[{name!r}])){alternative}")


def _warn_codes(name: str, examples: str, levels: int) -> None:
    warnings.warn(f"column {name!r} holds numbers stored as text (e.g. {examples}); hierax reads it as categorical "
                  f"with {levels} levels. If it is a number, convert it with data[{name!r}] = "
                  f"pd.to_numeric(data[{name!r}]); write factor({name}) in the formula to say it is categorical "
                  "and silence this warning", UserWarning, stacklevel=6)   # at build_design's caller


def _numeric_mask(series: pd.Series) -> np.ndarray:
    """(n,) True where the value reads as a number (missing values read as not)."""
    text = series.astype(str).str.strip().where(series.notna())
    return ~np.isnan(pd.to_numeric(text, errors="coerce").to_numpy(dtype=float))


def check_many_levels(formula: Formula, data: pd.DataFrame) -> None:
    """Warn for a text predictor with about one level per two rows or more: most likely an
    identifier or a mangled numeric column, it would give a coefficient per level. Refuse one
    with a different value in every row: its coefficients would reproduce the data exactly.

    Raises
    ------
    DataError
        For a text predictor with as many levels as rows (more than two rows).
    """
    rows = len(data)
    for name in term_names(formula):
        series = data[name]
        if not _is_text(series) or holds_numbers(series):
            continue
        levels = series.astype(str).nunique()
        if levels == rows > 2:
            raise DataError(f"column {name!r} is text with a different value in every row ({rows} levels in {rows} "
                            "rows): as a predictor it gives one coefficient per row, which reproduces the data "
                            "exactly; if it is an identifier, leave it out or use it as a grouping factor, e.g. "
                            f"(1 | {name}); if it holds numbers, convert it with pd.to_numeric(data[{name!r}])")
        if levels >= HIGH_CARDINALITY_MIN_LEVELS and levels > HIGH_CARDINALITY_SHARE * rows:
            warnings.warn(f"column {name!r} is text with {levels} distinct values in {rows} rows, so as a predictor "
                          f"it becomes {levels - 1} or more fixed effects; if it holds numbers, convert it with "
                          f"pd.to_numeric(data[{name!r}], errors='coerce'); if it is an identifier, leave it out or "
                          f"use it as a grouping factor, e.g. (1 | {name})", UserWarning, stacklevel=3)
