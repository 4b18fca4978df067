"""What each level's effect varies around: fixed columns constant within levels, and nesting."""

import numpy as np
import pandas as pd

from hierax.design import build_design
from hierax.formula import parse_formula
from hierax.model.hierarchy import level_mean_design, nesting_parents

RNG = np.random.default_rng(8)
N = 24
DATA = pd.DataFrame({
    "school": np.repeat([f"s{i}" for i in range(6)], 4),
    "district": np.repeat(["d0", "d1", "d2"], 8),
    "x": RNG.normal(size=N),
    "y": RNG.normal(size=N),
    "row": [f"r{i}" for i in range(N)],
})
DATA["u"] = DATA["school"].map({f"s{i}": float(i) for i in range(6)})      # a school-level predictor
DATA["year"] = np.where(DATA["school"].isin(["s0", "s1", "s2"]), "y1", "y2")


def design(formula):
    return build_design(parse_formula(formula), DATA)


def block(d, group):
    return next(b for b in d.random if b.group == group)


def test_intercept_and_group_level_predictors_join_the_intercepts_mean():
    d = design("y ~ x + u + year + (1 | school)")
    M = level_mean_design(block(d, "school"), d.X)                    # (levels, 1, p)
    names = list(d.fixed_names)
    levels = list(block(d, "school").levels)
    assert M[:, 0, names.index("(Intercept)")].tolist() == [1.0] * 6
    np.testing.assert_allclose(M[:, 0, names.index("u")], [float(lv[1]) for lv in levels])
    np.testing.assert_allclose(M[:, 0, names.index("year[y2]")], [float(lv in ("s3", "s4", "s5")) for lv in levels])
    assert not M[:, 0, names.index("x")].any()                      # x varies within schools


def test_a_slope_takes_its_own_column_and_its_interactions_with_group_level_predictors():
    d = design("y ~ x * u + (1 + x | school)")
    M = level_mean_design(block(d, "school"), d.X)
    names = list(d.fixed_names)
    levels = list(block(d, "school").levels)
    assert M[:, 1, names.index("x")].tolist() == [1.0] * 6
    np.testing.assert_allclose(M[:, 1, names.index("x:u")], [float(lv[1]) for lv in levels])
    assert not M[:, 1, names.index("(Intercept)")].any() and not M[:, 0, names.index("x")].any()


def test_an_observation_level_effect_varies_around_the_whole_fixed_predictor():
    d = design("y ~ x + u + (1 | row)")
    b = block(d, "row")
    M = level_mean_design(b, d.X)
    rows = np.argsort(b.group_index)                                 # level order -> data rows
    np.testing.assert_allclose(M[:, 0, :], d.X[rows])


def test_nested_groups_find_their_parents_and_crossed_ones_do_not():
    d = design("y ~ 1 + (1 | district/school) + (1 | year)")
    school = block(d, "district:school")
    parents = {p.block: p for p in nesting_parents(school, d.random)}
    assert set(parents) == {"district", "year"}                      # each school lies in one of each
    district_of = dict(zip(DATA["district"] + ":" + DATA["school"], DATA["district"]))
    district_levels = list(block(d, "district").levels)
    for level, parent in zip(school.levels, parents["district"].index):
        assert district_levels[parent] == district_of[level]
    assert nesting_parents(block(d, "year"), d.random) == ()          # years are crossed with districts
