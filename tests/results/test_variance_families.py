"""Variance components, ICC and Nakagawa's R² for the negative binomial, gamma, lognormal and
cumulative families (``hierax.results.variance``) against R's ``performance`` 0.10.2 / ``insight``
0.19.0 on glmmTMB, lme4 and ordinal fits run to convergence (tests/reference/variance_families.R
and .json, where insight's formulas are written out: which model's shape / phi, the null model's
intercept).

Every family: the formula at the reference's own parameter values gives insight's components
(isolating the formula from the fit). The negative binomial and the gamma, whose variances read a
dispersion, are also fitted: hierax's Laplace fit gives glmmTMB's estimates, and the fit's ICC and
R² are performance's within 1e-4 (they agree to 4e-9). A NUTS fit's path is checked on draws made
by hand (a real negative binomial NUTS run gives the same numbers by hand from its draws)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import hierax as hx
from hierax.errors import ModelError
from hierax.model import layout
from hierax.model.build import build_model
from hierax.results import _arviz, variance

HERE = Path(__file__).resolve().parent
REFERENCE = json.loads((HERE.parent / "reference" / "variance_families.json").read_text())
DATA = HERE.parent / "reference" / "data"
TEACHING = HERE.parents[2] / "shared" / "data" / "teaching"

EPIL = ("y ~ trt + lbase + (1 | subject)", lambda: pd.read_csv(DATA / "epil.csv"), "negbinomial", None)
SLEEP = lambda: pd.read_csv(TEACHING / "sleepstudy.csv")  # noqa: E731
WINE = lambda: pd.read_csv(DATA / "wine.csv")  # noqa: E731
WINE_FORMULA = "rating ~ temp + contact + (1 | judge)"
# reference entry -> (formula, data, family, link), as hierax writes the reference's model
MODELS = {
    "nbinom2_epil": EPIL,
    "glmer_nb_epil": EPIL,
    "nbinom2_grouseticks": ("TICKS ~ factor(YEAR) + cHEIGHT + (1 | BROOD) + (1 | LOCATION)",
                            lambda: pd.read_csv(TEACHING / "grouseticks.csv"), "negbinomial", None),
    "gamma_sleepstudy": ("Reaction ~ Days + (1 | Subject)", SLEEP, "gamma", None),
    "lognormal_sleepstudy": ("Reaction ~ Days + (1 | Subject)", SLEEP, "lognormal", None),
    "cumulative_logit_wine": (WINE_FORMULA, WINE, "cumulative", "logit"),
    "cumulative_probit_wine": (WINE_FORMULA, WINE, "cumulative", "probit"),
}
# fitted by Laplace here: the two families whose variance reads a dispersion (and the negative binomial's
# null model). The others are checked by the formula at the reference's values alone, to keep the suite
# short: the lognormal is lmer's gaussian on log(y), and the cumulative's Laplace fit is checked against
# clmm in tests/test_laplace_ordinal.py.
FITTED = ["nbinom2_epil", "gamma_sleepstudy"]


def _r_name(name: str) -> str:
    """hierax's 'factor(YEAR)[96]' / 'trt[progabide]' as R writes them: 'YEAR96', 'trtprogabide'."""
    return name.replace("factor(", "").replace(")[", "").replace("[", "").replace("]", "")


@pytest.fixture(scope="module")
def fits():
    out = {}
    for name in FITTED:
        formula, data, family, link = MODELS[name]
        out[name] = hx.fit(formula, data(), family=family, link=link, method="laplace")
    return out


def _spec(name):
    formula, data, family, link = MODELS[name]
    return build_model(formula, data(), family, link, bayesian=False)[1]


@pytest.mark.parametrize("name", list(MODELS))
def test_formula_at_the_references_values_gives_insights_components(name):
    """components() at the reference fit's own beta, sds, dispersion and null-model intercept gives
    insight's var.fixed, var.random and var.distribution (= var.residual), to rounding."""
    ref, spec = REFERENCE[name], _spec(name)
    assert [_r_name(n) for n in spec.fixed_names] == ref["fixef"]["names"]
    covariances = {block.name: np.diag(np.square(np.atleast_1d(ref["sds"][block.group]["sd"])))
                   for block in spec.blocks}
    b0 = ref["null_model"]["intercept"] if "null_model" in ref else None
    parts = variance.components(spec, ref["fixef"]["estimate"], covariances, ref.get("family", {}), b0)
    got = ref["get_variance"]
    assert parts.fixed == pytest.approx(got["var.fixed"], rel=1e-10)
    assert parts.total_random == pytest.approx(got["var.random"], rel=1e-10)
    assert parts.residual == pytest.approx(got["var.distribution"], rel=1e-10)
    assert parts.residual == pytest.approx(got["var.residual"], rel=1e-10)
    assert parts.residual == pytest.approx(ref["var_distribution_by_hand"], rel=1e-12)
    assert variance.icc(parts)["adjusted"] == pytest.approx(ref["icc"]["ICC_adjusted"], rel=1e-10)
    assert variance.r2(parts)["marginal"] == pytest.approx(ref["r2_nakagawa"]["R2_marginal"], rel=1e-10)


@pytest.mark.parametrize("name", FITTED)
def test_laplace_estimates_match_the_reference(name, fits):
    """The fit behind the comparison: fixed effects, group sds and the dispersion (brms's names)
    as glmmTMB / lmer / clmm estimate them, and the null model's intercept as insight refits it."""
    fit, ref = fits[name], REFERENCE[name]
    rtol = 1e-6
    assert fit.output.beta == pytest.approx(ref["fixef"]["estimate"], rel=rtol)
    varcorr = fit.varcorr()["estimate"]
    for group, entry in ref["sds"].items():
        assert varcorr[f"sd[{group}][(Intercept)]"] == pytest.approx(entry["sd"], rel=rtol)
    family = fit.family_params()["estimate"]
    for dpar, value in ref.get("family", {}).items():
        assert family[dpar] == pytest.approx(value, rel=rtol)
    if "null_model" in ref:
        assert variance.null_intercept(fit.spec) == pytest.approx(ref["null_model"]["intercept"], rel=1e-6)


