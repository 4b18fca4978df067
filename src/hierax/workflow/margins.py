"""Average predictions, comparisons and slopes on the response scale: the questions people ask of
a fitted model ("how much more likely is a city woman to use contraception, on average over the
women in the data?"), answered as marginaleffects' ``avg_predictions``, ``avg_comparisons`` and
``avg_slopes`` answer them.

Each answer is a *counterfactual average*. For a comparison of ``x``, every row of ``newdata``
(default: the fitted rows) is predicted twice, once with ``x`` set to ``lo`` and once to ``hi``,
and a function of the two (the ``comparison``) is averaged over the rows, or over the rows of
each group in ``by``. A slope is the comparison of ``x - eps/2`` and ``x + eps/2`` divided by
``eps``, a centred difference (``eps`` defaults to 1e-4 of x's range in the data, R's
marginaleffects' step; pass marginaleffects' Python default ``eps=1e-4`` to reproduce it). The
predictions are the expected response (``fit.predict(kind="mean")``): a probability for a
bernoulli or binomial model, a count's mean for a poisson one.

What enters the averages follows marginaleffects on an lme4 or brms fit:

- a numeric ``x``: ``x - 0.5`` against ``x + 0.5`` (a change of one unit centred on each row's
  value); ``{"x": 2}`` a change of 2, ``{"x": [a, b]}`` every row at a against every row at b,
  ``"sd"``, ``"2sd"``, ``"iqr"``, ``"minmax"`` as marginaleffects' names;
- a categorical one: each level against the first (``"reference"``), or ``"sequential"``,
  ``"pairwise"``, or a pair ``[lo, hi]``; a 0/1 numeric column is compared at 1 against 0;
- the group effects: with ``re=True`` each row has its group's fitted effects (brms's
  ``re_formula = NULL``; the conditional modes of a REML/ML/Laplace fit, as lme4's ``predict``);
  ``re=False`` sets them to zero (``re_formula = NA``): the answer for a typical group, not the
  population-averaged one (that is :func:`hierax.workflow.marginal.population_averaged`).

Uncertainty: for a NUTS fit every posterior draw gives the whole computation, and the table
reports the draws' mean (``estimate``), sd (``std_error``) and equal-tailed ``level`` interval.
For a REML/ML/Laplace fit, the delta method over the fixed effects with their covariance, as
marginaleffects does for lme4 and glmmTMB (the variance parameters are held at their estimates);
its jacobian is JAX's exact derivative where marginaleffects takes finite differences.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import stats

from hierax.errors import DataError, HieraxError, ModelError
from hierax.formula.terms import names_in, right_hand_nodes
from hierax.results.predict import ROWS_PER_CHUNK_DRAWS, bound_draws, expected_at, expected_draws

NUMERIC_STEPS = ("sd", "2sd", "iqr", "minmax")
LEVEL_PAIRS = ("reference", "sequential", "pairwise")


@dataclass(frozen=True)
class Estimand:
    """What a comparison averages: ``rows(hi, lo, x, y, eps)`` gives row-level quantities (a tuple),
    ``combine`` turns their averages into the estimate; ``needs_y`` where the rows need the
    prediction at the observed x (the elasticities)."""

    label: str
    rows: Callable
    combine: Callable
    needs_y: bool = False
    needs_x: bool = False


def _odds(p):
    return p / (1 - p)


COMPARISONS = {
    "difference": Estimand("{hi} - {lo}", lambda hi, lo, x, y, e: (hi - lo,), lambda m: m[0]),
    "ratio": Estimand("{hi} / {lo}", lambda hi, lo, x, y, e: (hi, lo), lambda m: m[0] / m[1]),
    "lnratio": Estimand("ln({hi} / {lo})", lambda hi, lo, x, y, e: (hi, lo), lambda m: jnp.log(m[0] / m[1])),
    "lnor": Estimand("ln(odds({hi}) / odds({lo}))", lambda hi, lo, x, y, e: (hi, lo),
                     lambda m: jnp.log(_odds(m[0]) / _odds(m[1]))),
    "lift": Estimand("({hi} - {lo}) / {lo}", lambda hi, lo, x, y, e: (hi, lo), lambda m: (m[0] - m[1]) / m[1]),
}
SLOPES = {
    "dydx": Estimand("dY/dX", lambda hi, lo, x, y, e: ((hi - lo) / e,), lambda m: m[0]),
    "eyex": Estimand("eY/eX", lambda hi, lo, x, y, e: ((hi - lo) / e * x / y,), lambda m: m[0], needs_y=True, needs_x=True),
    "eydx": Estimand("eY/dX", lambda hi, lo, x, y, e: ((hi - lo) / e / y,), lambda m: m[0], needs_y=True),
    "dyex": Estimand("dY/eX", lambda hi, lo, x, y, e: ((hi - lo) / e * x,), lambda m: m[0], needs_x=True),
}
_MEAN = Estimand("mean", lambda hi, lo, x, y, e: (hi,), lambda m: m[0])


@dataclass(frozen=True)
class Counterfactual:
    """One row block of the answer: ``term`` and ``contrast`` label it; ``hi`` and ``lo`` are
    the values ``term`` takes in the two predictions (a scalar or one per row; ``lo`` None for a
    prediction); ``step`` divides a slope's difference."""

    term: str
    contrast: str
    hi: object
    lo: object
    estimand: Estimand
    step: float = 1.0
    fixed: dict | None = None          # avg_predictions: {column: value} set on every row


