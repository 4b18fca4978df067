"""``hx.pool_fits`` against R's mice (``tests/reference/rubin_pool.R``): Rubin's rules on
mice's ``pool.scalar`` cases, and on REML fits of lme4's model to mice's five imputations of
popmis, pooled as ``mice::pool`` pools lme4 fits; and the mixture of NUTS posteriors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.workflow.imputation import rubin

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
POOL = json.loads((REFERENCE / "rubin_pool.json").read_text())


def _number(value):
    return float("inf") if value == "Inf" else float(value)


@pytest.mark.parametrize("case", POOL["pool_scalar"]["cases"], ids=lambda c: c["name"])
def test_rubin_rules_equal_mice_pool_scalar(case):
    got = rubin(case["inputs"]["Q"], case["inputs"]["U"], _number(case["dfcom"]))
    for ours, theirs in (("qbar", "qbar"), ("ubar", "ubar"), ("between", "b"), ("t", "t"), ("df", "df"), ("riv", "r"),
                         ("fmi", "fmi"), ("lambda", "lambda")):
        assert got[ours] == pytest.approx(case[theirs], rel=1e-12, abs=1e-15), ours


@pytest.fixture(scope="module")
def popmis_fits():
    data = pd.read_csv(REFERENCE / "data" / "popmis_imputed.csv")
    data["school"] = data["school"].astype(str)
    return [hx.fit("popular ~ sex + texp + (1 | school)", part, method="reml") for _, part in data.groupby(".imp")]


def test_each_imputation_s_reml_fit_equals_lme4s(popmis_fits):
    for fit, reference in zip(popmis_fits, POOL["popmis"]["fits"]):
        table = fit.fixef()
        np.testing.assert_allclose(table["estimate"], reference["estimate"], rtol=1e-6)
        np.testing.assert_allclose(table["se"], reference["se"], rtol=1e-5)
        assert fit.nobs - fit.df == reference["df_residual"]


def test_pooled_fixed_effects_equal_mice_pool(popmis_fits):
    """The fits agree with lme4's to about 1e-7, so the pooled numbers do too: the between-
    imputation variance b is a difference of close estimates, hence its looser tolerance."""
    pooled = hx.pool_fits(popmis_fits)
    reference = POOL["popmis"]["pooled"]
    table = pooled.summary().loc[reference["term"]]
    assert pooled.rule == "rubin" and pooled.m == 5 and (table["dfcom"] == reference["dfcom"]).all()
    np.testing.assert_allclose(table["estimate"], reference["estimate"], rtol=1e-6)
    for column in ("ubar", "t", "riv", "lambda", "fmi", "df"):
        np.testing.assert_allclose(table[column], reference[column], rtol=1e-4, err_msg=column)
    np.testing.assert_allclose(table["between"], reference["b"], rtol=1e-4)
    np.testing.assert_allclose(table["between"], reference["b"], rtol=1e-4)
    np.testing.assert_allclose(table["se"], reference["se"], rtol=1e-5)
    np.testing.assert_allclose(table["lower"], reference["ci_lb"], rtol=1e-5)
    large = hx.pool_fits(popmis_fits, dfcom=float("inf")).summary().loc[reference["term"]]
    np.testing.assert_allclose(large["df"], POOL["popmis"]["pooled_large_sample"]["df"], rtol=1e-4)


def test_nuts_fits_pool_into_the_mixture_of_their_posteriors():
    """The mixture's mean is the mean of the fits' means and its variance their mean variance
    plus the variance of their means (both over all draws); lambda is the between share."""
    rng = np.random.default_rng(5)
    data = pd.DataFrame({"x": rng.normal(size=60), "g": np.repeat(list("abcdef"), 10)})
    data["y"] = 1.0 + 0.5 * data["x"] + rng.normal(0, 0.7, 6).repeat(10) + rng.normal(size=60)
    fits = [hx.fit("y ~ x + (1 | g)", data.assign(y=data["y"] + shift), chains=2, warmup=150, draws=150, seed=3)
            for shift in (0.0, 0.4, -0.2)]
    pooled = hx.pool_fits(fits)
    assert pooled.rule == "mixture" and pooled.idata is not None
    tables = [fit.summary() for fit in fits]
    mean = np.mean([t.loc["(Intercept)", "estimate"] for t in tables])
    assert pooled.table.loc["(Intercept)", "estimate"] == pytest.approx(mean, rel=1e-12)
    draws = np.concatenate([fit.idata.posterior["beta"].values[..., 0].ravel() for fit in fits])
    assert pooled.table.loc["(Intercept)", "sd"] == pytest.approx(draws.std(ddof=1), rel=1e-12)
    assert pooled.table.loc["(Intercept)", "lambda"] > 0.5 > pooled.table.loc["x", "lambda"]
    assert pooled.idata.posterior.sizes["chain"] == 6
