"""NUTS on meta-analyses with known standard errors (``y | se(s)``) against long rstan runs.

References: tests/reference/stan_missing.json (rstan, 4 chains x 10,000 kept draws, adapt_delta
0.95; Stan programs tests/reference/stan/meta_fixed.stan and meta_random.stan) on metafor's
dat.bcg (tests/reference/data/bcg.csv: yi the log risk ratio of trial i, sei its standard error):

- fixed (common) effect: yi ~ N(b0, sei^2); b0 ~ N(0, 1).
- random effects: yi ~ N(b0 + r_trial, sei^2), r ~ N(0, tau^2); b0 ~ N(0, 1),
  tau ~ half-t(3, 0, 1). With one row per trial this is also ``yi | se(sei, sigma = TRUE) ~ 1``.
- random-effects meta-regression: as above plus b_ablat ablat_i (absolute latitude, uncentred),
  b_ablat ~ N(0, 1); 4 chains x 8,000 draws (the others 4,000: see the test).

The rules are ``test_family_posteriors``'s (means within 4 combined MCSEs, sds within 10% where
4 combined relative MCSEs of the sd are at most that), with its helpers.
"""

import json
from pathlib import Path

import pandas as pd
import pytest

import hierax as hx
from tests.test_family_posteriors import check, post

ROOT = Path(__file__).resolve().parents[1]
MODELS = json.loads((ROOT / "tests" / "reference" / "stan_missing.json").read_text())["models"]
BCG = pd.read_csv(ROOT / "tests" / "reference" / "data" / "bcg.csv").assign(trial=lambda d: d["trial"].astype(str))
pytestmark = pytest.mark.sampling


def test_fixed_effect_meta_analysis_matches_stan():
    fit = hx.fit("yi | se(sei) ~ 1", BCG, priors={"Intercept": hx.Normal(0, 1)}, chains=4, warmup=500,
                 draws=2000, seed=61)
    check(fit, "meta_fixed", {"b_Intercept": post(fit, "beta", fixed="(Intercept)")},
          [("Intercept", "", "(Intercept)", "Normal(0, 1)")], reference=MODELS)


@pytest.mark.parametrize("model, formula", [("meta_random", "yi | se(sei) ~ 1 + (1 | trial)"),
                                            ("meta_random_ablat", "yi | se(sei) ~ 1 + ablat + (1 | trial)")])
def test_random_effects_meta_analysis_matches_stan(model, formula):
    priors = {"Intercept": hx.Normal(0, 1), "b": hx.Normal(0, 1), "sd": hx.HalfStudentT(3, 1)}
    if "ablat" not in formula:
        priors.pop("b")
    # The meta-regression's intercept (at latitude 0, far outside the data) and slope are scale
    # mixtures over tau with heavier tails (kurtosis about 5, from Stan's ESS and MCSE of the sd):
    # at 4 x 4,000 draws the sd check's 4 combined relative MCSEs were 6-7% on most seeds and
    # 12.3% (over its 10%) on the run of jax 0.12 where one chain went out to 8.8 sds; 4 x 8,000.
    draws = 8000 if "ablat" in formula else 4000
    fit = hx.fit(formula, BCG, priors=priors, chains=4, warmup=1000, draws=draws, seed=62)
    pairs = {"b_Intercept": post(fit, "beta", fixed="(Intercept)"),
             "sd_trial__Intercept": post(fit, "sd_trial", trial__term="(Intercept)")}
    if "ablat" in formula:
        pairs["b_ablat"] = post(fit, "beta", fixed="ablat")
    expected = [("Intercept", "", "(Intercept)", "Normal(0, 1)")] \
        + ([("b", "", "ablat", "Normal(0, 1)")] if "ablat" in formula else []) \
        + [("sd", "trial", "(Intercept)", "HalfStudentT(3, 1)")]
    check(fit, model, pairs, expected, reference=MODELS)


def test_residual_heterogeneity_beside_the_known_errors_matches_stan():
    """``se(sei, sigma = TRUE)``: each trial's sd is sqrt(sei^2 + sigma^2). With one row per
    trial its marginal is the random-effects model's with tau = sigma, so with tau's prior on
    sigma the posterior of (b0, sigma) is meta_random's of (b0, tau)."""
    priors = {"Intercept": hx.Normal(0, 1), "sigma": hx.HalfStudentT(3, 1)}
    fit = hx.fit("yi | se(sei, sigma = TRUE) ~ 1", BCG, priors=priors, chains=4, warmup=1000, draws=4000, seed=63)
    pairs = {"b_Intercept": post(fit, "beta", fixed="(Intercept)"), "sd_trial__Intercept": post(fit, "sigma")}
    check(fit, "meta_random", pairs, [("Intercept", "", "(Intercept)", "Normal(0, 1)"),
                                      ("sigma", "", "", "HalfStudentT(3, 1)")], reference=MODELS)