# -- public functions ---------------------------------------------------------------------------
def avg_comparisons(fit, variables=None, by=None, newdata=None, comparison: str = "difference",
                    re: bool = True, level: float = 0.95) -> pd.DataFrame:
    """The average change in the expected response when each of ``variables`` changes (module
    docstring): one row per variable and contrast (and ``by`` group), with ``estimate``,
    ``std_error``, ``conf_low``, ``conf_high`` and, for a REML/ML/Laplace fit, the z
    ``statistic`` and ``p_value``. ``comparison``: "difference" (default), "ratio", "lnratio",
    "lnor" or "lift", each of the averaged predictions (marginaleffects' "...avg")."""
    estimand = _choose(comparison, COMPARISONS, "comparison")
    data, by = _prepare(fit, newdata, by, level, re)
    items = [c for name, value in _variables(fit, data, variables).items()
             for c in _contrasts(fit, data, name, value, estimand, slope=False)]
    return _answer(fit, data, items, by, re, level)


def avg_slopes(fit, variables=None, by=None, newdata=None, slope: str = "dydx", eps: float | None = None,
               re: bool = True, level: float = 0.95) -> pd.DataFrame:
    """The average derivative of the expected response in each numeric variable (``slope``:
    "dydx", or the elasticities "eyex", "eydx", "dyex"), by centred differences of ``eps``; a
    categorical or 0/1 variable gets its comparisons instead, as marginaleffects gives them.
    Columns as :func:`avg_comparisons`."""
    estimand = _choose(slope, SLOPES, "slope")
    if eps is not None and not (isinstance(eps, (int, float)) and np.isfinite(eps) and eps > 0):
        raise HieraxError(f"eps must be a positive number (the slope's step), got {eps!r}")
    data, by = _prepare(fit, newdata, by, level, re)
    items = [c for name, value in _variables(fit, data, variables).items()
             for c in _contrasts(fit, data, name, value, estimand, slope=True, eps=eps)]
    return _answer(fit, data, items, by, re, level)


