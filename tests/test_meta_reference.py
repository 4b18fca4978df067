"""REML and ML meta-analyses (``y | se(s)``) against metafor's ``rma`` on the BCG trials.

Reference: tests/reference/meta_bcg.json from tests/reference/meta_bcg.R (metafor 3.8.1, run to
a change in tau^2 below 1e-10; its header has the model math). Parametrisations: metafor's tau^2
is the variance of the trial effects, here sd[trial]^2 in ``y | se(sei) ~ 1 + (1 | trial)`` and
sigma^2 in ``y | se(sei, sigma = TRUE) ~ 1`` (one row per trial: the same model). metafor's REML
log-likelihood includes +1/2 log|X'X|, which lme4's REML criterion (hierax's) leaves out; the tests
add it. metafor's se of tau^2 is from the expected (Fisher) information, hierax's from the observed
one, so the test checks hierax's against its own formula (tests/engines/test_known_variance.py),
and here only that the two are within the few percent they differ by on 13 trials.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hierax as hx

ROOT = Path(__file__).resolve().parents[1]
FITS = json.loads((ROOT / "tests" / "reference" / "meta_bcg.json").read_text())["fits"]
BCG = pd.read_csv(ROOT / "tests" / "reference" / "data" / "bcg.csv").assign(trial=lambda d: d["trial"].astype(str))

CASES = [
    ("FE", "yi | se(sei) ~ 1", "reml"),
    ("FE", "yi | se(sei) ~ 1", "ml"),
    ("REML", "yi | se(sei) ~ 1 + (1 | trial)", "reml"),
    ("REML", "yi | se(sei, sigma = TRUE) ~ 1", "reml"),
    ("ML", "yi | se(sei) ~ 1 + (1 | trial)", "ml"),
    ("ML", "yi | se(sei, sigma = TRUE) ~ 1", "ml"),
    ("REML_ablat", "yi | se(sei) ~ 1 + ablat + (1 | trial)", "reml"),
    ("REML_ablat", "yi | se(sei, sigma = TRUE) ~ 1 + ablat", "reml"),
]


def _tau(fit) -> float:
    """metafor's tau: the trial sd, or sigma beside the known sds, or 0 for the common effect."""
    if fit.spec.blocks:
        return float(fit.varcorr().loc["sd[trial][(Intercept)]", "estimate"])
    return fit.sigma or 0.0


def _half_log_det_xtx(fit) -> float:
    return 0.5 * np.linalg.slogdet(fit.spec.X.T @ fit.spec.X)[1]


@pytest.mark.parametrize("reference, formula, method", CASES, ids=[f"{c[0]}:{c[1]}:{c[2]}" for c in CASES])
def test_estimates_and_loglik_match_metafor(reference, formula, method):
    ref = FITS[reference]
    fit = hx.fit(formula, BCG, method=method)
    assert fit.optimisation.converged and not fit.warnings
    fixef = fit.fixef()
    np.testing.assert_allclose(fixef["estimate"], ref["coef"]["estimate"], rtol=1e-6)
    np.testing.assert_allclose(fixef["se"], ref["coef"]["se"], rtol=1e-6)
    assert _tau(fit) == pytest.approx(ref["tau"], rel=1e-6, abs=1e-12)
    if reference == "FE":                   # one likelihood, two criteria (metafor's by hand)
        expected = ref["logLik_REML_by_hand"] if method == "reml" else ref["logLik_ML_by_hand"]
    else:
        expected = ref["logLik"]
    added = _half_log_det_xtx(fit) if method == "reml" else 0.0
    assert fit.loglik + added == pytest.approx(expected, abs=1e-8)
    assert fit.df == len(ref["coef"]["estimate"]) + (reference != "FE")


def test_trial_effects_are_metafors_blups():
    """The conditional modes are metafor's BLUPs. hierax's se is lme4's (beta taken as known);
    metafor's adds beta's uncertainty: se_metafor^2 = se^2 + (tau^2 / (tau^2 + v_i))^2 var(beta)."""
    ref = FITS["REML"]
    fit = hx.fit("yi | se(sei) ~ 1 + (1 | trial)", BCG, method="reml")
    table = fit.ranef().set_index("level").loc[[str(t) for t in ref["ranef"]["trial"]]]
    np.testing.assert_allclose(table["estimate"], ref["ranef"]["pred"], rtol=1e-6)
    tau2 = ref["tau2"]
    shrink = tau2 / (tau2 + BCG.set_index("trial").loc[table.index, "vi"].to_numpy())
    with_beta = np.sqrt(table["se"] ** 2 + shrink ** 2 * fit.fixef()["se"].iloc[0] ** 2)
    np.testing.assert_allclose(with_beta, ref["ranef"]["se"], rtol=1e-6)


def test_sigma_standard_error_is_near_metafors_expected_information():
    ref = FITS["REML"]
    fit = hx.fit("yi | se(sei, sigma = TRUE) ~ 1", BCG, method="reml")
    sigma = fit.family_params().loc["sigma"]
    se_tau2 = 2.0 * sigma["estimate"] * sigma["se"]
    assert se_tau2 == pytest.approx(ref["se_tau2"], rel=0.02)
    assert se_tau2 != pytest.approx(ref["se_tau2"], rel=1e-4)      # observed, not expected, information


@pytest.mark.parametrize("formula", ["yi | se(sei, sigma = TRUE) ~ 1 + ablat", "yi | se(sei) ~ 1"])
def test_a_saved_meta_analysis_loads_with_the_same_tables(tmp_path, formula):
    from hierax.results.io import restore, save

    fit = hx.fit(formula, BCG, method="reml")
    again = restore(save(fit, tmp_path / "fit.nc"))
    pd.testing.assert_frame_equal(again.summary(), fit.summary())
    assert again.loglik == fit.loglik and str(again) == str(fit)
