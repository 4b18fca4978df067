"""Fake data, parameter recovery and simulation-based calibration (issue 4), on radon."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.engines.steps import build_steps

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
pytestmark = pytest.mark.skipif(not SHARED.exists(), reason="../shared (data) is not beside the checkout")
TRUTH = {"(Intercept)": 1.5, "floor": -0.7, "sd[county][(Intercept)]": 0.35, "sigma": 0.75}


@pytest.fixture(scope="module")
def radon():
    return pd.read_csv(SHARED / "radon_mn.csv")


@pytest.fixture(scope="module")
def tiny(radon):
    """Eight counties, two homes each: the priors matter, so a wrong one shows."""
    rows = radon.groupby("county").head(2)
    return rows[rows["county"].isin(rows["county"].unique()[:8])].reset_index(drop=True)


def test_simulated_data_follow_the_given_parameters(radon):
    model = hx.model("log_radon ~ floor + (1 | county)", radon)
    simulated = hx.simulate(model, TRUTH, seed=4)
    assert simulated.truth.to_dict() == pytest.approx(TRUTH)
    data, effects = simulated.data, simulated.effects["county"][:, 0]
    codes = pd.Categorical(data["county"], categories=model.spec.blocks[0].levels).codes
    residual = data["log_radon"] - (1.5 - 0.7 * data["floor"] + effects[codes])
    # 919 normal residuals: their sd is 0.75 within a few percent (sd of the estimate: 0.75/sqrt(1838))
    assert residual.std() == pytest.approx(0.75, abs=4 * 0.75 / np.sqrt(2 * 919))
    assert effects.std() == pytest.approx(0.35, abs=4 * 0.35 / np.sqrt(2 * 85))
    pd.testing.assert_frame_equal(data.drop(columns="log_radon"), radon.drop(columns="log_radon"))


def test_simulating_from_the_prior_and_naming_errors(radon):
    model = hx.model("log_radon ~ floor + (1 | county)", radon)
    a, b = hx.simulate(model, seed=1), hx.simulate(model, seed=1)
    np.testing.assert_array_equal(a.data["log_radon"], b.data["log_radon"])
    assert set(a.truth.index) == set(TRUTH)
    with pytest.raises(hx.HieraxError, match="missing \\['sigma'\\]"):
        hx.simulate(model, {k: v for k, v in TRUTH.items() if k != "sigma"})


def test_recovery_covers_the_truth(radon):
    model = hx.model("log_radon ~ floor + (1 | county)", radon)
    table = hx.recover(model, TRUTH, seed=5, chains=2, warmup=300, draws=300, progress=False)
    assert list(table.index) == list(TRUTH)
    assert table["covered"].all()
    assert table.loc["floor", "estimate"] == pytest.approx(-0.7, abs=0.15)


def test_sbc_of_a_correct_model_is_uniform_and_compiles_once(tiny):
    model = hx.model("log_radon ~ 1 + (1 | county)", tiny)
    before = build_steps.cache_info().misses
    result = hx.sbc(model, num_simulations=60, warmup=150, draws=210, thin=3, seed=3, progress=False)
    assert build_steps.cache_info().misses - before <= 1         # one sampler for all 60 fits (or none: shared by structure)
    assert result.ranks.shape == (60, 6) and result.num_draws == 140
    assert result.ranks.to_numpy().min() >= 0 and result.ranks.to_numpy().max() <= 140
    assert result.passed(), result.uniformity()


def test_sbc_catches_a_fit_with_the_wrong_prior(tiny):
    """Data simulated with sigma ~ Exponential(rate), fitted with Exponential(4 rate): the fit's
    prior sd a quarter of the truth's. The true sigma then sits high among the draws (mean rank
    about 0.73 of the range, against 0.5), and the ranks fail both tests (p about 1e-8).
    With the prior sd halved, 60 simulations on these data give p_ks = 0.006: a real departure,
    but too small to pass a Bonferroni threshold reliably at this size."""
    model = hx.model("log_radon ~ 1 + (1 | county)", tiny)
    rate = model.spec.dpar_priors["sigma"].rate
    result = hx.sbc(model, num_simulations=60, warmup=150, draws=210, thin=3, seed=3, progress=False,
                    fit_priors={"sigma": hx.Exponential(4 * rate)})
    assert not result.passed()
    table = result.uniformity()
    assert table["p_ks"].idxmin() == "sigma" and table.loc["sigma", "p_ks"] < 1e-5
    assert result.ranks["sigma"].mean() > 0.65 * result.num_draws
    others = table.drop(index="sigma")
    assert (others[["p_chi2", "p_ks"]] > 0.01 / 12).all().all()      # the rest stay calibrated


def test_sbc_fans_out_over_an_executor(tiny):
    model = hx.model("log_radon ~ 1 + (1 | county)", tiny)
    here = hx.sbc(model, num_simulations=4, warmup=100, draws=120, seed=9, progress=False)
    with ThreadPoolExecutor(2) as pool:
        fanned = hx.sbc(model, num_simulations=4, warmup=100, draws=120, seed=9, progress=False, executor=pool)
    pd.testing.assert_frame_equal(here.ranks, fanned.ranks)
    figure = fanned.plot()
    assert len([ax for ax in figure.axes if ax.patches]) == 6