def avg_predictions(fit, variables=None, by=None, newdata=None, re: bool = True,
                    level: float = 0.95) -> pd.DataFrame:
    """The expected response averaged over the rows of ``newdata`` (or of each ``by`` group);
    with ``variables`` (a categorical variable's name, a list of them, or ``{name: values}``)
    once for every combination of their values set on every row: the counterfactual means of
    g-computation. Columns: the variables' values, then as :func:`avg_comparisons`."""
    data, by = _prepare(fit, newdata, by, level, re)
    if variables is None:
        items = [Counterfactual("", "", None, None, _MEAN, fixed={})]
    else:
        grid = _prediction_grid(fit, data, variables)
        items = [Counterfactual("", "", None, None, _MEAN, fixed=dict(zip(grid, values)))
                 for values in itertools.product(*grid.values())]
    table = _answer(fit, data, items, by, re, level)
    fixed = pd.DataFrame([c.fixed for c in items for _ in range(len(table) // len(items))], index=table.index)
    return pd.concat([fixed, table.drop(columns=["term", "contrast"])], axis=1)


# -- input ----------------------------------------------------------------------------------------
def _choose(name, registry: dict, what: str) -> Estimand:
    if name not in registry:
        raise HieraxError(f"{what} must be one of {list(registry)}, got {name!r}")
    return registry[name]


def _prepare(fit, newdata, by, level, re) -> tuple[pd.DataFrame, list]:
    if getattr(fit, "spec", None) is None or not hasattr(fit, "design_info"):
        raise ModelError("marginal effects need a fit of one model by hx.fit (a fit with latent predictors, mi() or "
                         "me(), moves its design with the imputations and is not supported)")
    if not isinstance(re, bool):
        raise HieraxError(f"re must be True (each row's group effects) or False (the effects at zero), got {re!r}")
    if not (isinstance(level, float) and 0.0 < level < 1.0):
        raise HieraxError(f"level must be a number between 0 and 1, got {level!r}")
    if newdata is None:
        newdata = getattr(fit, "data", None)
        if newdata is None:
            raise DataError("the fit holds no data to average over; pass newdata=, or refit with its data")
    if not isinstance(newdata, pd.DataFrame):
        from hierax.design import as_pandas

        newdata = as_pandas(newdata, "newdata")
    if len(newdata) == 0:
        raise DataError("newdata has no rows; pass at least one row to average over")
    by = [] if by is None else [by] if isinstance(by, str) else list(by)
    missing = [b for b in by if b not in newdata.columns]
    if missing:
        raise DataError(f"by names column(s) {missing} that newdata lacks; its columns are {list(newdata.columns)}")
    return newdata.reset_index(drop=True), by


def predictors(fit) -> list:
    """The variables of the model's right-hand sides that are not grouping factors."""
    formula = fit.design_info.formula
    groups = {name for g in formula.random for f in g.group.factors for name in names_in(f)}
    names = []
    for node in right_hand_nodes(formula):
        names += [n for n in names_in(node) if n not in names and n not in groups]
    for predictor in fit.spec.dpar_predictors:
        for node in right_hand_nodes(predictor.info.formula):
            names += [n for n in names_in(node) if n not in names and n not in groups]
    return names


def _variables(fit, data, variables) -> dict:
    known = predictors(fit)
    if variables is None:
        chosen = {name: None for name in known}
    elif isinstance(variables, str):
        chosen = {variables: None}
    elif isinstance(variables, dict):
        chosen = dict(variables)
    elif isinstance(variables, (list, tuple)):
        chosen = {name: None for name in variables}
    else:
        raise HieraxError(f"variables must be a name, a list of names or a dict {{name: change}}, got {variables!r}")
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise ModelError(f"{unknown} are not predictors of this fit; its predictors are {known}")
    if not chosen:
        raise ModelError("the model has no predictors to compare (only an intercept and group terms)")
    return chosen


def _levels(fit, name: str):
    """The fit's levels of a categorical variable, or None for a numeric one."""
    levels = fit.design_info.categorical_levels.get(name)
    for predictor in fit.spec.dpar_predictors:
        levels = levels if levels is not None else predictor.info.categorical_levels.get(name)
    return None if levels is None else list(levels)


def _contrasts(fit, data, name, value, estimand: Estimand, slope: bool, eps=None) -> list:
    levels = _levels(fit, name)
    column = data[name]
    if levels is None and value is None and set(pd.unique(column)) <= {0, 1}:
        return [_pair(name, [0, 1], _categorical_estimand(estimand, slope))]     # 0/1: marginaleffects' "binary"
    if levels is not None:
        return _level_contrasts(name, levels, value, _categorical_estimand(estimand, slope))
    if not pd.api.types.is_numeric_dtype(column):
        raise DataError(f"{name!r} is numeric in the fit but not in newdata; pass numbers")
    x = column.to_numpy(float)
    if slope:
        step = 1e-4 * float(np.ptp(_model_column(fit, name, column))) if eps is None else float(eps)
        if value is not None and not isinstance(value, (list, tuple)):
            raise HieraxError(f"a slope's variables are names (or [lo, hi] for a 0/1 one); got {name}: {value!r}")
        if isinstance(value, (list, tuple)):
            return [_pair(name, value, _categorical_estimand(estimand, slope))]
        if not step > 0:
            raise DataError(f"{name!r} takes one value in newdata; its slope needs eps= (a step) to be given")
        return [Counterfactual(name, estimand.label, x + step / 2, x - step / 2, estimand, step)]
    return [_numeric_contrast(name, x, _model_column(fit, name, column), value, estimand)]


def _categorical_estimand(estimand: Estimand, slope: bool) -> Estimand:
    return COMPARISONS["difference"] if slope else estimand


def _model_column(fit, name: str, column: pd.Series) -> np.ndarray:
    """The fitted data's values of ``name`` (marginaleffects takes "sd", "iqr" and "minmax" from
    the model's data, whatever rows are averaged over); ``column`` where the fit kept no data."""
    data = getattr(fit, "data", None)
    source = data[name] if data is not None and name in data.columns else column
    return source.to_numpy(float)


def _numeric_contrast(name, x, fitted: np.ndarray, value, estimand: Estimand) -> Counterfactual:
    if value is None:
        value = 1
    if isinstance(value, (list, tuple)):
        return _pair(name, value, estimand)
    if isinstance(value, str):
        if value not in NUMERIC_STEPS:
            raise HieraxError(f"a numeric variable's change is a number, [lo, hi] or one of {NUMERIC_STEPS}; "
                              f"got {name}: {value!r}")
        sd = float(np.std(fitted, ddof=1)) if len(fitted) > 1 else 0.0
        if value in ("sd", "2sd"):
            half = sd / 2 if value == "sd" else sd
            ends = ("(x+sd/2)", "(x-sd/2)") if value == "sd" else ("(x+sd)", "(x-sd)")
            return Counterfactual(name, estimand.label.format(hi=ends[0], lo=ends[1]), x + half, x - half, estimand)
        lo, hi = (np.percentile(fitted, 25), np.percentile(fitted, 75)) if value == "iqr" else \
            (fitted.min(), fitted.max())
        ends = ("Q3", "Q1") if value == "iqr" else ("Max", "Min")
        return Counterfactual(name, estimand.label.format(hi=ends[0], lo=ends[1]), float(hi), float(lo), estimand)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise HieraxError(f"a numeric variable's change must be a finite number, [lo, hi] or one of {NUMERIC_STEPS}; "
                          f"got {name}: {value!r}")
    return Counterfactual(name, f"+{value:g}", x + value / 2, x - value / 2, estimand)


def _pair(name, value, estimand: Estimand) -> Counterfactual:
    if len(value) != 2:
        raise HieraxError(f"a pair of values is [lo, hi]; got {name}: {value!r}")
    lo, hi = value
    return Counterfactual(name, estimand.label.format(hi=hi, lo=lo), hi, lo, estimand)


def _level_contrasts(name, levels: list, value, estimand: Estimand) -> list:
    if isinstance(value, (list, tuple)):
        unknown = [v for v in value if str(v) not in map(str, levels)]
        if unknown:
            raise HieraxError(f"{unknown} are not levels of {name!r}; its levels are {levels}")
        return [_pair(name, value, estimand)]
    value = "reference" if value is None else value
    if value not in LEVEL_PAIRS:
        raise HieraxError(f"a categorical variable's contrasts are {LEVEL_PAIRS} or [lo, hi]; got {name}: {value!r}")
    if value == "reference":
        pairs = [(levels[0], level) for level in levels[1:]]
    elif value == "sequential":
        pairs = list(zip(levels[:-1], levels[1:]))
    else:
        pairs = list(itertools.combinations(levels, 2))
    return [_pair(name, [lo, hi], estimand) for lo, hi in pairs]


def _prediction_grid(fit, data, variables) -> dict:
    if isinstance(variables, str):
        variables = [variables]
    if isinstance(variables, (list, tuple)):
        grid = {}
        for name in variables:
            levels = _levels(fit, name) if name in predictors(fit) else None
            if levels is None:
                raise HieraxError(f"{name!r} is not a categorical predictor; give its values as {{{name!r}: [values]}}")
            grid[name] = levels
        return grid
    if not isinstance(variables, dict):
        raise HieraxError(f"variables must be a name, a list of names or a dict {{name: values}}, got {variables!r}")
    _variables(fit, data, list(variables))
    return {name: list(np.atleast_1d(values)) for name, values in variables.items()}


# -- evaluation -----------------------------------------------------------------------------------
def _frame(data: pd.DataFrame, column: str, value) -> pd.DataFrame:
    """``data`` with ``column`` set to ``value`` (a scalar on every row, or one value per row); a
    level set on a categorical column is written as text, which the fit's encoding maps to its
    level whatever the column's dtype was."""
    out = data.copy()
    if np.ndim(value) == 0 and not pd.api.types.is_numeric_dtype(out[column]):
        out[column] = pd.Series([value] * len(out), dtype=object, index=out.index)
    else:
        out[column] = value
    return out


def _frames(data, item: Counterfactual) -> dict:
    """The rows predicted for one counterfactual: ``hi``, ``lo`` and, for elasticities, ``y``."""
    if item.fixed is not None:
        frame = data.copy()
        for column, value in item.fixed.items():
            frame = _frame(frame, column, value)
        return {"hi": frame}
    frames = {"hi": _frame(data, item.term, item.hi), "lo": _frame(data, item.term, item.lo)}
    if item.estimand.needs_y:
        frames["y"] = data
    return frames


def _answer(fit, data, items: list, by: list, re: bool, level: float) -> pd.DataFrame:
    codes, keys = _groups(data, by)
    parts = []
    for item in items:
        x = jnp.asarray(data[item.term].to_numpy(float)) if item.estimand.needs_x else None
        if fit.has_idata:
            parts.append(_summarise_draws(_draw_values(fit, data, item, x, codes, len(keys), re), level))
        else:
            parts.append(_summarise_delta(fit, *_delta_values(fit, data, item, x, codes, len(keys), re), level))
    rows = []
    for item, part in zip(items, parts):
        block = pd.concat([keys.reset_index(drop=True), part], axis=1)
        block.insert(0, "contrast", item.contrast)
        block.insert(0, "term", item.term)
        rows.append(block)
    table = pd.concat(rows, ignore_index=True)
    table.attrs.update(re=re, level=level, uncertainty="posterior draws" if fit.has_idata else
                       "delta method over the fixed effects (variance parameters at their estimates)")
    return table


def _groups(data, by: list) -> tuple[np.ndarray, pd.DataFrame]:
    if not by:
        return np.zeros(len(data), dtype=np.int64), pd.DataFrame(index=[0])
    grouped = data.groupby(by, sort=True, observed=True)
    return grouped.ngroup().to_numpy(), grouped.size().reset_index()[by]


def _average(values, codes, num_groups: int):
    """Each group's mean of ``values`` (..., rows), as (..., groups)."""
    sums = jax.ops.segment_sum(jnp.moveaxis(values, -1, 0), codes, num_groups)
    counts = jnp.bincount(codes, length=num_groups)
    return jnp.moveaxis(sums, 0, -1) / counts


def _draw_values(fit, data, item: Counterfactual, x, codes, num_groups: int, re: bool) -> np.ndarray:
    """(S, groups): the estimand at every posterior draw, accumulated over chunks of rows."""
    bound = {k: bound_draws(fit, frame, re) for k, frame in _frames(data, item).items()}
    S = next(iter(bound.values()))[0].beta.shape[0]
    chunk = max(1, ROWS_PER_CHUNK_DRAWS // S)
    sums, n = None, len(data)
    for start in range(0, n, chunk):
        rows = slice(start, min(start + chunk, n))
        pred = {k: jnp.asarray(expected_draws(fit.spec, d, design, rows)) for k, (d, design) in bound.items()}
        quantities = item.estimand.rows(pred["hi"], pred.get("lo"), None if x is None else x[rows],
                                        pred.get("y"), item.step)
        chunk_sums = [jax.ops.segment_sum(q.T, jnp.asarray(codes[rows]), num_groups).T for q in quantities]
        sums = chunk_sums if sums is None else [a + b for a, b in zip(sums, chunk_sums)]
    counts = jnp.bincount(jnp.asarray(codes), length=num_groups)
    return np.asarray(item.estimand.combine([s / counts for s in sums]))


def _delta_values(fit, data, item: Counterfactual, x, codes, num_groups: int, re: bool) -> tuple:
    """(estimates (groups,), jacobian (groups, p)) at the fixed effects' estimates."""
    means = {}
    for k, frame in _frames(data, item).items():
        point, design = bound_draws(fit, frame, re)
        means[k] = expected_at(fit.spec, point, design)
    codes = jnp.asarray(codes)

    def estimate(beta):
        pred = {k: f(beta) for k, f in means.items()}
        quantities = item.estimand.rows(pred["hi"], pred.get("lo"), x, pred.get("y"), item.step)
        return item.estimand.combine([_average(q, codes, num_groups) for q in quantities])

    beta = jnp.asarray(fit.output.beta)
    return np.asarray(estimate(beta)), np.asarray(jax.jacfwd(estimate)(beta))


def _summarise_draws(values: np.ndarray, level: float) -> pd.DataFrame:
    lower, upper = np.quantile(values, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return pd.DataFrame({"estimate": values.mean(axis=0), "std_error": values.std(axis=0, ddof=1),
                         "conf_low": lower, "conf_high": upper})


def _summarise_delta(fit, estimate: np.ndarray, jacobian: np.ndarray, level: float) -> pd.DataFrame:
    V = np.asarray(fit.output.vcov_beta)
    se = np.sqrt(np.einsum("gp,pq,gq->g", jacobian, V, jacobian))
    z = stats.norm.ppf((1 + level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = estimate / se
    return pd.DataFrame({"estimate": estimate, "std_error": se, "statistic": statistic,
                         "p_value": 2 * stats.norm.sf(np.abs(statistic)),
                         "conf_low": estimate - z * se, "conf_high": estimate + z * se})
