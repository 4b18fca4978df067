"""Complete, no and partial pooling side by side (issue 4), on radon, sleepstudy and cbpp."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

import hierax as hx

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
pytestmark = pytest.mark.skipif(not SHARED.exists(), reason="../shared (data) is not beside the checkout")


@pytest.fixture(scope="module")
def radon():
    return pd.read_csv(SHARED / "radon_mn.csv")


@pytest.fixture(scope="module")
def intercepts(radon):
    return hx.compare_pooling("log_radon ~ 1 + (1 | county)", radon, seed=1)


def test_no_and_complete_pooling_are_county_means_and_the_grand_mean(intercepts, radon):
    table = intercepts.table.set_index("level")
    means = radon.groupby("county")["log_radon"].agg(["mean", "size"])
    np.testing.assert_allclose(table.loc[means.index, "no_pooling"], means["mean"], rtol=1e-10)
    np.testing.assert_array_equal(table.loc[means.index, "n"], means["size"])
    np.testing.assert_allclose(table["complete_pooling"], radon["log_radon"].mean(), rtol=1e-10)


def test_partial_pooling_lies_between_and_small_counties_move_more(intercepts):
    """The BLUP of a county intercept is a weighted average of the county mean and the population
    mean, with weight on the population mean sigma^2 / (sigma^2 + n sigma_county^2)."""
    table, mu = intercepts.table, intercepts.population_mean
    assert ((table["partial_pooling"] - table["no_pooling"]) * (table["partial_pooling"] - mu) <= 1e-12).all()
    vc = intercepts.partial.varcorr()
    sd_county, sigma = vc["estimate"].iloc[0], vc["estimate"].iloc[1]
    expected = sigma**2 / (sigma**2 + table["n"] * sd_county**2)
    np.testing.assert_allclose(table["shrinkage"], expected, rtol=1e-6)
    assert table.loc[table["n"] == 1, "shrinkage"].min() > table.loc[table["n"] > 50, "shrinkage"].max()


def test_with_a_predictor_small_counties_still_move_more(radon):
    comparison = hx.compare_pooling("log_radon ~ floor + (1 | county)", radon, seed=2)
    table = comparison.table
    assert spearmanr(table["n"], table["shrinkage"]).statistic < -0.9
    between = (table["partial_pooling"] - table["no_pooling"]) * (table["partial_pooling"] - comparison.population_mean)
    assert (between <= 1e-12).mean() > 0.95


def test_no_pooling_with_varying_slopes_is_one_regression_per_subject():
    sleep = pd.read_csv(SHARED / "teaching" / "sleepstudy.csv")
    table = hx.compare_pooling("Reaction ~ Days + (Days | Subject)", sleep).table.set_index("level")
    for subject, rows in sleep.groupby("Subject"):
        slope, intercept = np.polyfit(rows["Days"], rows["Reaction"], 1)
        assert table.loc[str(subject), "no_pooling"] == pytest.approx(intercept, rel=1e-9)


def test_a_bayesian_partial_fit_can_be_supplied(radon):
    fit = hx.fit("log_radon ~ 1 + (1 | county)", radon, chains=2, warmup=200, draws=200, seed=3)
    table = hx.compare_pooling("log_radon ~ 1 + (1 | county)", radon, partial=fit).table
    assert ((table["partial_pooling_lower"] < table["partial_pooling"])
            & (table["partial_pooling"] < table["partial_pooling_upper"])).all()
    assert spearmanr(table["n"], table["shrinkage"]).statistic < -0.8


def test_binomial_intercepts_are_on_the_logit_scale():
    cbpp = pd.read_csv(SHARED / "teaching" / "cbpp.csv").astype({"period": str})
    comparison = hx.compare_pooling("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                                    family="binomial")
    table = comparison.table
    assert comparison.scale == "logit" and len(table) == 15
    # complete pooling of herds, period 1: the logit of the pooled period-1 incidence
    first = cbpp[cbpp["period"] == "1"]
    pooled = first["incidence"].sum() / first["size"].sum()
    assert table["complete_pooling"].iloc[0] == pytest.approx(np.log(pooled / (1 - pooled)), rel=1e-8)


def test_the_plot_draws_one_point_per_level(intercepts):
    figure = intercepts.plot()
    points = figure.axes[0].collections[0].get_offsets()
    assert len(points) == len(intercepts.table)
    np.testing.assert_allclose(points[:, 1], intercepts.table["partial_pooling"])


def test_a_formula_without_a_group_intercept_is_refused(radon):
    with pytest.raises(hx.HieraxError, match="no intercept"):
        hx.compare_pooling("log_radon ~ floor + (0 + floor | county)", radon)