@pytest.mark.parametrize("name", FITTED)
def test_icc_r2_and_components_match_performance(name, fits):
    """ICC (adjusted, unadjusted), R² (marginal, conditional) and insight's var.fixed,
    var.random, var.residual within 1e-4 relative of performance's, from hierax's own fit."""
    fit, ref = fits[name], REFERENCE[name]
    icc, r2, parts = fit.icc()["estimate"], fit.r2()["estimate"], fit.variance_components()["estimate"]
    assert icc["adjusted"] == pytest.approx(ref["icc"]["ICC_adjusted"], rel=1e-4)
    assert icc["unadjusted"] == pytest.approx(ref["icc"]["ICC_unadjusted"], rel=1e-4)
    assert r2["marginal"] == pytest.approx(ref["r2_nakagawa"]["R2_marginal"], rel=1e-4)
    assert r2["conditional"] == pytest.approx(ref["r2_nakagawa"]["R2_conditional"], rel=1e-4)
    got = ref["get_variance"]
    assert parts["fixed effects"] == pytest.approx(got["var.fixed"], rel=1e-4)
    assert sum(v for k, v in parts.items() if k.startswith("group: ")) == pytest.approx(got["var.random"], rel=1e-4)
    assert parts["residual"] == pytest.approx(got["var.residual"], rel=1e-4)


def test_nuts_draws_take_the_shape_at_each_draw(fits):
    """The draws' path: each draw's negative binomial shape in log(1 + 1/mu + 1/shape), mu from the
    null model's Laplace fit; at the Laplace estimates it gives the Laplace fit's values."""
    fit = fits["nbinom2_epil"]
    spec, output = fit.spec, fit.output
    block = spec.blocks[0]
    shape = float(fit.family_params().loc["shape", "estimate"])
    shapes = np.array([[shape, 0.5 * shape, 2.0 * shape], [1.0, 10.0, 100.0]])
    sd = np.sqrt(output.factors[0][0, 0] ** 2)

    class Draws:
        has_draws = True
        idata = _arviz.results(posterior=xr.Dataset({
            layout.FIXED_VARIABLE: (("chain", "draw", "fixed"), np.tile(output.beta, (2, 3, 1))),
            layout.variable("sd", block): (("chain", "draw", "term"), np.full((2, 3, 1), sd)),
            "shape": (("chain", "draw"), shapes)}))

    Draws.spec = spec
    drawn = variance.draw_components(Draws())
    at_estimates = variance.estimate_components(fit)
    mu = np.exp(variance.null_intercept(spec))
    assert drawn.residual == pytest.approx(np.log1p(1.0 / mu + 1.0 / shapes.ravel()), rel=1e-12)
    assert drawn.residual[0] == pytest.approx(at_estimates.residual, rel=1e-12)
    assert drawn.fixed == pytest.approx(np.full(6, at_estimates.fixed), rel=1e-12)
    assert drawn.random["subject"] == pytest.approx(np.full(6, at_estimates.random["subject"]), rel=1e-12)


def test_the_null_model_is_fitted_once_per_model(fits, monkeypatch):
    """icc(), r2() and variance_components() share one null-model fit (kept with the spec)."""
    fit = fits["nbinom2_epil"]
    variance.null_intercept(fit.spec)
    monkeypatch.setattr("hierax.engines.laplace.fit_glmm", lambda *a, **k: pytest.fail("refitted the null model"))
    fit.icc(), fit.r2(), fit.variance_components()


GROUSE = "TICKS ~ factor(YEAR) + (1 | BROOD)"


@pytest.mark.parametrize("formula, data, family, link, message", [
    ("Reaction ~ Days + (1 | Subject)", SLEEP, "student", None, "student family .*a sd where a variance belongs"),
    (GROUSE, lambda: pd.read_csv(TEACHING / "grouseticks.csv"), "zero_inflated_poisson", None,
     "zero_inflated_poisson family .*row predictions"),
    (GROUSE, lambda: pd.read_csv(TEACHING / "grouseticks.csv"), "zero_inflated_negbinomial", None,
     "zero_inflated_negbinomial family .*row predictions"),
    (GROUSE, lambda: pd.read_csv(TEACHING / "grouseticks.csv"), "hurdle_poisson", None,
     "hurdle_poisson family .*hurdle probability out"),
    (GROUSE, lambda: pd.read_csv(TEACHING / "grouseticks.csv"), "hurdle_negbinomial", None,
     "hurdle_negbinomial family .*hurdle probability out"),
    ("Reaction ~ Days + (1 | Subject)", SLEEP, "weibull", None, "weibull family"),
    ("Reaction ~ Days + (1 | Subject)", SLEEP, "exponential", None, "exponential family"),
    ("yield ~ ctemp + (1 | batch)", lambda: pd.read_csv(DATA / "GasolineYield.csv"), "beta", None,
     "beta family .*exp\\(\\) of the null model's logit intercept"),
])
def test_families_without_a_residual_variance_are_refused(formula, data, family, link, message):
    spec = build_model(formula, data(), family, link, bayesian=False)[1]
    with pytest.raises(ModelError, match=message):
        variance.residual_variance(spec, {})
