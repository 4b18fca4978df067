"""Cluster-randomised trials (``hierax.workflow.crt``): the design effect, the analytic power
against power by simulation over a grid of clusters and ICCs, the executor, and a binary outcome
against 2,000 trials simulated and analysed by lme4 (tests/reference/crt_power.R)."""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from hierax.errors import ModelError
from hierax.workflow.crt import analytic_power, design_effect, effective_sample_size, power, trial_design

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "crt_power.json"
FORMULA = "y ~ treatment + (1 | cluster)"


def _gaussian(effect, icc):
    return {"(Intercept)": 0.0, "treatment": effect, "sd[cluster][(Intercept)]": np.sqrt(icc), "sigma": np.sqrt(1 - icc)}


def test_design_effect_and_effective_sample_size():
    assert design_effect(0.05, 30) == pytest.approx(1 + 29 * 0.05)
    assert design_effect(0.05, 30, cv=0.5) == pytest.approx(1 + (1.25 * 30 - 1) * 0.05)
    assert effective_sample_size(600, 0.05, 30) == pytest.approx(600 / 2.45)
    design = trial_design(20, 30, cv=0.6, seed=2)
    sizes = design.groupby("cluster").size()
    assert len(sizes) == 20 and sizes.min() >= 2 and design.groupby("cluster")["treatment"].nunique().max() == 1
    assert design.drop_duplicates("cluster")["treatment"].sum() == 10


@pytest.mark.parametrize("clusters, icc, size, effect", [(6, 0.01, 20, 0.5), (6, 0.2, 20, 1.0), (20, 0.05, 30, 0.3),
                                                         (40, 0.2, 10, 0.4)])
def test_simulated_power_matches_the_design_effect_formula(clusters, icc, size, effect):
    """150 simulated trials per cell, REML with Satterthwaite's df: within 3.5 Monte Carlo se of
    the noncentral-t power with the design effect (clusters 6..40, ICC 0.01..0.2)."""
    simulated = power(FORMULA, _gaussian(effect, icc), "treatment", clusters, size, nsim=150, seed=7)
    expected = analytic_power(effect, 1.0, icc, clusters, size)
    assert abs(simulated.power - expected) < 3.5 * np.sqrt(expected * (1 - expected) / 150)
    assert simulated.failed == 0


def test_an_executor_gives_the_same_trials():
    serial = power(FORMULA, _gaussian(0.3, 0.05), "treatment", 8, 10, nsim=6, seed=3)
    with ThreadPoolExecutor(max_workers=2) as pool:
        spread = power(FORMULA, _gaussian(0.3, 0.05), "treatment", 8, 10, nsim=6, seed=3, executor=pool)
    assert np.array_equal(serial.p_values, spread.p_values)


@pytest.mark.parametrize("scenario", ["K10_m30_OR2", "K20_m30_null"])     # K20_m30_OR2 too in the JSON
def test_binary_power_matches_lme4s_simulation(scenario):
    """Bernoulli outcome, Laplace fits and Wald z tests as glmer's: 200 trials against lme4's
    2,000, within 3.5 combined Monte Carlo se (200 trials; the null scenario checks the test's size)."""
    entry = json.loads(REFERENCE.read_text())[scenario]
    inputs = entry["inputs"]
    params = {"(Intercept)": float(inputs["b0"]), "treatment": float(inputs["b1"]),
              "sd[cluster][(Intercept)]": float(inputs["sd_u"])}
    result = power(FORMULA, params, "treatment", int(inputs["K"]), int(inputs["m"]), family="bernoulli", nsim=200,
                   seed=11)
    theirs = float(entry["power"])
    se = np.sqrt(result.mc_se ** 2 + float(entry["mc_se"]) ** 2)
    assert abs(result.power - theirs) < 3.5 * se
    assert result.failed == 0


@pytest.mark.parametrize("call, message", [
    (lambda: design_effect(1.2, 30), "in \\[0, 1\\)"),
    (lambda: analytic_power(0.3, 1.0, 0.05, 5, 30), "even and at least 4"),
    (lambda: trial_design(3, 10), "even and at least 4"),
    (lambda: power(FORMULA, _gaussian(0.3, 0.05), "treatment", 8, 10, nsim=0), "at least 1"),
])
def test_bad_input(call, message):
    with pytest.raises(ModelError, match=message):
        call()
