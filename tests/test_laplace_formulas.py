"""A formula for a family's parameter under maximum likelihood (issue 16): sleepstudy,
Reaction ~ Days + (1 | Subject) with log sigma_i = c0 + c1 Days_i, against glmmTMB 1.1.5
(tests/reference/glmmtmb_families.json, entry gaussian_sigma_days_sleepstudy). glmmTMB's
dispersion model is log sigma^2, so its coefficients are twice ours (the reference halves them
in family_natural, with their standard errors). For a gaussian response the Laplace engine's
integral over the group effects is exact, so method="ml" fits this model by it."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.errors import ModelError

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "teaching"
REFERENCE = json.loads((ROOT / "tests" / "reference" / "glmmtmb_families.json").read_text())["models"]
pytestmark = pytest.mark.skipif(not SHARED.exists(), reason="../shared (data) is not beside the checkout")


@pytest.fixture(scope="module")
def sleepstudy():
    return pd.read_csv(SHARED / "sleepstudy.csv")


@pytest.mark.parametrize("method", ["ml", "laplace"])
def test_sigma_formula_matches_glmmtmb(sleepstudy, method):
    ref = REFERENCE["gaussian_sigma_days_sleepstudy"]
    fit = hx.fit(hx.bf("Reaction ~ Days + (1 | Subject)", sigma="~ Days"), sleepstudy, method=method)
    assert fit.loglik == pytest.approx(ref["logLik"], abs=1e-4)
    assert fit.df == ref["df"]
    table = fit.fixef()
    expected = {**dict(zip(ref["fixef"]["cond"]["names"], zip(ref["fixef"]["cond"]["estimate"],
                                                             ref["fixef"]["cond"]["se"]))),
                **dict(zip(["sigma_(Intercept)", "sigma_Days"], zip(ref["family_natural"]["b_sigma_log_sd"]["estimate"],
                                                                    ref["family_natural"]["b_sigma_log_sd"]["se"])))}
    for name, (estimate, se) in expected.items():
        assert abs(table.loc[name, "estimate"] - estimate) < 1e-3 * se, name
        assert table.loc[name, "se"] == pytest.approx(se, rel=1e-3), name
    sd = fit.varcorr().loc["sd[Subject][(Intercept)]", "estimate"]
    assert sd == pytest.approx(ref["ranef_sd"]["Subject"]["sd"][0], rel=1e-4)


def test_reml_and_group_terms_in_a_formula_are_refused(sleepstudy):
    with pytest.raises(ModelError, match="method='ml'"):
        hx.fit(hx.bf("Reaction ~ Days + (1 | Subject)", sigma="~ Days"), sleepstudy, method="reml")
    with pytest.raises(ModelError, match="method='nuts'"):
        hx.fit(hx.bf("Reaction ~ Days + (1 | Subject)", sigma="~ Days + (1 | Subject)"), sleepstudy, method="ml")
