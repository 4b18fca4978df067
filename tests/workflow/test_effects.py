"""Conditional effects (``hx.conditional_effects``): the population's line is the fixed part,
a group's line its own coefficients, intervals around them; a categorical predictor's levels."""

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.errors import ModelError

SLEEP = pd.read_csv("/work/shared/data/teaching/sleepstudy.csv").astype({"Subject": str})


@pytest.fixture(scope="module")
def fit():
    return hx.fit("Reaction ~ Days + (Days | Subject)", SLEEP, method="reml")


def test_population_and_group_lines_are_the_fixed_part_and_the_groups_coefficients(fit):
    effects = hx.conditional_effects(fit, "Days", groups=["308", "309"], points=7)
    table = effects.table
    beta = fit.fixef()["estimate"]
    population = table[table["line"] == "population"]
    expected = beta["(Intercept)"] + beta["Days"] * population["Days"]
    assert population["estimate"].to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-10)
    coefficients = fit.coef()
    for subject in ("308", "309"):
        own = coefficients[coefficients["level"] == subject].set_index("term")["estimate"]
        line = table[table["line"] == subject]
        assert line["estimate"].to_numpy() == pytest.approx((own["(Intercept)"] + own["Days"] * line["Days"]).to_numpy(),
                                                            rel=1e-8)
    assert np.all(table["lower"] < table["estimate"]) and np.all(table["estimate"] < table["upper"])
    assert effects.plot() is not None


def test_a_categorical_predictor_gives_one_point_per_level():
    data = SLEEP.assign(late=np.where(SLEEP["Days"] >= 5, "late", "early"))
    fit = hx.fit("Reaction ~ late + (1 | Subject)", data, method="reml")
    table = hx.conditional_effects(fit, "late").table
    assert list(table["late"]) == ["early", "late"]
    beta = fit.fixef()["estimate"]
    assert table["estimate"].iloc[1] - table["estimate"].iloc[0] == pytest.approx(beta.iloc[1], rel=1e-10)


@pytest.mark.parametrize("call, message", [
    (lambda fit: hx.conditional_effects(fit, "Reaction"), "is not a predictor"),
    (lambda fit: hx.conditional_effects(fit, "Subject"), "is not a predictor"),
    (lambda fit: hx.conditional_effects(fit, "Days", groups=["no such"]), "are not levels of 'Subject'"),
])
def test_bad_requests(fit, call, message):
    with pytest.raises(ModelError, match=message):
        call(fit)
