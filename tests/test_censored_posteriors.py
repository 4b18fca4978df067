"""NUTS on a censored survival model with frailty against a long rstan run.

Reference: tests/reference/stan_missing.json, model kidney_weibull (rstan, 4 chains x 10,000 kept
draws, adapt_delta 0.95; tests/reference/stan/kidney_weibull.stan): the kidney catheter data of
R's survival package (tests/reference/data/kidney.csv, 76 infection times of 38 patients, 24%
right-censored), brms's ``time | cens(1 - status) ~ sex + (1 | id)`` with ``family = weibull()``:
time_i ~ Weibull(shape k, scale exp(eta_i) / Gamma(1 + 1/k)) (so E[time] = exp(eta)), a censored
row contributing log S(time_i); sex coded [sex == 2]. Priors: Intercept ~ student_t(3, 4.6, 2.5),
b ~ normal(0, 2.5), sd ~ half-t(3, 0, 1), shape ~ gamma(0.01, 0.01).

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
KIDNEY = pd.read_csv(ROOT / "tests" / "reference" / "data" / "kidney.csv").assign(
    sex=lambda d: (d["sex"] == 2).astype(float), id=lambda d: d["id"].astype(str))
pytestmark = pytest.mark.sampling


def test_weibull_frailty_with_right_censoring_matches_stan():
    priors = {"Intercept": hx.StudentT(3, 4.6, 2.5), "b": hx.Normal(0, 2.5), "sd": hx.HalfStudentT(3, 1),
              "shape": hx.Gamma(0.01, 0.01)}
    fit = hx.fit("time | cens(1 - status) ~ sex + (1 | id)", KIDNEY, family="weibull", priors=priors, chains=4,
                 warmup=1000, draws=3000, seed=64)
    pairs = {"b_Intercept": post(fit, "beta", fixed="(Intercept)"), "b_sex": post(fit, "beta", fixed="sex"),
             "sd_id__Intercept": post(fit, "sd_id", id__term="(Intercept)"), "shape": post(fit, "shape")}
    check(fit, "kidney_weibull", pairs, [("Intercept", "", "(Intercept)", "StudentT(3, 4.6, 2.5)"),
                                         ("b", "", "sex", "Normal(0, 2.5)"),
                                         ("sd", "id", "(Intercept)", "HalfStudentT(3, 1)"),
                                         ("shape", "", "", "Gamma(0.01, 0.01)")], reference=MODELS)
