"""Bad-input table: the data's columns, responses, predictors and grouping factors.

Most rows build a design on tiny data (``build_design``) or fit it by REML, so the table runs in
seconds; the rows of a model without fixed effects also sample it with NUTS (a few seconds each).
See ``conftest.py`` for what a row asserts, and ``hierax/design/columns.py`` for where the line
between refusing, warning and accepting is drawn.
"""

from __future__ import annotations

import datetime
import unicodedata
import warnings

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.design import build_design
from hierax.errors import DataError
from hierax.formula import parse_formula

from .conftest import Case, params, run_case

RNG = np.random.default_rng(1515)
N = 40
X = RNG.normal(size=N)
BASE = pd.DataFrame({
    "y": 1.0 + 0.5 * X + np.repeat(RNG.normal(size=8), 5) + RNG.normal(scale=0.5, size=N),
    "x": X, "f": np.tile(["lo", "mid", "hi", "mid"], 10), "g": np.repeat(list("abcdefgh"), 5),
    "h": np.tile(list("uv"), 20), "k": RNG.poisson(3, N), "m": RNG.poisson(2, N), "s": np.full(N, 0.5),
})


def with_column(name, values, data=BASE):
    return data.assign(**{name: values})


def replaced(name, row, value, data=BASE):
    out = data.copy()
    out[name] = out[name].astype(object)
    out.loc[row, name] = value
    return out


def design(formula, data=BASE):
    return lambda: build_design(parse_formula(formula), data)


def reml(formula, data=BASE):
    return lambda: hx.fit(formula, data, method="reml")


def silently(call):
    """``call`` with a check that it warns about nothing (a genuine input must pass quietly)."""
    def run():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = call()
        assert not [w for w in caught if issubclass(w.category, UserWarning)], [str(w.message) for w in caught]
        return result
    return run


def _names(*expected):
    def check(design):
        assert design.fixed_names == expected
    return check


def _same_x_as_floats(design):
    np.testing.assert_array_equal(design.X, build_design(parse_formula("y ~ x + (1 | g)"), BASE).X)


TEXT_NUMBERS = [f"{v:.3f}" for v in X]
DATES = pd.date_range("2024-01-01", periods=N, freq="D")
DUPLICATED = pd.concat([BASE, BASE[["x"]]], axis=1)
NFD = BASE.rename(columns={"x": unicodedata.normalize("NFD", "âge")})

COLUMNS = [
    Case("missing_column_close_name", design("y ~ xx + (1 | g)"), DataError, "'xx' (used in the formula) is not in "
         "the data", "did you mean 'x'"),
    Case("missing_column_no_close_name", design("y ~ weight + (1 | g)"), DataError, "is not in the data",
         "check the spelling"),
    Case("columns_named_by_numbers", design("y ~ `0`", pd.DataFrame({"y": X, 0: X})), DataError,
         "named by numbers", "data.columns.astype(str)"),
    Case("unicode_normalisation", design("y ~ âge", NFD), DataError, "Unicode normalisation",
         "unicodedata.normalize('NFC', c)"),
    Case("duplicate_column_used", design("y ~ x + (1 | g)", DUPLICATED), DataError, "2 columns named 'x'",
         "data.columns.duplicated()"),
    Case("duplicate_column_unused_ok", design("y ~ f + (1 | g)", DUPLICATED), None),
    Case("no_rows", design("y ~ x", BASE.iloc[:0]), DataError, "the data have no rows", "check any filtering"),
    Case("data_is_a_list", design("y ~ x", [1.0, 2.0]), DataError, "must be a pandas or polars DataFrame",
         "(or a dict of columns)"),
    Case("data_is_a_series", design("y ~ x", BASE["x"]), DataError, "got Series", "series.to_frame()"),
    Case("dict_of_unequal_columns", design("y ~ x", {"y": [1.0, 2.0, 3.0], "x": [1.0, 2.0]}), DataError,
         "cannot be made a table", "of the same length"),
    Case("dict_of_columns_ok", design("y ~ x", {"y": [1.0, 2.0, 4.0], "x": [0.5, 1.0, 3.0]}), None,
         check=_names("(Intercept)", "x")),
    Case("missing_value_predictor", design("y ~ x + (1 | g)", replaced("x", 3, np.nan)), DataError,
         "column 'x' has 1 missing value(s)", "dropna(subset="),
    Case("missing_value_none", design("y ~ f + (1 | g)", replaced("f", 7, None)), DataError,
         "column 'f' has 1 missing value(s)", "drop or impute"),
]

