"""The design of data met a chunk at a time: a scan that merges, then each chunk encoded alike.

Out-of-core data (``hierax.outofcore``: a Dask frame, Parquet files) never sit whole in memory,
so :func:`hierax.design.build_design`, which learns the encoding from every row at once, cannot
run. Its encoding depends on the rows through three things only, each of which merges over
chunks exactly:

* the levels of each categorical term and grouping factor: the union of each chunk's distinct
  values, ordered as R's ``factor()`` orders them (:func:`~hierax.design.evaluate.ordered_levels`,
  shared with the in-memory path);
* the moments of each ``scale()``/``center()`` argument: count, mean and sum of squared
  deviations per chunk, merged by Chan, Golub and LeVeque's pairwise update (no sum of squares
  cancels);
* the kind of each column (numbers or categories), which must be the same in every chunk.

So a first pass scans each chunk (:func:`scan_rows`), the scans merge (:meth:`Scan.merge`, in
any order or tree), the merged scan becomes the fit's :class:`~hierax.design.build.DesignInfo`
(:func:`summarised_design`), and every chunk is then encoded with it (:func:`encode_rows`) as
new data are for prediction, giving the same columns and level indices as the in-memory
design of the whole frame. Nothing here imports Dask: chunks are pandas frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hierax.design.block import Block
from hierax.design.build import DesignInfo, _response, as_pandas, term_matrix
from hierax.design.columns import FACTOR_CALLS, check_data_columns
from hierax.design.evaluate import evaluate, is_categorical_series, level_label, ordered_levels
from hierax.design.newdata import encode_newdata
from hierax.errors import DataError, ModelError
from hierax.formula.nodes import BinOp, Call, Name, Neg, Paren, to_text
from hierax.formula.terms import Formula, right_hand_nodes

STATEFUL_CALLS = ("scale", "center")


@dataclass(frozen=True)
class Moments:
    """Count, mean, sum of squared deviations (``m2``), least and greatest value of a column:
    merged exactly enough (Chan et al. 1979) that the sd of a billion rows loses no digits."""

    n: int
    mean: float
    m2: float
    low: float
    high: float

    @classmethod
    def of(cls, values) -> Moments:
        values = np.asarray(values, dtype=float)
        if not len(values):
            return cls(0, 0.0, 0.0, np.inf, -np.inf)
        mean = float(np.mean(values))
        return cls(len(values), mean, float(np.sum((values - mean) ** 2)), float(np.min(values)),
                   float(np.max(values)))

    def merge(self, other: Moments) -> Moments:
        if not other.n or not self.n:
            return self if other.n == 0 else other
        n = self.n + other.n
        delta = other.mean - self.mean
        return Moments(n, self.mean + delta * other.n / n, self.m2 + other.m2 + delta**2 * self.n * other.n / n,
                       min(self.low, other.low), max(self.high, other.high))

    @property
    def sd(self) -> float:
        """The sample sd (n - 1 in the denominator, as R's ``sd()`` and NumPy's ``ddof=1``)."""
        return float(np.sqrt(self.m2 / (self.n - 1))) if self.n > 1 else float("nan")

    @property
    def constant(self) -> bool:
        return self.low == self.high


@dataclass(frozen=True)
class Scan:
    """What a pass over some rows learns that the encoding depends on; :meth:`merge` adds two.

    Attributes
    ----------
    rows : the number of rows.
    kinds : {column: True where categorical} for every column the formula names.
    values : {categorical term text: frozenset of its raw values}.
    declared : {categorical term text: the categories of a pandas categorical column, in order}.
    parts : {grouping factor column: frozenset of its raw values}.
    combos : {interacted grouping factor label: frozenset of the tuples of its parts' labels}.
    moments : {``scale(...)``/``center(...)`` text: :class:`Moments` of its argument}.
    template : the first row seen (a one-row pandas frame): the column types that name the
        design's columns.
    """

    rows: int = 0
    kinds: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    declared: dict = field(default_factory=dict)
    parts: dict = field(default_factory=dict)
    combos: dict = field(default_factory=dict)
    moments: dict = field(default_factory=dict)
    template: pd.DataFrame | None = None

    def merge(self, other: Scan) -> Scan:
        if not other.rows or not self.rows:
            return self if not other.rows else other
        for name, kind in other.kinds.items():
            if self.kinds.get(name, kind) != kind:
                raise DataError(f"column {name!r} holds numbers in some chunks of the data and text or categories in "
                                "others; give it one type throughout (e.g. convert it with pd.to_numeric, or to "
                                "text with .astype(str), before writing the files)")
        for text, order in other.declared.items():
            if self.declared.get(text, order) != order:
                raise DataError(f"column {text!r} is a categorical whose categories differ between chunks of the "
                                "data, so its levels have no one order; give every chunk the same categories "
                                "(dask: frame.categorize()), or convert it to text with .astype(str)")
        return Scan(self.rows + other.rows, {**self.kinds, **other.kinds}, _union(self.values, other.values),
                    {**self.declared, **other.declared}, _union(self.parts, other.parts),
                    _union(self.combos, other.combos),
                    {k: self.moments[k].merge(other.moments[k]) for k in self.moments}, self.template)


def _union(a: dict, b: dict) -> dict:
    return {key: a.get(key, frozenset()) | b.get(key, frozenset()) for key in {**a, **b}}


def check_summarisable(formula: Formula) -> None:
    """Refuse what a chunked design cannot encode as the in-memory one does: response additions
    whose checks or densities need every row at once, and a ``scale()`` inside another
    transform's argument (its moments would be each chunk's own)."""
    r = formula.response
    extras = {"cbind()": r.failures, "trials()": r.trials, "se()": r.se, "weights()": r.weights, "cens()": r.cens,
              "trunc()": r.trunc_lb if r.trunc_lb is not None else r.trunc_ub}
    given = [name for name, node in extras.items() if node is not None] + (["mi()"] if r.mi else [])
    if given:
        raise ModelError(f"{', '.join(given)} in the response are not available for out-of-core data yet; fit "
                         "a data frame in memory (e.g. frame.compute()) for them")
    for call in _stateful_calls(formula):
        if any(True for _ in _stateful_in(call.args[0])):
            raise ModelError(f"{to_text(call)} transforms a scale()d or center()ed column; out-of-core data take one "
                             "such transform per expression: compute the inner one as a column first")
    for node in right_hand_nodes(formula):
        if isinstance(node, Call) and node.func in ("mi", "me"):
            raise ModelError(f"{to_text(node)} (a latent predictor) is not available for out-of-core data; fit a "
                             "data frame in memory")
    for g in formula.random:
        for part in g.group.factors:
            if not isinstance(part, Name):
                raise ModelError(f"grouping factor {to_text(part)!r}: out-of-core data group by columns; make it "
                                 "a column first")


def scan_rows(formula: Formula, data) -> Scan:
    """The :class:`Scan` of one chunk (a pandas frame), its columns checked as
    :func:`~hierax.design.build.build_design` checks a whole frame's."""
    data = as_pandas(data)
    if not len(data):
        return Scan()
    check_data_columns(formula, data)
    kinds = {name: is_categorical_series(data[name]) for name in formula.variables}
    if kinds.get(formula.response.value.name if isinstance(formula.response.value, Name) else None):
        raise DataError(f"the response {formula.response.label!r} is not numeric; out-of-core data take a numeric "
                        "response (a gaussian model)")
    values, declared = {}, {}
    for node in _term_factors(formula):
        raw = _raw_values(node, data)
        if raw is not None:
            values[to_text(node)], order = raw
            if order is not None:
                declared[to_text(node)] = order
    parts, combos = {}, {}
    for g in formula.random:
        names = [f.name for f in g.group.factors]
        for name in names:
            parts[name] = frozenset(pd.unique(data[name].astype(object)))
        if len(names) > 1:
            labels = [data[name].astype(object).map(level_label) for name in names]
            combos[g.group_label] = frozenset(zip(*labels))
    moments = {to_text(call): Moments.of(evaluate(call.args[0], data, {}, {})) for call in _stateful_calls(formula)}
    return Scan(len(data), kinds, values, declared, parts, combos, moments, data.iloc[:1].copy())


