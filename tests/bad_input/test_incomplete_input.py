"""Bad-input table for responses the data record in part (issue 18): censoring codes, interval
ends, truncation bounds, families and methods that cannot take them.

Each row fails before anything is sampled (or is a valid input that must succeed). See
``conftest.py`` for what a row asserts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.design import build_design
from hierax.errors import DataError, FormulaError, HieraxError, ModelError
from hierax.formula import parse_formula
from hierax.model import specify

from .conftest import Case, params, run_case

RNG = np.random.default_rng(18)
N = 40
DATA = pd.DataFrame({"t": RNG.weibull(1.5, N) * 10 + 0.1, "x": RNG.normal(size=N), "g": np.repeat(list("abcdefgh"), 5),
                     "count": RNG.poisson(3.0, N).astype(float) + 1, "real": RNG.normal(size=N)})
DATA = DATA.assign(status=np.arange(N) % 3 == 0, event=(np.arange(N) % 3 == 0).astype(int), code=np.where(np.arange(N) % 3 == 0, "right", "none"),
                   typo=np.where(np.arange(N) % 3 == 0, "rigth", "none"), numeric=np.where(np.arange(N) % 3, 0, 3),
                   interval=np.where(np.arange(N) % 4 == 0, "interval", "none"),
                   upper=lambda d: d["t"] + 1.0, below=lambda d: d["t"] - 1.0, lo=1.0,
                   hi=lambda d: d["count"].max() - 1.0)


def spec(formula, family="weibull", data=DATA):
    return lambda: specify(build_design(parse_formula(formula), data), family)


def _assert(condition):
    assert condition


def _share(expected):
    def check(result):
        assert result.censoring.share == pytest.approx(expected)
    return check


CENSORING = [
    Case("cens_code_misspelt", spec("t | cens(typo) ~ x + (1 | g)"), DataError, "['rigth'], which are not censoring codes",
         "use 'none', 'right', 'left' or 'interval'"),
    Case("cens_code_number_outside", spec("t | cens(numeric) ~ x + (1 | g)"), DataError, "cens(numeric) is [3]",
         "-1 (left), 0 (none), 1 (right) and 2 (interval)"),
    Case("cens_interval_without_y2", spec("t | cens(interval) ~ x + (1 | g)"), DataError, "interval-censored",
         "write cens(censored, y2)"),
    Case("cens_y2_below_y", spec("t | cens(interval, below) ~ x + (1 | g)"), DataError, "is not above the response",
         "upper end must exceed its lower end"),
    Case("cens_on_bernoulli", spec("event | cens(code) ~ x", "bernoulli"), ModelError, "censored (cens()) responses",
         "not 'bernoulli'"),
    Case("cens_family_without_cdf", spec("real | cens(code) ~ x + (1 | g)", "student"), ModelError,
         "available for the families gaussian", "not 'student'"),
    Case("cens_logical_is_right_censoring", spec("t | cens(status) ~ x + (1 | g)"), None, check=_share(14 / 40)),
    Case("cens_arithmetic_codes", spec("t | cens(1 - event) ~ x + (1 | g)"), None, check=_share(26 / 40)),
    Case("cens_with_reml", lambda: hx.fit("real | cens(code) ~ x + (1 | g)", DATA, method="reml"), ModelError,
         "not supported by method='reml'", "method='nuts'"),
    Case("cens_with_laplace", lambda: hx.fit("t | cens(code) ~ x + (1 | g)", DATA, family="weibull",
                                             method="laplace"), ModelError, "not supported by method='laplace'",
         "method='nuts'"),
    Case("cens_twice", spec("t | cens(code) + cens(status) ~ x"), FormulaError, "given twice", "once"),
]

TRUNCATION = [
    Case("trunc_empty", spec("t | trunc() ~ x"), FormulaError, "needs a bound", "trunc(lb = 0)"),
    Case("trunc_unnamed_bound", spec("t | trunc(0) ~ x"), FormulaError, "named arguments only", "trunc(lb = 0)"),
    Case("trunc_excludes_observed", spec("count | trunc(ub = hi) ~ x + (1 | g)", "poisson"), DataError,
         "excludes values the data recorded", "check the bounds or the data"),
    Case("trunc_bounds_crossed", spec("count | trunc(lb = 5, ub = 2) ~ x", "poisson"), DataError,
         "lb is not below ub", "leave room"),
    Case("trunc_bound_as_text", spec("count | trunc(lb = code) ~ x", "poisson"), DataError,
         "must be a number", "or a numeric column"),
    Case("trunc_at_the_support_is_no_truncation", spec("t | trunc(lb = 0) ~ x"), None,
         check=lambda result: _assert(result.truncation is None)),
    Case("trunc_count_bound_rounds_up", spec("count | trunc(lb = 0.5) ~ x", "poisson"), None,
         check=lambda result: _assert(np.all(result.truncation.lower == 1.0))),
    Case("trunc_refuses_predictions", lambda: hx.fit("count | trunc(lb = lo) ~ x", DATA, family="poisson", chains=1,
                                                     warmup=20, draws=10, seed=1).predict(), HieraxError,
         "truncated response (trunc()) are not available yet", "kind='link'"),
    Case("trunc_refuses_simulation", lambda: hx.simulate(hx.model("count | trunc(lb = lo) ~ x", DATA,
                                                                  family="poisson")), HieraxError,
         "simulated data sets of a truncated response", "not available yet"),
]


MISSING_Y = DATA.assign(real=DATA["real"].where(np.arange(N) % 5 != 0), x_gap=DATA["x"].where(np.arange(N) != 5))


def fit_missing(formula, data=MISSING_Y, **options):
    return lambda: hx.fit(formula, data, **{"chains": 1, "warmup": 30, "draws": 10, "seed": 1, **options})


MISSING = [
    Case("missing_response_without_mi", fit_missing("real ~ x + (1 | g)"), DataError, "missing value(s)",
         "impute them in the fit with 'real | mi() ~ ...'"),
    Case("missing_predictor_lists_the_ways", fit_missing("real ~ x_gap + (1 | g)", DATA.assign(
        x_gap=DATA["x"].where(np.arange(N) != 3))), DataError, "'x_gap' has 1 missing value(s)", "hx.pool_fits"),
    Case("mi_without_missing_values_warns", fit_missing("real | mi() ~ x + (1 | g)", DATA), None,
         warns="which has no missing values"),
    Case("mi_everything_missing", fit_missing("real | mi() ~ x", DATA.assign(real=np.nan)), DataError,
         "every value of 'real' is missing", "no observed response"),
    Case("mi_row_missing_a_predictor_too", fit_missing("real | mi() ~ x_gap + (1 | g)"), DataError,
         "miss the response and a predictor too", "drop such rows"),
    Case("mi_with_reml", fit_missing("real | mi() ~ x + (1 | g)", method="reml"), ModelError,
         "needs posterior draws", "method='nuts'"),
    Case("mi_of_an_expression", fit_missing("log(t) | mi() ~ x"), DataError, "imputes a column", "as a column first"),
    Case("mi_with_measurement_sd", spec("real | mi(x) ~ x"), FormulaError, "mi(sdy)", "y | se(sdy)"),
    Case("imputed_without_mi", lambda: hx.fit("real ~ x", DATA, chains=1, warmup=30, draws=10, seed=1).imputed(),
         ModelError, "imputed nothing", "hx.fit('y | mi() ~ x + (1 | g)', data)"),
]


@pytest.mark.parametrize("case", params(CENSORING + TRUNCATION + MISSING))
def test_incomplete_input(case):
    run_case(case)


X_GAPS = DATA.assign(xg=DATA["x"].where(np.arange(N) % 4 != 0))
JOINT = hx.bf("real ~ mi(xg) + (1 | g)") + hx.bf("xg | mi() ~ count")


def _joint(formula=JOINT, data=X_GAPS, **options):
    return lambda: hx.fit(formula, data, **{"chains": 1, "warmup": 30, "draws": 10, "seed": 1, **options})


MISSING_PREDICTORS = [
    Case("mi_x_without_a_model", _joint("real ~ mi(xg) + (1 | g)"), ModelError, "lacks",
         "hx.bf('xg | mi() ~ ...')"),
    Case("mi_x_model_not_used", _joint(hx.bf("real ~ x") + hx.bf("xg | mi() ~ count")), ModelError,
         "has no mi(xg)", "write mi(xg) where the outcome uses it"),
    Case("mi_x_model_without_mi", lambda: hx.bf("real ~ mi(xg)") + hx.bf("xg ~ count"), FormulaError,
         "must model a missing predictor", "'xg | mi() ~ ...'"),
    Case("mi_x_with_reml", _joint(method="reml"), ModelError, "fitted by method='nuts'", "not 'reml'"),
    Case("mi_x_in_a_group_term", lambda: hx.bf("real ~ x + (mi(xg) | g)"), FormulaError, "in a group term",
         "among the fixed effects"),
    Case("mi_x_in_a_function", lambda: hx.bf("real ~ log(mi(xg))"), FormulaError, "cannot be inside a function",
         "mi(xg):z"),
    Case("mi_x_all_missing", _joint(data=X_GAPS.assign(xg=np.nan)), DataError, "every value of 'xg' is missing",
         "nothing to model it from"),
    Case("mi_x_no_missing_warns", _joint(data=X_GAPS.assign(xg=DATA["x"])), None, warns="no missing values"),
    Case("mi_x_product_of_two", _joint(hx.bf("real ~ mi(xg):mi(x2)") + hx.bf("xg | mi() ~ 1")
                                       + hx.bf("x2 | mi() ~ 1"), X_GAPS.assign(x2=X_GAPS["xg"])), ModelError,
         "product of two latent predictors", "not available yet"),
    Case("mi_x_model_reads_another_latent", _joint(hx.bf("real ~ mi(xg) + mi(x2)") + hx.bf("xg | mi() ~ 1")
                                                   + hx.bf("x2 | mi() ~ xg"), X_GAPS.assign(x2=X_GAPS["xg"])),
         ModelError, "reads 'xg', which is itself latent", "impute xg outside the model"),
    Case("mi_x_model_reads_the_outcome", _joint(hx.bf("real ~ mi(xg)") + hx.bf("xg | mi() ~ real")), ModelError,
         "reads the outcome 'real'", "model xg from other predictors"),
    Case("mi_x_simulate_refuses", lambda: hx.model(JOINT, X_GAPS), FormulaError, "hx.fit(..., method='nuts') only",
         "other methods and tools take one response"),
    Case("mi_x_save_refuses", lambda: _save(_joint()()), HieraxError, "not available yet",
         "fit.idata.to_netcdf(path)"),
    Case("mi_x_icc_refuses", lambda: _joint()().icc(), ModelError, "latent predictors", "fit.varcorr()"),
    Case("mi_x_predict_fitted_rows", lambda: _joint()().predict(), ModelError, "an imputed x differs by draw",
         "pass newdata"),
]


def _save(fit):
    import tempfile
    from pathlib import Path

    from hierax.results.io import save

    return save(fit, Path(tempfile.mkdtemp()) / "fit.nc")


@pytest.mark.parametrize("case", params(MISSING_PREDICTORS))
def test_missing_predictor_input(case):
    run_case(case)


MEASURED = DATA.assign(sdx=0.5, sdneg=np.r_[-0.5, np.full(N - 1, 0.5)])
MEASUREMENT_ERROR = [
    Case("me_negative_sd", _joint("real ~ me(x, sdneg) + (1 | g)", MEASURED), DataError,
         "error sd must be positive and finite", "use x itself"),
    Case("me_missing_value", _joint("real ~ me(xg, sdx)", MEASURED.assign(xg=X_GAPS["xg"])), DataError,
         "needs 'xg' measured in every row", "mi()"),
    Case("me_with_reml", _joint("real ~ me(x, sdx) + (1 | g)", MEASURED, method="reml"), ModelError,
         "fitted by method='nuts'", "not 'reml'"),
    Case("me_in_a_group_term", lambda: hx.bf("real ~ x + (me(x, sdx) | g)"), FormulaError, "me() in a group term",
         "among the fixed effects"),
    Case("me_one_argument", lambda: hx.bf("real ~ me(x)"), FormulaError, "me() takes the measured predictor's column",
         "me(x, sdx)"),
    Case("me_with_a_model_beside", _joint(hx.bf("real ~ me(x, sdx)") + hx.bf("x | mi() ~ count"), MEASURED),
         ModelError, "has a model of its own", "not available yet"),
    Case("me_and_mi_of_one_column", _joint(hx.bf("real ~ me(xg, sdx) + mi(xg)") + hx.bf("xg | mi() ~ 1"),
                                           MEASURED.assign(xg=X_GAPS["xg"])), ModelError, "appears as", "use one"),
]


@pytest.mark.parametrize("case", params(MEASUREMENT_ERROR))
def test_measurement_error_input(case):
    run_case(case)
