"""Variance components, ICC and Nakagawa's R² (``hierax.results.variance``) against R's
``performance`` 0.10.2 / ``insight`` 0.19.0 on lme4 fits run to convergence
(tests/reference/variance_decomposition.R and .json; the formulas are written out there). The
negative binomial, gamma, beta, lognormal and cumulative families: test_variance_families.py."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import hierax as hx
from hierax.errors import ModelError
from hierax.model import layout
from hierax.results import _arviz, variance

HERE = Path(__file__).resolve().parent
REFERENCE = json.loads((HERE.parent / "reference" / "variance_decomposition.json").read_text())
TEACHING = HERE.parents[2] / "shared" / "data" / "teaching"


def _teaching(name, factors=()):
    data = pd.read_csv(TEACHING / f"{name}.csv")
    return data.astype({column: str for column in factors})


def _contraception():
    data = pd.read_csv(HERE.parent / "reference" / "data" / "contraception.csv")
    return data.astype({"urban": str, "district": str})


# name -> (formula, data, family, method); the reference's models, as lme4 fits them
MODELS = {
    "sleepstudy": ("Reaction ~ Days + (Days | Subject)", lambda: _teaching("sleepstudy", ["Subject"]), "gaussian",
                   "reml"),
    "pastes": ("strength ~ 1 + (1 | batch/cask)", lambda: _teaching("Pastes", ["batch", "cask"]), "gaussian", "reml"),
    "penicillin": ("diameter ~ 1 + (1 | plate) + (1 | sample)", lambda: _teaching("Penicillin", ["plate", "sample"]),
                   "gaussian", "reml"),
    "contraception": ("use ~ age + urban + (1 | district)", _contraception, "bernoulli", "laplace"),
    "cbpp": ("incidence | trials(size) ~ factor(period) + (1 | herd)", lambda: _teaching("cbpp", ["herd"]),
             "binomial", "laplace"),
    "grouseticks": ("TICKS ~ factor(YEAR) + (1 | BROOD) + (1 | LOCATION)",
                    lambda: _teaching("grouseticks", ["BROOD", "LOCATION"]), "poisson", "laplace"),
}
# Penicillin's REML surface is flat enough that lme4 stops at one of two points 3e-7 apart
# (relative) between runs (the script's header); every other reference repeats exactly
TOLERANCE = {"penicillin": 1e-5}


def _fit(name):
    formula, data, family, method = MODELS[name]
    return hx.fit(formula, data(), family=family, method=method)


def _group(label: str) -> str:
    """A grouping factor's name with its parts sorted: lme4 writes batch/cask's as cask:batch."""
    return ":".join(sorted(label.split(":")))


@pytest.mark.parametrize("name", list(MODELS))
def test_icc_r2_and_components_match_performance(name):
    """ICC (adjusted, unadjusted), R² (marginal, conditional) and insight's var.fixed,
    var.random, var.residual within 1e-4 relative of performance's at lme4's estimates (the fits
    themselves agree with lme4 to about 1e-6)."""
    reference, fit = REFERENCE[name], _fit(name)
    rtol = TOLERANCE.get(name, 1e-4)
    icc, r2, parts = fit.icc()["estimate"], fit.r2()["estimate"], fit.variance_components()["estimate"]
    assert icc["adjusted"] == pytest.approx(reference["icc"]["ICC_adjusted"], rel=rtol)
    assert icc["unadjusted"] == pytest.approx(reference["icc"]["ICC_unadjusted"], rel=rtol)
    assert r2["marginal"] == pytest.approx(reference["r2_nakagawa"]["R2_marginal"], rel=rtol, abs=1e-12)
    assert r2["conditional"] == pytest.approx(reference["r2_nakagawa"]["R2_conditional"], rel=rtol)
    got = reference["get_variance"]
    assert parts["fixed effects"] == pytest.approx(got["var.fixed"], rel=rtol, abs=1e-12)
    random = sum(v for k, v in parts.items() if k.startswith("group: "))
    assert random == pytest.approx(got["var.random"], rel=rtol)
    assert parts["residual"] == pytest.approx(got["var.residual"], rel=rtol)


@pytest.mark.parametrize("name", ["pastes", "penicillin", "contraception", "grouseticks"])
def test_icc_by_group_matches_performance(name):
    """With intercepts only, each grouping factor's ICC is performance's ``icc(by_group = TRUE)``.
    (With a random slope performance divides the intercept's variance alone, and warns; hierax
    divides the factor's whole variance at the data's own z, so sleepstudy is not compared.)"""
    reference = REFERENCE[name]["icc_by_group"]
    expected = dict(zip(np.atleast_1d(reference["group"]), np.atleast_1d(reference["ICC"])))
    got = _fit(name).icc(by_group=True)["estimate"]
    assert {_group(k) for k in got.index} == {_group(k) for k in expected}
    for label, value in got.items():
        key = next(k for k in expected if _group(k) == _group(label))
        assert value == pytest.approx(expected[key], rel=TOLERANCE.get(name, 1e-4))


def test_nuts_draws_give_the_point_formula_at_each_draw():
    """The draws' path assembles each draw's covariance from its sds and correlations as the
    estimates' path does: a fit whose every draw is the REML estimate gives REML's values, with
    no spread."""
    reml = _fit("sleepstudy")
    components = variance.estimate_components(reml)
    sd = np.sqrt(np.diag(reml.output.sigma ** 2 * reml.output.factors[0] @ reml.output.factors[0].T))
    cov = reml.output.sigma ** 2 * reml.output.factors[0] @ reml.output.factors[0].T
    block = reml.spec.blocks[0]

    class Draws:
        spec, has_draws = reml.spec, True
        idata = _arviz.results(posterior=xr.Dataset({
            layout.FIXED_VARIABLE: (("chain", "draw", "fixed"), np.tile(reml.output.beta, (2, 3, 1))),
            layout.variable("sd", block): (("chain", "draw", "term"), np.tile(sd, (2, 3, 1))),
            layout.variable("cor", block): (("chain", "draw", "pair"), np.full((2, 3, 1), cov[0, 1] / (sd[0] * sd[1]))),
            layout.RESIDUAL_SD: (("chain", "draw"), np.full((2, 3), reml.output.sigma))}))

    drawn = variance.draw_components(Draws())
    assert drawn.fixed == pytest.approx(np.full(6, components.fixed), rel=1e-12)
    assert drawn.random["Subject"] == pytest.approx(np.full(6, components.random["Subject"]), rel=1e-12)
    assert drawn.residual == pytest.approx(np.full(6, components.residual), rel=1e-12)


def test_a_nuts_fit_gives_posterior_intervals_around_the_reml_values():
    """A short NUTS run on sleepstudy: posterior means, sds and 90% intervals, the REML ICC
    inside the interval (about 180 rows: the posterior is close to the likelihood there)."""
    fit = hx.fit("Reaction ~ Days + (Days | Subject)", _teaching("sleepstudy", ["Subject"]), chains=2, warmup=300,
                 draws=300, seed=1, progress=False)
    table = fit.icc()
    assert list(table.columns) == ["estimate", "sd", "q05", "q95"]
    reference = REFERENCE["sleepstudy"]["icc"]["ICC_adjusted"]
    assert table.loc["adjusted", "q05"] < reference < table.loc["adjusted", "q95"]
    assert set(fit.r2().index) == {"marginal", "conditional", "bayes"}
    # bayes_R2 by hand from the draws: ypred = X beta + Z b at each draw (brms's formula)
    post = fit.idata.posterior
    beta = post["beta"].values.reshape(-1, 2)
    b = post["b_Subject"].values.reshape((len(beta),) + post["b_Subject"].values.shape[2:])
    block = fit.spec.blocks[0]
    ypred = beta @ fit.spec.X.T + np.einsum("sli,li->sl", b[:, block.group_index, :], block.Z)
    e = fit.spec.y[None, :] - ypred
    by_hand = ypred.var(axis=1, ddof=1) / (ypred.var(axis=1, ddof=1) + e.var(axis=1, ddof=1))
    assert fit.r2().loc["bayes", "estimate"] == pytest.approx(by_hand.mean(), rel=1e-10)


@pytest.mark.parametrize("formula, family, message", [
    ("Reaction ~ Days", "gaussian", "no group terms"),
    ("Reaction ~ Days + (1 | Subject)", "student", "not available yet for the student family"),
])
def test_refusals(formula, family, message):
    fit = hx.fit(formula, _teaching("sleepstudy", ["Subject"]), family=family, chains=1, warmup=50, draws=20, seed=1,
                 progress=False)
    for method in (fit.icc, fit.r2, fit.variance_components):
        with pytest.raises(ModelError, match=message):
            method()