def _term_factors(formula: Formula):
    for term in formula.fixed:
        yield from term.factors
    for g in formula.random:
        for term in g.terms:
            yield from term.factors


def _raw_values(node, data):
    """(distinct raw values, declared categories or None) of a categorical term factor, else None."""
    if isinstance(node, Call) and node.func in FACTOR_CALLS:
        inner = node.args[0]
        if isinstance(inner, Name):
            return _column_values(data[inner.name])
        value = evaluate(inner, data, {}, {})
        return frozenset(np.unique(value).tolist()), None
    if isinstance(node, Name) and is_categorical_series(data[node.name]):
        return _column_values(data[node.name])
    return None


def _column_values(series: pd.Series):
    declared = tuple(series.cat.categories) if isinstance(series.dtype, pd.CategoricalDtype) else None
    return frozenset(v for v in pd.unique(series) if not pd.isna(v)), declared


def _stateful_calls(formula: Formula) -> list:
    nodes = [formula.response.value, *right_hand_nodes(formula)]
    out, seen = [], set()
    for node in nodes:
        for call in _stateful_in(node):
            if to_text(call) not in seen:
                seen.add(to_text(call))
                out.append(call)
    return out


def _stateful_in(node):
    if isinstance(node, Call):
        if node.func in STATEFUL_CALLS:
            yield node
        for arg in node.args:
            yield from _stateful_in(arg)
    elif isinstance(node, BinOp):
        yield from _stateful_in(node.left)
        yield from _stateful_in(node.right)
    elif isinstance(node, Neg):
        yield from _stateful_in(node.operand)
    elif isinstance(node, Paren):
        yield from _stateful_in(node.inner)


