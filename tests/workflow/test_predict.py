"""Predictions for fitted and new groups (issue 4), on sleepstudy and cbpp.

Numbers are checked against what they must equal: lme4's rule for the plug-in prediction
(fixed effects plus the level's conditional modes, or the fixed effects alone for a new level),
the posterior draws themselves, and the population variance that a new group adds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hierax as hx

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
pytestmark = pytest.mark.skipif(not SHARED.exists(), reason="../shared (data) is not beside the checkout")

FORMULA = "Reaction ~ Days + (Days | Subject)"
NEW = pd.DataFrame({"Days": [0.0, 5.0, 9.0, 3.0], "Subject": [308, 999, 999, 1000]})


@pytest.fixture(scope="module")
def sleep():
    return pd.read_csv(SHARED / "teaching" / "sleepstudy.csv")


@pytest.fixture(scope="module")
def reml(sleep):
    return hx.fit(FORMULA, sleep, method="reml")


@pytest.fixture(scope="module")
def nuts(sleep):
    return hx.fit(FORMULA, sleep, chains=2, warmup=300, draws=500, seed=11)


def test_reml_plug_in_is_fixed_plus_conditional_modes(reml, sleep):
    coef = reml.coef().pivot(index="level", columns="term", values="estimate")
    expected = coef.loc[sleep["Subject"].astype(str), "(Intercept)"].to_numpy() + \
        coef.loc[sleep["Subject"].astype(str), "Days"].to_numpy() * sleep["Days"].to_numpy()
    np.testing.assert_allclose(reml.predict()["estimate"], expected, rtol=1e-10)


def test_new_levels_get_the_population_mean_as_estimate(reml):
    beta = reml.fixef()["estimate"]
    table = reml.predict(NEW, new_groups="population", seed=1)
    np.testing.assert_allclose(table["estimate"].iloc[1:], beta["(Intercept)"] + beta["Days"] * NEW["Days"].iloc[1:],
                               rtol=1e-10)
    assert list(table["level[Subject]"]) == ["fitted"] + ["new: population mean"] * 3


def test_a_sampled_new_group_adds_the_population_variance(reml):
    """Var(sampled) - Var(population mean) = z' Sigma z, z = (1, Days), within Monte Carlo error."""
    num = 20_000
    sampled = reml.predict(NEW, new_groups="sample", seed=2, num_draws=num)
    population = reml.predict(NEW, new_groups="population", seed=2, num_draws=num)
    vc = reml.varcorr()
    sd0, sd1, rho = vc["estimate"].iloc[:3]
    z = NEW["Days"].to_numpy()[1:]
    between = sd0**2 + 2 * rho * sd0 * sd1 * z + sd1**2 * z**2
    added = sampled["sd"].to_numpy()[1:] ** 2 - population["sd"].to_numpy()[1:] ** 2
    # the sample variance of 20,000 normal draws has relative sd sqrt(2 / 20,000) = 1%
    np.testing.assert_allclose(added, between, rtol=0.06)
    # the fitted subject's prediction does not depend on the choice
    assert sampled["sd"].iloc[0] == pytest.approx(population["sd"].iloc[0], rel=0.05)


def test_rows_of_one_new_group_share_its_draw(reml):
    """Subject 999 at days 5 and 9: one draw of its effects, so the predictions are correlated as a
    line's points are (sd at day 9 > sd at day 5, both with the same new intercept)."""
    table = reml.predict(NEW, new_groups="sample", seed=3, num_draws=4000)
    assert table["sd"].iloc[2] > table["sd"].iloc[1]


def test_unseen_levels_can_be_refused(reml):
    with pytest.raises(hx.DataError, match="2 level\\(s\\) of 'Subject' were not in the fit"):
        reml.predict(NEW, new_groups="error")


def test_bad_newdata_is_named(reml):
    with pytest.raises(hx.DataError, match="lack column"):
        reml.predict(pd.DataFrame({"Subject": [308]}))
    with pytest.raises(hx.HieraxError, match="kind must be one of"):
        reml.predict(NEW, kind="expected")


def test_nuts_predictions_are_posterior_means_of_the_draws(nuts):
    post = nuts.idata.posterior
    beta = post["beta"].values.reshape(-1, 2)
    b = post["b_Subject"].sel(Subject__level="308").values.reshape(-1, 2)
    eta = beta[:, 0] + b[:, 0]                     # day 0: intercept plus the subject's deviation
    table = nuts.predict(NEW.iloc[:1], kind="link")
    assert table["estimate"].iloc[0] == pytest.approx(eta.mean(), rel=1e-12)
    assert table["sd"].iloc[0] == pytest.approx(eta.std(ddof=1), rel=1e-12)


def test_posterior_predictive_intervals_cover_the_data(nuts, sleep):
    """In-sample 90% predictive intervals hold about 90% of the 180 observations (binomial sd of the
    proportion: 2.2%); the replicated data's mean and sd match the observed ones."""
    table = nuts.predict(kind="response", level=0.9, seed=4)
    y = sleep["Reaction"].to_numpy()
    inside = np.mean((y >= table["lower"]) & (y <= table["upper"]))
    assert 0.84 < inside < 0.99
    idata = nuts.posterior_predictive(seed=5)
    y_rep = idata.posterior_predictive["Reaction"].values
    assert y_rep.shape == (2, 500, 180)
    assert abs(y_rep.mean() - y.mean()) < 3 * y.std() / np.sqrt(180)
    assert "posterior_predictive" not in nuts.idata       # the fit is not changed


def test_binomial_predictions_are_probabilities_and_counts():
    cbpp = pd.read_csv(SHARED / "teaching" / "cbpp.csv").astype({"period": str})
    fit = hx.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial",
                 method="laplace")
    mean = fit.predict()
    assert ((mean["estimate"] > 0) & (mean["estimate"] < 1)).all()
    counts = fit.predict(kind="response", seed=6)
    assert (counts["upper"] <= cbpp["size"]).all()
    np.testing.assert_allclose(counts["estimate"] / cbpp["size"], mean["estimate"], atol=0.08)
    with pytest.raises(hx.HieraxError, match="number of trials"):
        fit.predict(cbpp[["period", "herd"]], kind="response")