PREDICTORS = [
    Case("numbers_as_text", design("y ~ x + (1 | g)", with_column("x", TEXT_NUMBERS)), DataError,
         "would become a factor with 40 levels", "pd.to_numeric(data['x'])"),
    Case("numbers_as_text_in_arithmetic", design("y ~ log(n) + (1 | g)", with_column("n", ["1", "2"] * 20)),
         DataError, "holds numbers stored as text (e.g. '1', '2') and is used as a number", "pd.to_numeric"),
    Case("numbers_as_text_in_factor_ok", design("y ~ factor(n) + (1 | g)", with_column("n", ["1", "2"] * 20)),
         None, check=_names("(Intercept)", "factor(n)[2]")),
    Case("integer_codes_as_text_warn", design("y ~ n + (1 | g)", with_column("n", [str(i % 7) for i in range(N)])),
         None, warns="hierax reads it as categorical with 7 levels",
         check=_names("(Intercept)", "n[1]", "n[2]", "n[3]", "n[4]", "n[5]", "n[6]")),
    Case("integer_codes_as_text_factor_silent", silently(design("y ~ factor(n) + (1 | g)",
                                                                with_column("n", [str(i % 7) for i in range(N)]))),
         None),
    Case("many_integer_codes_as_text", design("y ~ n", with_column("n", [str(i % 21) for i in range(N)])),
         DataError, "would become a factor with 21 levels", "or write factor(n)"),
    Case("stray_na_text", design("y ~ x + (1 | g)", replaced("x", 5, "n/a")), DataError,
         "not numbers ('n/a'; row(s) 5)", "errors='coerce'"),
    Case("stray_question_mark", design("y ~ x + (1 | g)", replaced("x", 0, "?")), DataError,
         "1 value(s) that are not numbers ('?'", "data.dropna(subset=['x'])"),
    Case("stray_empty_string", design("y ~ x + (1 | g)", replaced("x", 9, "")), DataError,
         "not numbers ('';", "errors='coerce'"),
    Case("strays_in_text_numbers", design("y ~ x + (1 | g)",
                                          with_column("x", TEXT_NUMBERS[:37] + ["-", "missing", "-"])), DataError,
         "3 value(s) that are not numbers ('-', 'missing'", "or write factor(x)"),
    Case("datetime_predictor", design("y ~ d + (1 | g)", with_column("d", DATES)), DataError, "holds dates",
         ".dt.days"),
    Case("datetime_tz_predictor", design("y ~ d + (1 | g)", with_column("d", DATES.tz_localize("UTC"))), DataError,
         "holds dates", "days since the first date"),
    Case("python_dates_predictor", design("y ~ d + (1 | g)", with_column("d", [d.date() for d in DATES])),
         DataError, "holds dates", "write factor(d) if each date is a category"),
    Case("duration_predictor", design("y ~ d + (1 | g)", with_column("d", pd.to_timedelta(X ** 2, unit="h"))),
         DataError, "holds durations", ".dt.total_seconds()"),
    Case("complex_predictor", design("y ~ c + (1 | g)", with_column("c", X + 1j)), DataError,
         "complex numbers", "np.abs"),
    Case("infinite_predictor", design("y ~ x + (1 | g)", replaced("x", 2, np.inf).astype({"x": float})), DataError,
         "1 infinite value(s) (row(s) 2)", "np.isfinite(data['x'])"),
    Case("minus_infinite_predictor", design("y ~ x + (1 | g)", replaced("x", 4, -np.inf).astype({"x": float})),
         DataError, "infinite value", "drop those rows"),
    Case("infinite_inside_transform", design("y ~ log(x2) + (1 | g)", with_column("x2", np.r_[np.inf, X[1:] ** 2])),
         DataError, "infinite value", "replace the values"),
    Case("division_by_zero", design("y ~ I(x / z) + (1 | g)", with_column("z", np.r_[0.0, np.ones(N - 1)])),
         DataError, "'I(x / z)' is not a finite number in 1 row(s)", "transform the columns"),
    Case("log_of_negative", design("y ~ log(x) + (1 | g)"), DataError, "is not finite", "transform the column first"),
    Case("scale_of_constant", design("y ~ scale(c) + (1 | g)", with_column("c", 2.0)), DataError,
         "cannot be scaled", "remove it from the formula"),
    Case("constant_predictor", design("y ~ x + c + (1 | g)", with_column("c", 2.0)), DataError,
         "'c' is a linear combination", "remove it or the terms it duplicates"),
    Case("collinear_predictors", design("y ~ x + x2 + (1 | g)", with_column("x2", 2 * X - 1)), DataError,
         "'x2' is a linear combination", "remove it"),
    Case("text_in_arithmetic", design("y ~ log(f) + (1 | g)"), DataError, "'f' is categorical",
         "use a numeric column"),
    Case("categorical_text_ok", silently(design("y ~ x + f + (1 | g)")), None,
         check=_names("(Intercept)", "x", "f[lo]", "f[mid]")),
    Case("boolean_predictor_ok", silently(design("y ~ b + (1 | g)", with_column("b", X > 0))), None,
         check=_names("(Intercept)", "b[True]")),
    Case("pandas_categorical_of_number_text_ok", silently(design(
        "y ~ n + (1 | g)", with_column("n", pd.Categorical(["1", "2", "3", "4"] * 10)))), None,
         check=_names("(Intercept)", "n[2]", "n[3]", "n[4]")),
    Case("object_column_of_numbers_ok", silently(design("y ~ x + (1 | g)", with_column("x", X.astype(object)))),
         None, check=_same_x_as_floats),
    Case("many_levels_warns", design("y ~ code + (1 | g)", with_column("code", [f"id{i % 24}" for i in range(N)])),
         None, warns="24 distinct values in 40 rows"),
    Case("ten_levels_silent", silently(design("y ~ code", with_column("code", [f"c{i % 10}" for i in range(N)]))),
         None),
    Case("identifier_as_predictor", design("y ~ code", with_column("code", [f"id{i}" for i in range(N)])),
         DataError, "a different value in every row (40 levels in 40 rows)", "use it as a grouping factor"),
]