@dataclass(frozen=True)
class SummarisedDesign:
    """A design without its rows: how to encode them, and how many there are.

    ``random`` are the fit's blocks with every level and no rows (``Z`` and ``group_index`` of
    length 0), as :class:`~hierax.design.build.Design` names them; :func:`encode_rows` gives each
    chunk's.
    """

    info: DesignInfo
    fixed_names: tuple
    random: tuple
    response_name: str
    num_obs: int


def summarised_design(formula: Formula, scan: Scan) -> SummarisedDesign:
    """The encoding that :func:`~hierax.design.build_design` would learn from all the scanned rows."""
    if not scan.rows:
        raise DataError("the data have no rows; pass data with observations (check any filtering done before "
                        "the fit)")
    state = {}
    for text, moments in scan.moments.items():
        if moments.constant:
            raise DataError(f"{text}: the column is constant, so it cannot be scaled; a constant predictor has no "
                            "effect to estimate: remove it from the formula")
        state[text] = (moments.mean, moments.sd if text.startswith("scale(") else 1.0)
    levels = {text: ordered_levels(raw, scan.declared.get(text)) for text, raw in scan.values.items()}
    template = scan.template.reset_index(drop=True)
    _, fixed_names = term_matrix(formula.intercept, formula.fixed, template, dict(state), dict(levels))
    blocks, seen = [], {}
    for g in formula.random:
        _, terms = term_matrix(g.intercept, g.terms, template, dict(state), dict(levels))
        group_levels = _group_levels(g, scan)
        seen[g.group_label] = seen.get(g.group_label, 0) + 1
        name = g.group_label if seen[g.group_label] == 1 else f"{g.group_label}.{seen[g.group_label]}"
        blocks.append(Block(name, g.group_label, tuple(terms), group_levels, np.zeros((0, len(terms))),
                            np.zeros(0, np.int32), g.correlated))
    info = DesignInfo(formula, levels, state, None)
    return SummarisedDesign(info, tuple(fixed_names), tuple(blocks), formula.response.label, scan.rows)


def _group_levels(g, scan: Scan) -> tuple:
    """A grouping factor's levels as ``build._group_index`` orders them: by its parts' levels."""
    names = [f.name for f in g.group.factors]
    part_levels = [ordered_levels(scan.parts[name]) for name in names]
    if len(names) == 1:
        found = part_levels[0]
    else:
        position = [{level: i for i, level in enumerate(lv)} for lv in part_levels]
        found = tuple(":".join(combo) for combo in
                      sorted(scan.combos[g.group_label], key=lambda c: tuple(p[x] for p, x in zip(position, c))))
    if len(found) < 2:
        raise DataError(f"grouping factor {g.group_label!r} has only one level ({found[0]!r}); a varying effect "
                        "needs at least two groups. Remove the group term or check the column")
    return found


@dataclass(frozen=True)
class EncodedRows:
    """One chunk's rows encoded as the fit's: response, fixed design, blocks and offset."""

    y: np.ndarray
    X: np.ndarray
    blocks: tuple
    offset: np.ndarray | None


def encode_rows(design: SummarisedDesign, data) -> EncodedRows:
    """Encode a chunk (a pandas frame) with the encoding of the whole data."""
    data = as_pandas(data)
    info = design.info
    new = encode_newdata(info, design.fixed_names, design.random, data)
    y, _, _ = _response(info.formula, data, dict(info.transform_state))
    for block in new.blocks:
        if np.any(block.group_index < 0):        # the scan saw every level: a chunk outside it was not scanned
            raise DataError(f"a chunk of the data has levels of {block.group!r} that the first pass did not see; the "
                            "data changed between the passes over them")
    return EncodedRows(y, new.X, new.blocks, new.offset)
