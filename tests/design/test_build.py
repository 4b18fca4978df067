"""Design matrices: contrasts and labels as in R's model.matrix, random blocks, bad data."""

import numpy as np
import pandas as pd
import pytest

from hierax.design import build_design
from hierax.errors import DataError
from hierax.formula import parse_formula


@pytest.fixture
def data():
    return pd.DataFrame({
        "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.5],
        "x": [0.1, 0.5, 0.2, 0.9, 0.4, 0.3],
        "f": ["b", "a", "c", "a", "b", "c"],
        "g": [1, 1, 2, 2, 3, 3],
        "h": ["u", "v", "u", "v", "u", "v"],
    })


def design(text, data):
    return build_design(parse_formula(text), data)


def test_treatment_contrasts_drop_the_first_sorted_level(data):
    d = design("y ~ f", data)
    assert d.fixed_names == ("(Intercept)", "f[b]", "f[c]")
    np.testing.assert_array_equal(d.X[:, 1], [1, 0, 0, 0, 1, 0])


def test_without_intercept_a_factor_gets_all_levels(data):
    assert design("y ~ 0 + f", data).fixed_names == ("f[a]", "f[b]", "f[c]")


def test_interaction_of_factor_and_numeric_follows_r(data):
    # R: model.matrix(~ x * f) has x:fb and x:fc; model.matrix(~ x:f) has x:fa, x:fb, x:fc.
    assert design("y ~ x * f", data).fixed_names == ("(Intercept)", "x", "f[b]", "f[c]", "x:f[b]", "x:f[c]")
    assert design("y ~ x:f", data).fixed_names == ("(Intercept)", "x:f[a]", "x:f[b]", "x:f[c]")


def test_pandas_categorical_keeps_its_level_order(data):
    data = data.assign(f=pd.Categorical(data["f"], categories=["c", "b", "a"]))
    assert design("y ~ f", data).fixed_names == ("(Intercept)", "f[b]", "f[a]")


def test_scale_uses_sample_sd_and_records_it(data):
    d = design("y ~ scale(x)", data)
    expected = (data["x"] - data["x"].mean()) / data["x"].std(ddof=1)
    np.testing.assert_allclose(d.X[:, 1], expected)
    assert d.info.transform_state["scale(x)"] == pytest.approx((data["x"].mean(), data["x"].std(ddof=1)))


def test_random_block_has_local_design_and_group_index(data):
    d = design("y ~ x + (1 + x | g)", data)
    (block,) = d.random
    assert block.terms == ("(Intercept)", "x") and block.levels == ("1", "2", "3")
    np.testing.assert_array_equal(block.group_index, [0, 0, 1, 1, 2, 2])
    np.testing.assert_allclose(block.Z[:, 1], data["x"])
    assert block.correlated


def test_nested_groups_expand_to_two_blocks(data):
    d = design("y ~ (1 | g/h)", data)
    assert [b.group for b in d.random] == ["g", "g:h"]
    assert d.random[1].levels == ("1:u", "1:v", "2:u", "2:v", "3:u", "3:v")


def test_repeated_group_gets_a_unique_block_name(data):
    d = design("y ~ (1 | g) + (0 + x | g)", data)
    assert [b.name for b in d.random] == ["g", "g.2"]


def test_binomial_trials_from_cbind(data):
    data = data.assign(s=[1, 0, 2, 3, 1, 0], n=[3, 2, 4, 5, 2, 1])
    d = design("cbind(s, n - s) ~ x", data)
    np.testing.assert_array_equal(d.trials, [3, 2, 4, 5, 2, 1])


def test_polars_frames_are_accepted(data):
    pl = pytest.importorskip("polars")
    d = design("y ~ x + (1 | g)", pl.from_pandas(data))
    assert d.X.shape == (6, 2)


@pytest.mark.parametrize("text, edit, phrase", [
    ("y ~ xx", None, "column 'xx' (used in the formula) is not in the data; did you mean 'x'"),
    ("y ~ x", lambda d: d.assign(x=[np.nan, 1, 2, 3, 4, 5]), "column 'x' has 1 missing value"),
    ("f ~ x", None, "the response 'f' is not numeric"),
    ("y ~ x + (1 | g)", lambda d: d.assign(g=1), "has only one level"),
    ("y ~ x + I(2 * x)", None, "is a linear combination"),
    ("y ~ log(x - 1)", None, "is not finite"),
    ("y ~ f + I(f * 2)", None, "is categorical"),
])
def test_bad_data_gives_clear_errors(data, text, edit, phrase):
    frame = edit(data) if edit else data
    with pytest.raises(DataError) as error:
        design(text, frame)
    assert phrase in str(error.value)


def test_empty_data_and_wrong_type():
    with pytest.raises(DataError, match="no rows"):
        design("y ~ x", pd.DataFrame({"y": [], "x": []}))
    with pytest.raises(DataError, match="must be a pandas or polars DataFrame"):
        design("y ~ x", [1, 2, 3])


def test_value_roles_leave_out_grouping_factors_and_factor_arguments():
    """Only columns read as values are checked for their kind (a grouping factor's values and the
    argument of factor() are labels, whatever their type); those in the response, the offset or
    inside a function must be numbers (True), those standing as terms may be categories (False)."""
    from hierax.design.columns import term_names, value_roles

    f = parse_formula("cbind(s, n - s) ~ x + factor(k) + log(w) + offset(o) + x:log(z) + (1 + z | g/h)")
    assert value_roles(f, response=True) == {"s": True, "n": True, "o": True, "x": False, "w": True, "z": True}
    assert list(value_roles(f, response=False)) == ["o", "x", "w", "z"]
    assert term_names(f) == ("x", "z")


@pytest.mark.parametrize("levels, rows, warns", [(19, 30, False), (20, 30, True), (20, 40, False), (21, 40, True)])
def test_a_text_predictor_warns_from_20_levels_above_half_the_rows(levels, rows, warns):
    import warnings

    frame = pd.DataFrame({"y": np.arange(rows, dtype=float) % 7, "code": [f"c{i % levels}" for i in range(rows)]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        design("y ~ code", frame)
    assert any("distinct values" in str(w.message) for w in caught) == warns


@pytest.mark.parametrize("numbers, refused", [(5, True), (3, True), (2, False)])
def test_text_is_refused_as_numbers_when_at_least_half_its_rows_read_as_numbers(data, numbers, refused):
    """Of six rows, ``numbers`` hold "1.5"-like text and the rest "a" or "b": at least half numbers
    is a numeric column with strays; fewer is a categorical column that happens to hold numbers."""
    column = [f"{k + 1.5}" for k in range(numbers)] + ["a", "b"] * 3
    frame = data.assign(t=column[:6])
    if refused:
        with pytest.raises(DataError, match="that are not numbers"):
            design("y ~ t", frame)
    else:
        assert design("y ~ t", frame).fixed_names == ("(Intercept)", "t[2.5]", "t[a]", "t[b]")


def test_an_object_column_of_numbers_is_numeric(data):
    as_objects = design("y ~ x + (1 | g)", data.assign(x=data["x"].astype(object)))
    np.testing.assert_array_equal(as_objects.X, design("y ~ x + (1 | g)", data).X)
    assert as_objects.fixed_names == ("(Intercept)", "x")
