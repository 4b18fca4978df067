"""Adaptive Gauss-Hermite quadrature (nAGQ = 5 and 25) against lme4 1.1-31's glmer run to
convergence (tests/reference/glmer_agq.R / .json, made on this machine with Debian's r-cran-lme4):
issue 17, acceptance item 1's quadrature.

lme4 reports nAGQ > 1 log-likelihoods without the binomial coefficients (from the deviance
residuals, relative to the saturated model's sum of log C(n, y) + y log(y/n) + ...), while its
nAGQ = 1 value and hierax's include them; for cbpp the two differ by the saturated model's
log-likelihood, computed here from the data (for bernoulli data it is 0, and contraception's
values are compared as they are).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

import hierax as hx

HERE = Path(__file__).parent
REFERENCE = json.loads((HERE / "reference" / "glmer_agq.json").read_text())
CBPP = HERE.parents[1] / "shared" / "data" / "teaching" / "cbpp.csv"


def cbpp():
    data = pd.read_csv(CBPP)
    data["period"] = data["period"].astype(str)
    saturated = binom.logpmf(data["incidence"], data["size"], data["incidence"] / data["size"]).sum()
    return ("cbind(incidence, size - incidence) ~ period + (1 | herd)", data, "binomial", saturated)


def contraception():
    data = pd.read_csv(HERE / "reference" / "data" / "contraception.csv")
    return ("use ~ age + urban + factor(livch) + (1 | district)", data, "bernoulli", 0.0)


@pytest.mark.skipif(not CBPP.exists(), reason="../shared (reference data) is not beside the checkout")
@pytest.mark.parametrize("model", ["cbpp", "contraception"])
@pytest.mark.parametrize("nodes", [1, 5, 25])
def test_quadrature_matches_glmer(model, nodes):
    formula, data, family, saturated = {"cbpp": cbpp, "contraception": contraception}[model]()
    fit = hx.fit(formula, data, family=family, method="laplace", nAGQ=nodes)
    ref = REFERENCE[f"{model}_nAGQ{nodes}"]
    lme4_loglik = ref["logLik"] + (saturated if nodes > 1 else 0.0)
    assert abs(fit.loglik - lme4_loglik) < 1e-6
    np.testing.assert_allclose(fit.output.theta, ref["theta"], rtol=1e-5)
    se = np.array(ref["fixef"]["se"])
    assert np.max(np.abs(fit.output.beta - np.array(ref["fixef"]["estimate"])) / se) < 1e-3
    np.testing.assert_allclose(np.sqrt(np.diag(fit.output.vcov_beta)), se, rtol=1e-3)
    assert (f"nAGQ = {nodes}" in str(fit)) == (nodes > 1)


def test_more_nodes_move_the_likelihood_less_and_less():
    """Quadrature converges: contraception's log-likelihood changes by 0.13 from 1 to 5 nodes and
    by 1e-4 from 5 to 25 (glmer's own values differ alike)."""
    formula, data, family, _ = contraception()
    values = [hx.fit(formula, data, family=family, method="laplace", nAGQ=k).loglik for k in (1, 5, 25)]
    assert abs(values[1] - values[0]) > 0.1 > 1e-3 > abs(values[2] - values[1])


@pytest.mark.skipif(not CBPP.exists(), reason="../shared (reference data) is not beside the checkout")
def test_a_saved_quadrature_fit_comes_back_as_one(tmp_path):
    from hierax.results.io import restore, save

    formula, data, family, _ = cbpp()
    fit = hx.fit(formula, data, family=family, method="laplace", nAGQ=5)
    again = restore(save(fit, tmp_path / "fit.nc", data=data))
    assert again.output.nagq == 5 and again.loglik == fit.loglik
    assert str(again).splitlines()[0] == str(fit).splitlines()[0]
