"""Average predictions, comparisons and slopes against marginaleffects 0.6.0 on the same inputs.

``tests/reference/marginaleffects_contraception.py`` ran marginaleffects (its own venv; it is not
a hierax dependency) with a hand-written adapter for the contraception model, on a Laplace fit's
estimates (delta method) and on 400 exported posterior draws, with and without the district
effects; ``contraception_margins_export.py`` wrote those inputs from hierax fits. Here the same
inputs go through hierax: the Laplace fit is refitted (deterministic, so its estimates are the
exported ones to 1e-8), the draws become the posterior of a fit of the same model.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import hierax as hx
from hierax.errors import DataError, HieraxError, ModelError
from hierax.model import layout
from hierax.results import _arviz

REFERENCE = Path(__file__).parents[1] / "reference"
EXPECTED = json.loads((REFERENCE / "marginaleffects_contraception.json").read_text())
POINT = json.loads((REFERENCE / "data" / "contraception_laplace.json").read_text())
FORMULA = POINT["formula"]


def _data() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "data" / "contraception.csv", dtype={"livch": str, "district": str})
    d["livch"] = pd.Categorical(d["livch"], categories=["0", "1", "2", "3+"])
    return d


@pytest.fixture(scope="module")
def laplace():
    """The Laplace fit, holding exactly the exported estimates (its own agree to 1e-6: checked),
    so that the test compares computations, not two runs of the optimiser."""
    fit = hx.fit(FORMULA, _data(), family="bernoulli", method="laplace")
    assert list(fit.spec.fixed_names) == POINT["fixed_names"]
    assert list(map(str, fit.spec.blocks[0].levels)) == POINT["district_levels"]
    np.testing.assert_allclose(fit.output.beta, POINT["beta"], rtol=1e-6)
    np.testing.assert_allclose(fit.output.vcov_beta, POINT["vcov_beta"], rtol=1e-4, atol=1e-9)
    modes = np.asarray(POINT["district_modes"])[:, None]
    np.testing.assert_allclose(fit.output.random_effects[0], modes, rtol=1e-5, atol=1e-7)
    output = fit.output._replace(beta=np.asarray(POINT["beta"]), vcov_beta=np.asarray(POINT["vcov_beta"]),
                                 random_effects=[modes])
    return dataclasses.replace(fit, output=output)


@pytest.fixture(scope="module")
def posterior(laplace):
    """A fit of the model whose posterior is the 400 exported draws (one chain)."""
    with pytest.warns(hx.ModeWarning):          # the mode's sd near zero: its draws are replaced here
        fit = hx.fit(FORMULA, _data(), family="bernoulli", method="map", seed=0)
    draws = pd.read_csv(REFERENCE / "data" / "contraception_draws.csv")
    block = fit.spec.blocks[0]
    names = list(fit.spec.fixed_names)
    effects = draws[[f"r_district[{level}]" for level in block.levels]].to_numpy()
    post = xr.Dataset({
        layout.FIXED_VARIABLE: (("chain", "draw", "fixed"), draws[names].to_numpy()[None]),
        layout.variable("effects", block): (("chain", "draw", "level", "term"), effects[None, :, :, None]),
        layout.variable("sd", block): (("chain", "draw", "term"), draws[["sd_district"]].to_numpy()[None]),
    })
    return dataclasses.replace(fit, idata=_arviz.results(posterior=post), data=laplace.data)


# Q7 (sequential lifts of livch): marginaleffects 0.6.0 labels every lift "liftavg" and so pools
# the three pairs into one row; its answer per pair is Q7_pairs, one call per pair.
QUERIES = sorted(q for q in EXPECTED["queries"] if q != "Q7_pairs")


def _expected(kind: str, re: bool, name: str) -> dict:
    return EXPECTED[kind]["re_true" if re else "re_false"]["Q7_pairs" if name == "Q7" else name]


def _call_and_check_rows(fit, name: str, re: bool, expected: dict) -> pd.DataFrame:
    query = EXPECTED["queries"][name]
    table = getattr(hx, query["function"])(fit, **query["kwargs"], re=re)
    assert len(table) == len(expected["q025" if "q025" in expected else "estimate"])
    for column in ("term", "urban", "livch"):
        if column in expected:
            assert list(table[column].astype(str)) == list(map(str, expected[column]))
    labels = expected.get("pair", expected.get("contrast"))
    if labels is not None:
        shown = table["contrast"].str.replace(r"^\((.*) - (.*)\) / .*$", r"\1 - \2", regex=True)
        assert list(shown) == labels
    return table


@pytest.mark.parametrize("re", [True, False], ids=["effects", "no-effects"])
@pytest.mark.parametrize("name", QUERIES)
def test_delta_method_matches_marginaleffects(laplace, name, re):
    expected = _expected("point", re, name)
    table = _call_and_check_rows(laplace, name, re, expected)
    np.testing.assert_allclose(table["estimate"], expected["estimate"], rtol=1e-9, atol=1e-14)
    # JAX's exact jacobian against marginaleffects' delta method with a central-difference one.
    # Its default forward differences ("std_error") are good to 1e-6 for comparisons, but a slope
    # is a difference of differences, and there they are off by 1e-3 (Q4: 0.0017794 against
    # 0.0017775 by both exact and central jacobians). The central one of a slope is itself a
    # difference (step 1e-5) of differences (eps 1e-4): rounding leaves it good to about 5e-7.
    slope = EXPECTED["queries"][name]["function"] == "avg_slopes"
    np.testing.assert_allclose(table["std_error"], expected["std_error_central"], rtol=1e-6 if slope else 1e-7)


@pytest.mark.parametrize("re", [True, False], ids=["effects", "no-effects"])
@pytest.mark.parametrize("name", QUERIES)
def test_posterior_draws_match_marginaleffects(posterior, name, re):
    expected = _expected("draws", re, name)
    table = _call_and_check_rows(posterior, name, re, expected)
    np.testing.assert_allclose(table["estimate"], expected["mean"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(table["std_error"], expected["sd"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(table["conf_low"], expected["q025"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(table["conf_high"], expected["q975"], rtol=1e-9, atol=1e-12)


def test_a_difference_is_the_mean_of_two_counterfactual_predictions(laplace):
    """By hand with fit.predict: every woman urban, every woman rural, the mean difference."""
    d = _data()
    table = hx.avg_comparisons(laplace, variables="urban")
    hi = laplace.predict(d.assign(urban="Y"), kind="mean", seed=0)["estimate"]
    lo = laplace.predict(d.assign(urban="N"), kind="mean", seed=0)["estimate"]
    assert table["estimate"].iloc[0] == pytest.approx(float((hi - lo).mean()), rel=1e-10)
    assert table["contrast"].iloc[0] == "Y - N"


def test_avg_predictions_over_a_grid_are_counterfactual_means(laplace):
    d = _data()
    table = hx.avg_predictions(laplace, variables="urban", re=False)
    assert list(table["urban"]) == ["N", "Y"]
    for level, estimate in zip(["N", "Y"], table["estimate"]):
        new = d.assign(urban=level, district="no such district")
        expected = laplace.predict(new, kind="mean", new_groups="population", seed=0)["estimate"].mean()
        assert estimate == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("call, error, message", [
    (lambda f: hx.avg_comparisons(f, variables="district"), ModelError, "not predictors"),
    (lambda f: hx.avg_comparisons(f, variables="nope"), ModelError, "not predictors"),
    (lambda f: hx.avg_comparisons(f, comparison="odds"), HieraxError, "comparison must be one of"),
    (lambda f: hx.avg_slopes(f, slope="elasticity"), HieraxError, "slope must be one of"),
    (lambda f: hx.avg_slopes(f, eps=0.0), HieraxError, "eps must be a positive number"),
    (lambda f: hx.avg_comparisons(f, variables={"age": "range"}), HieraxError, "a numeric variable's change"),
    (lambda f: hx.avg_comparisons(f, variables={"urban": "all"}), HieraxError, "a categorical variable's contrasts"),
    (lambda f: hx.avg_comparisons(f, variables={"urban": ["N", "Z"]}), HieraxError, "not levels of 'urban'"),
    (lambda f: hx.avg_comparisons(f, variables={"age": [1, 2, 3]}), HieraxError, "a pair of values"),
    (lambda f: hx.avg_comparisons(f, by="county"), DataError, "by names column"),
    (lambda f: hx.avg_comparisons(f, re="yes"), HieraxError, "re must be True"),
    (lambda f: hx.avg_comparisons(f, level=95), HieraxError, "level must be a number between 0 and 1"),
    (lambda f: hx.avg_comparisons(f, newdata=_data().iloc[:0]), DataError, "no rows"),
    (lambda f: hx.avg_comparisons(f, newdata=_data().assign(district="new")), DataError, "re=False"),
    (lambda f: hx.avg_predictions(f, variables="age"), HieraxError, "not a categorical predictor"),
])
def test_bad_requests_are_refused(laplace, call, error, message):
    with pytest.raises(error, match=message):
        call(laplace)
