"""Plots draw what they say they draw (issue 4): checked against the numbers behind them."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import hierax as hx  # noqa: E402
from hierax import plots  # noqa: E402

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
pytestmark = pytest.mark.skipif(not SHARED.exists(), reason="../shared (data) is not beside the checkout")
FORMULA = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def sleep():
    return pd.read_csv(SHARED / "teaching" / "sleepstudy.csv")


@pytest.fixture(scope="module")
def nuts(sleep):
    return hx.fit(FORMULA, sleep, chains=2, warmup=200, draws=200, seed=5, progress=False)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_forest_plot_shows_each_subjects_coefficient(sleep):
    fit = hx.fit(FORMULA, sleep, method="reml")
    figure = plots.forest_plot(fit, term="Days")
    shown = np.sort(figure.axes[0].lines[0].get_xdata())
    coef = fit.coef()
    np.testing.assert_allclose(shown, np.sort(coef[coef["term"] == "Days"]["estimate"]), rtol=1e-12)
    assert figure.axes[0].lines[1].get_xdata()[0] == pytest.approx(fit.fixef().loc["Days", "estimate"])


def test_ppc_plot_overlays_replicates_on_the_observed_density(nuts):
    figure = plots.ppc_plot(nuts, num_draws=20)
    lines = figure.axes[0].lines
    assert len(lines) == 21 and lines[-1].get_label() == "observed"


def test_group_ppc_marks_few_subjects_outside_their_intervals(nuts):
    """A model that fits: about 10% of the 18 subject means fall outside their 90% intervals."""
    figure = plots.group_ppc_plot(nuts)
    outside = [c for c in figure.axes[0].lines if c.get_label().startswith("outside")]
    count = len(outside[0].get_xdata()) if outside else 0
    assert count <= 5


def test_funnel_plot_draws_every_draw(nuts):
    figure = plots.funnel_plot(nuts, level_name="308", term="Days")
    assert len(figure.axes[0].collections[0].get_offsets()) == 400


def test_model_graph_names_the_levels(nuts):
    texts = [t.get_text() for t in plots.model_graph(nuts).axes[0].texts]
    assert "b[Subject]\n18 levels x 2" in texts
    assert any(t.startswith("data: 180 rows") for t in texts)


def test_trace_plot_leaves_out_the_group_effects(nuts):
    titles = {ax.get_title() for ax in plots.trace_plot(nuts).axes}
    assert "beta" in titles and not any(t.startswith("b_") for t in titles)


def test_binomial_ppc_is_a_calibration_plot_on_cbpp():
    cbpp = pd.read_csv(SHARED / "teaching" / "cbpp.csv").astype({"period": str})
    fit = hx.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial",
                 chains=2, warmup=200, draws=200, seed=3, progress=False)
    ax = plots.ppc_plot(fit).axes[0]
    points = ax.lines[0]
    predicted, observed = np.asarray(points.get_xdata(), float), np.asarray(points.get_ydata(), float)
    assert ((0 <= predicted) & (predicted <= 1)).all() and ((0 <= observed) & (observed <= 1)).all()
    # a fitted model is calibrated: binned observed rates follow the predictions
    assert np.corrcoef(predicted, observed)[0, 1] > 0.8


def test_count_ppc_compares_frequencies_on_grouseticks():
    grouse = pd.read_csv(SHARED / "teaching" / "grouseticks.csv").astype({"YEAR": str})
    fit = hx.fit("TICKS ~ YEAR + (1 | BROOD)", grouse, family="poisson", chains=2, warmup=200, draws=200, seed=4,
                 progress=False)
    ax = plots.ppc_plot(fit).axes[0]
    bars = [patch.get_height() for patch in ax.patches]
    assert sum(bars) == pytest.approx(1.0)          # shares of observations over the counts shown
    assert bars[0] == pytest.approx((grouse["TICKS"] == 0).mean())


def test_prior_predictive_check_of_a_model(sleep):
    """Before fitting: data drawn from the priors against the observed data, same plot."""
    model = hx.model(FORMULA, sleep)
    prior = hx.sample_prior_predictive(model, draws=200, seed=6)
    assert prior.prior_predictive["Reaction"].shape == (1, 200, 180)
    figure = plots.ppc_plot(model, prior, num_draws=30)
    assert len(figure.axes[0].lines) == 31