RESPONSES = [
    Case("response_as_text", design("y ~ x + (1 | g)", with_column("y", [f"{v:.2f}" for v in BASE["y"]])),
         DataError, "column 'y' of the data holds numbers stored as text", "pd.to_numeric(data['y'])"),
    Case("response_codes_as_text", design("r ~ x + (1 | g)", with_column("r", np.where(X > 0, "1", "0"))),
         DataError, "is used as a number", "pd.to_numeric(data['r'])"),
    Case("response_stray", design("y ~ x + (1 | g)", replaced("y", 11, "NA")), DataError,
         "not numbers ('NA'", "errors='coerce'"),
    Case("response_infinite", design("y ~ x + (1 | g)", with_column("y", np.r_[np.inf, BASE["y"][1:]])), DataError,
         "infinite value", "np.isfinite(data['y'])"),
    Case("response_missing", design("y ~ x + (1 | g)", replaced("y", 1, np.nan)), DataError,
         "column 'y' has 1 missing value(s)", "dropna"),
    Case("response_three_levels", design("f ~ x + (1 | g)"), DataError, "the response 'f' is not numeric",
         "a two-level one for a bernoulli model"),
    Case("response_dates", design("d ~ x + (1 | g)", with_column("d", DATES)), DataError, "holds dates",
         "convert it to a number"),
    Case("response_constant_reml", reml("y ~ x + (1 | g)", with_column("y", 4.2)), DataError,
         "the response is constant", "names the right response column"),
    Case("response_reproduced_reml", reml("y ~ x + (1 | g)", with_column("y", 3 * X + 2)), DataError,
         "reproduce the response exactly", "not computed from the predictors"),
    Case("response_constant_less_offset_reml", reml("y ~ x + offset(o) + (1 | g)",
                                                    BASE.assign(o=X ** 2, y=X ** 2 + 1.0)), DataError,
         "the response less the offset is constant", "check that the formula"),
    Case("response_two_level_text_ok", design("r ~ x + (1 | g)", with_column("r", np.where(X > 0, "yes", "no"))),
         None, check=lambda d: np.testing.assert_array_equal(d.y, (X > 0).astype(float))),
    Case("response_boolean_ok", design("r ~ x + (1 | g)", with_column("r", X > 0)), None),
    Case("cbind_failures_as_text", design("cbind(k, m) ~ x + (1 | g)", with_column("m", [str(v) for v in BASE["m"]])),
         DataError, "column 'm' of the data holds numbers stored as text", "pd.to_numeric"),
    Case("trials_missing", design("k | trials(t) ~ x + (1 | g)", BASE.assign(t=np.r_[np.nan, (BASE.k + 5)[1:]])),
         DataError, "column 't' has 1 missing value(s)", "drop or impute"),
    Case("se_infinite", design("y | se(s) ~ x + (1 | g)", with_column("s", np.r_[np.inf, np.full(N - 1, 0.5)])),
         DataError, "column 's' of the data has 1 infinite value(s)", "drop those rows"),
    Case("offset_as_text", design("y ~ x + offset(o) + (1 | g)", with_column("o", ["0.5"] * N)), DataError,
         "holds numbers stored as text", "pd.to_numeric(data['o'])"),
]

