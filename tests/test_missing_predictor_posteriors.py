"""NUTS on a model with a missing predictor imputed in the fit against a long rstan run.

Reference: tests/reference/stan_missing.json, model nhanes_mi (rstan, 4 chains x 10,000 kept
draws; tests/reference/stan/nhanes_mi.stan), mice's nhanes (tests/reference/data/nhanes.csv,
25 rows; bmi missing in 9, chl in 10, both in 6), brms's missing-data vignette without the
interaction: ``bf(bmi | mi() ~ age + mi(chl)) + bf(chl | mi() ~ age)``,

    bmi_i ~ normal(b0 + b_age age_i + b_chl chl_i, sigma_bmi)
    chl_i ~ normal(c0 + c_age age_i, sigma_chl)

with missing bmi and chl values parameters (a missing chl enters both lines). Priors: b0 ~
normal(27, 10), b_age, b_chl ~ normal(0, 10), c0 ~ normal(190, 100), c_age ~ normal(0, 50),
sigma_bmi, sigma_chl ~ half-t(3, 0, 20). The rules are ``test_family_posteriors``'s (means
within 4 combined MCSEs, sds within 10% where 4 combined relative MCSEs allow it).
"""

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

import hierax as hx
from tests.test_family_posteriors import check, post

ROOT = Path(__file__).resolve().parents[1]
MODELS = json.loads((ROOT / "tests" / "reference" / "stan_missing.json").read_text())["models"]
NHANES = pd.read_csv(ROOT / "tests" / "reference" / "data" / "nhanes.csv")
pytestmark = pytest.mark.sampling


def test_missing_predictor_and_response_match_stan():
    priors = {"Intercept": hx.Normal(27, 10), "b": hx.Normal(0, 10), "sigma": hx.HalfStudentT(3, 20),
              "chl: Intercept": hx.Normal(190, 100), "chl: b": hx.Normal(0, 50), "chl: sigma": hx.HalfStudentT(3, 20)}
    fit = hx.fit(hx.bf("bmi | mi() ~ age + mi(chl)") + hx.bf("chl | mi() ~ age"), NHANES, priors=priors, chains=4,
                 warmup=1000, draws=4000, seed=65)
    chl = SimpleNamespace(idata=fit.submodels[0].idata)
    pairs = {"b_bmi_Intercept": post(fit, "beta", fixed="(Intercept)"), "b_bmi_age": post(fit, "beta", fixed="age"),
             "b_bmi_chl": post(fit, "beta", fixed="mi(chl)"), "sigma_bmi": post(fit, "sigma"),
             "b_chl_Intercept": post(chl, "beta", fixed="(Intercept)"), "b_chl_age": post(chl, "beta", fixed="age"),
             "sigma_chl": post(chl, "sigma")}
    rows = MODELS["nhanes_mi"]["missing_rows"]
    for name, variable, dim in (("bmi", "Ymi", "Ymi_row"), ("chl", "Ymi_chl", "Ymi_row_chl")):
        for k, row in enumerate(rows[name], start=1):          # 1-based rows of the CSV: its index + 1
            pairs[f"Ymi_{name}[{k}]"] = post(fit, variable, **{dim: row - 1})
    check(fit, "nhanes_mi", pairs, [("Intercept", "", "(Intercept)", "Normal(27, 10)"),
                                    ("b", "", "age", "Normal(0, 10)"), ("b", "", "mi(chl)", "Normal(0, 10)"),
                                    ("sigma", "", "", "HalfStudentT(3, 20)")], reference=MODELS)
    assert list(fit.submodels[0].spec.prior_table.to_frame()["prior"]) == ["Normal(190, 100)", "Normal(0, 50)",
                                                                           "HalfStudentT(3, 20)"]
