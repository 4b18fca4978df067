"""Bad-input table: data given to ``fit.predict`` (``hierax.design.newdata``, ``workflow/predict.py``).

One small REML fit, made once for the module, serves every row; each row's call takes it. See
``conftest.py`` for what a row asserts.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.errors import DataError, HieraxError

from .conftest import Case, params, run_case

RNG = np.random.default_rng(1516)
N = 48
X = RNG.normal(size=N)
DATA = pd.DataFrame({"x": X, "z": RNG.uniform(10, 20, N), "f": np.tile(["lo", "mid", "hi"], N // 3),
                     "g": np.repeat(np.arange(1, 9), 6)})
DATA["y"] = 2.0 + 0.7 * X + np.repeat(RNG.normal(size=8), 6) + RNG.normal(scale=0.4, size=N)
FORMULA = "y ~ x + scale(z) + f + (1 + x | g)"
NEW = DATA.drop(columns="y").iloc[[0, 7, 20, 41]].reset_index(drop=True)


@pytest.fixture(scope="module")
def fit():
    return hx.fit(FORMULA, DATA, method="reml")


def predict(new, **kwargs):
    """A row's call: ``fit.predict(new, **kwargs)`` for the module's fit (bound by the test)."""
    return lambda fit: fit.predict(new, seed=1, num_draws=200, **kwargs)


def edited(**columns):
    return NEW.assign(**columns)


def with_value(name, row, value):
    out = NEW.copy()
    out[name] = out[name].astype(object)
    out.loc[row, name] = value
    return out


def _rows(count):
    def check(table):
        assert len(table) == count and np.all(np.isfinite(table["estimate"]))
    return check


def _levels(*expected):
    def check(table):
        assert list(table["level[g]"]) == list(expected)
    return check


def _same_as_floats(table):
    pd.testing.assert_frame_equal(table, hx.fit(FORMULA, DATA, method="reml").predict(NEW, seed=1, num_draws=200))


ROWS = [
    Case("empty_new_data", predict(NEW.iloc[:0]), DataError, "the new data have no rows", "at least one row"),
    Case("text_for_numeric", predict(edited(x=["a", "b", "c", "d"])), DataError,
         "holds categories or text (e.g. 'a', 'b', 'c')", "pd.to_numeric(newdata['x'])"),
    Case("boolean_for_numeric", predict(edited(x=[True, False, True, False])), DataError,
         "but it was numeric when the model was fitted", "pass numbers"),
    Case("numbers_as_text", predict(edited(x=["0.1", "0.2", "0.3", "0.4"])), DataError,
         "holds categories or text (e.g. '0.1'", "pd.to_numeric"),
    Case("numbers_as_text_in_transform", predict(edited(z=["10", "12", "13", "14"])), DataError,
         "holds numbers stored as text (e.g. '10', '12', '13') and is used as a number", "pd.to_numeric"),
    Case("stray_text", predict(with_value("x", 2, "n/a")), DataError, "not numbers ('n/a'", "errors='coerce'"),
    Case("text_inside_transform", predict(edited(z=["10", "12", "x", "14"])), DataError,
         "not numbers ('x'", "errors='coerce'"),
    Case("numbers_for_factor", predict(edited(f=[1, 2, 3, 1])), DataError,
         "but it was categorical when the model was fitted", "pass those levels"),
    Case("new_factor_level", predict(edited(f=["lo", "mid", "extreme", "hi"])), DataError,
         "level(s) ['extreme'] that the fit did not have", "drop those rows, or refit"),
    Case("missing_predictor", predict(NEW.drop(columns="x")), DataError, "lack column(s) ['x']",
         "add them to the new data"),
    Case("missing_transformed_column", predict(NEW.drop(columns="z")), DataError, "lack column(s) ['z']",
         "add them"),
    Case("missing_group_column", predict(NEW.drop(columns="g")), DataError, "lack column(s) ['g']",
         "every predictor and grouping factor"),
    Case("nan_predictor", predict(with_value("x", 1, np.nan)), DataError, "column 'x' has 1 missing value(s) in the "
         "new data", "drop or impute"),
    Case("nan_group", predict(with_value("g", 3, None)), DataError, "column 'g' has 1 missing value(s)", "dropna"),
    Case("infinite_predictor", predict(edited(x=[np.inf, 0.0, 1.0, 2.0])), DataError, "1 infinite value(s)",
         "np.isfinite"),
    Case("dates_for_numeric", predict(edited(x=pd.date_range("2024-01-01", periods=4))), DataError, "holds dates",
         "convert it to a number"),
    Case("duplicate_columns", predict(pd.concat([NEW, NEW[["x"]]], axis=1)), DataError,
         "the new data have 2 columns named 'x'", "drop or rename the duplicates"),
    Case("series_not_frame", predict(NEW["x"]), DataError, "the new data must be a pandas", "series.to_frame()"),
    Case("list_not_frame", predict([[0.1, 12.0, "lo", 1]]), DataError, "must be a pandas or polars DataFrame",
         "a dict of columns"),
    Case("dict_of_scalars", predict({"x": 0.1, "z": 12.0, "f": "lo", "g": 1}), DataError,
         "cannot be made a table", "as a list or array of the same length"),
    Case("unknown_kind", predict(NEW, kind="expected"), HieraxError, "kind must be one of",
         "'mean', 'response', 'link'"),
    Case("unknown_new_groups", predict(NEW, new_groups="zero"), HieraxError, "new_groups must be one of",
         "'sample', 'population', 'error'"),
    Case("level_out_of_range", predict(NEW, level=95), HieraxError, "level must be between 0 and 1", "got 95"),
    Case("new_group_refused", predict(edited(g=[1, 2, 99, 100]), new_groups="error"), DataError,
         "2 level(s) of 'g' were not in the fit", "new_groups='sample'"),
    Case("extra_columns_ok", predict(edited(note=["a", "b", "c", "d"], y=[1.0] * 4)), None, check=_rows(4)),
    Case("response_as_text_ignored_ok", predict(edited(y=["?"] * 4)), None, check=_rows(4)),
    Case("dict_of_lists_ok", predict({"x": [0.1], "z": [12.0], "f": ["lo"], "g": [1]}), None, check=_rows(1)),
    Case("one_row_with_scale_ok", predict(NEW.iloc[[2]]), None, check=_rows(1)),
    Case("subset_of_levels_ok", predict(edited(f=["mid"] * 4)), None, check=_rows(4)),
    Case("group_as_text_ok", predict(edited(g=["1", "2", "4", "8"])), None,
         check=_levels("fitted", "fitted", "fitted", "fitted")),
    Case("group_as_float_ok", predict(edited(g=[1.0, 2.0, 4.0, 8.0])), None,
         check=_levels("fitted", "fitted", "fitted", "fitted")),
    Case("new_group_sampled_ok", predict(edited(g=[1, 2, 99, 100])), None,
         check=_levels("fitted", "fitted", "new: sampled from the population", "new: sampled from the population")),
    Case("object_column_of_numbers_ok", predict(NEW.astype({"x": object})), None, check=_same_as_floats),
    Case("categorical_dtype_ok", predict(edited(f=pd.Categorical(NEW["f"]))), None, check=_same_as_floats),
    Case("link_and_response_kinds_ok", lambda fit: (fit.predict(NEW, kind="link", seed=1, num_draws=50),
                                                    fit.predict(NEW, kind="response", seed=1, num_draws=50)), None,
         check=lambda tables: [_rows(4)(t) for t in tables]),
    Case("no_fixed_effects_model_ok", lambda fit: hx.fit("y ~ 0 + (1 | g)", DATA, method="reml").predict(
        NEW, seed=1, num_draws=50), None, check=_rows(4)),
]


@pytest.mark.parametrize("case", params(ROWS))
def test_prediction_input(case, fit):
    run_case(dataclasses.replace(case, call=functools.partial(case.call, fit)))