NO_FIXED = "y ~ 0 + (1 | g)"


def _no_fixed_effects(fit):
    assert fit.fixef().empty and fit.ranef()["level"].tolist() == list("abcdefgh")
    assert set(fit.varcorr()["group"]) == {"g", "Residual"}


GROUPING = [
    Case("group_single_level", design("y ~ x + (1 | g)", with_column("g", "a")), DataError, "has only one level",
         "Remove the group term"),
    Case("group_missing_value", design("y ~ x + (1 | g)", replaced("g", 6, np.nan)), DataError,
         "column 'g' has 1 missing value(s)", "drop or impute"),
    Case("group_missing_column", design("y ~ x + (1 | group)"), DataError, "'group' (used in the formula) is not in",
         "check the spelling"),
    Case("group_duplicated", design("y ~ x + (1 | g)", pd.concat([BASE, BASE[["g"]]], axis=1)), DataError,
         "2 columns named 'g'", "drop or rename the duplicates"),
    Case("group_number_text_ok", silently(design("y ~ x + (1 | n)", with_column("n", [str(i // 5) for i in range(N)]))),
         None, check=lambda d: np.testing.assert_equal(d.random[0].num_levels, 8)),
    Case("group_integers_ok", silently(design("y ~ x + (1 | n)", with_column("n", np.arange(N) // 5))), None),
    Case("group_floats_ok", silently(design("y ~ x + (1 | n)", with_column("n", np.arange(N) // 5 * 1.5))), None),
    Case("group_dates_ok", silently(design("y ~ x + (1 | d)", with_column("d", np.repeat(DATES[:8], 5)))), None,
         check=lambda d: np.testing.assert_equal(d.random[0].levels[0], "2024-01-01 00:00:00")),
    Case("group_python_dates_ok", silently(design("y ~ x + (1 | d)", with_column(
        "d", np.repeat([datetime.date(2024, 1, k) for k in range(1, 9)], 5)))), None),
    Case("group_boolean_ok", silently(design("y ~ x + (1 | b)", with_column("b", X > 0))), None),
    Case("group_interaction_ok", design("y ~ x + (1 | g:h)"), None,
         check=lambda d: np.testing.assert_equal(d.random[0].num_levels, 16)),
    Case("group_unicode_levels_ok", silently(design("y ~ x + (1 | région)", with_column("région", np.repeat(
        ["Île-de-France", "Bretagne", "Grand Est", "東京", "Occitanie", "Corse", "Alsace", "Nord"], 5)))), None),
    Case("no_fixed_effects_reml_ok", reml(NO_FIXED), None, check=_no_fixed_effects),
    Case("no_fixed_effects_ml_ok", lambda: hx.fit(NO_FIXED, BASE, method="ml"), None, check=_no_fixed_effects),
    Case("no_fixed_effects_nuts_collapsed_ok", lambda: hx.fit(NO_FIXED, BASE, chains=2, warmup=100, draws=100, seed=1),
         None, check=_no_fixed_effects),
    Case("no_fixed_effects_nuts_full_ok", lambda: hx.fit(NO_FIXED, BASE, chains=2, warmup=100, draws=100, seed=1,
                                                         collapse=False),
         None, check=_no_fixed_effects),
    Case("no_fixed_effects_laplace_ok", lambda: hx.fit("k ~ 0 + (1 | g)", BASE, family="poisson", method="laplace"),
         None, check=lambda fit: np.testing.assert_equal(fit.fixef().empty, True)),
]

CASES = COLUMNS + PREDICTORS + RESPONSES + GROUPING


@pytest.mark.parametrize("case", params(CASES))
def test_column_input(case):
    run_case(case)
