"""Distributional regression: hx.bf formulas, their priors, and the density of a sigma formula."""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import hierax as hx
from hierax.density import make_logdensity
from hierax.errors import FormulaError, ModelError
from hierax.formula import as_bf
from hierax.model.build import build_model

RNG = np.random.default_rng(3)
DATA = pd.DataFrame({"y": RNG.normal(size=60), "x": RNG.normal(size=60), "z": RNG.normal(size=60),
                     "g": np.repeat(list("abcdef"), 10), "count": RNG.poisson(2.0, 60)})


def test_text_form_round_trips():
    model = hx.bf("y ~ x + (1 | g)", sigma="~ z + (1 | g)")
    assert str(model) == "y ~ x + (1 | g); sigma ~ z + (1 | g)"
    assert as_bf(str(model)) == model and as_bf(model) is model
    assert model.variables == ("y", "x", "g", "z")
    assert as_bf("y ~ x") == hx.bf("y ~ x")


@pytest.mark.parametrize("make, phrase", [
    (lambda: hx.bf("y ~ x", sigma="x"), "must be one-sided"),
    (lambda: hx.bf("y ~ x", sigma="z ~ x"), "must be one-sided"),
    (lambda: hx.bf("y ~ x; sigma ~ x"), "keyword of bf()"),
    (lambda: as_bf("y ~ x; ~ x"), "a parameter's formula such as 'sigma ~ x'"),
    (lambda: as_bf("y ~ x; sigma ~ x; sigma ~ z"), "has two formulas"),
    (lambda: hx.bf("y ~ x", sigma="~ x +"), "in the formula for 'sigma': expected a term after '+'"),
])
def test_malformed_formulas_are_refused(make, phrase):
    with pytest.raises(FormulaError, match=None) as info:
        make()
    assert phrase in str(info.value)


def test_a_formula_turns_a_scalar_into_coefficients():
    _, spec = build_model(hx.bf("y ~ x + (1 | g)", sigma="~ z + (1 | g)"), DATA)
    (predictor,) = spec.dpar_predictors
    assert spec.scalar_dpars == () and predictor.dpar == "sigma" and predictor.link.name == "log"
    assert predictor.fixed_names == ("sigma_(Intercept)", "sigma_z")
    (block,) = predictor.blocks
    assert (block.name, block.group, block.terms, block.label) == ("g__sigma", "g", ("sigma_(Intercept)",), "g")
    rows = spec.prior_table.to_frame()
    assert list(rows["class"]) == ["Intercept", "b", "sd", "Intercept_sigma", "b_sigma", "sd"]
    assert rows["prior"].iloc[3] == f"StudentT(3, {np.log(np.std(DATA['y'], ddof=1)):.2f}, 2.5)"   # at log sd(y)


@pytest.mark.parametrize("family, formula, priors, phrase", [
    ("gaussian", hx.bf("y ~ x", sigam="~ z"), None, "did you mean 'sigma'"),
    ("poisson", hx.bf("count ~ x", shape="~ z"), None, "the poisson family has no parameter 'shape'"),
    ("gaussian", hx.bf("y ~ x", sigma="~ z"), {"sigma": hx.HalfNormal(1)}, "sigma has a formula"),
    ("negbinomial", "count ~ x", {"b_shape": hx.Normal(0, 1)}, "'shape' has no formula"),
    ("gaussian", hx.bf("y ~ x", sigma="~ z"), {"b_sigma[x]": hx.Normal(0, 1)}, "no fixed effect 'x'"),
    ("gaussian", hx.bf("y ~ x", sigma="~ 0 + z"), {"Intercept_sigma": hx.Normal(0, 1)}, "has no intercept"),
])
def test_bad_parameter_formulas_and_priors_are_refused(family, formula, priors, phrase):
    with pytest.raises(ModelError) as info:
        build_model(formula, DATA, family, priors=priors)
    assert phrase in str(info.value)


def test_priors_reach_the_formula_coefficients():
    priors = {"Intercept_sigma": hx.Normal(0, 1), "b_sigma[z]": hx.Normal(0, 0.5), "sd[g][sigma_(Intercept)]":
              hx.HalfNormal(0.3)}
    _, spec = build_model(hx.bf("y ~ x + (1 | g)", sigma="~ z + (1 | g)"), DATA, priors=priors)
    (predictor,) = spec.dpar_predictors
    assert predictor.fixed_priors == (hx.Normal(0, 1), hx.Normal(0, 0.5))
    assert predictor.blocks[0].sd_priors == (hx.HalfNormal(0.3),)
    assert spec.blocks[0].sd_priors != (hx.HalfNormal(0.3),)          # the mean's block keeps its own


def test_density_of_a_sigma_formula_matches_direct_computation():
    _, spec = build_model(hx.bf("y ~ x + (1 | g)", sigma="~ z + (1 | g)"), DATA, parameterisation="noncentered")
    rng = np.random.default_rng(0)
    position = {"beta": rng.normal(size=2), "beta_dpars": {"sigma": rng.normal(0, 0.3, size=2)},
                "log_sd": {"g": rng.normal(size=1), "g__sigma": rng.normal(size=1)},
                "z": {"g": rng.normal(size=(6, 1)), "g__sigma": rng.normal(size=(6, 1))}}
    got = float(make_logdensity(spec)(jax.tree_util.tree_map(jax.numpy.asarray, position)))
    index = pd.Categorical(DATA["g"]).codes
    sd, sd_sigma = np.exp(position["log_sd"]["g"][0]), np.exp(position["log_sd"]["g__sigma"][0])
    mu = position["beta"][0] + position["beta"][1] * DATA["x"] + sd * position["z"]["g"][index, 0]
    c = position["beta_dpars"]["sigma"]
    sigma = np.exp(c[0] + c[1] * DATA["z"] + sd_sigma * position["z"]["g__sigma"][index, 0])
    want = stats.norm.logpdf(DATA["y"], mu, sigma).sum()
    for prior, value in zip(spec.fixed_priors, position["beta"]):
        want += float(prior.logpdf(value))
    for prior, value in zip(spec.dpar_predictors[0].fixed_priors, c):
        want += float(prior.logpdf(value))
    for block in spec.all_blocks:
        log_sd = position["log_sd"][block.name][0]
        want += float(block.sd_priors[0].logpdf(np.exp(log_sd))) + log_sd            # prior and Jacobian
        want += stats.norm.logpdf(position["z"][block.name]).sum()                    # non-centred effects
    assert got == pytest.approx(want, rel=1e-10)


def test_reml_refuses_a_parameter_formula_and_names_ml():
    with pytest.raises(ModelError, match="method='reml' does not fit a formula for sigma: fit it by maximum likelihood"):
        hx.fit(hx.bf("y ~ x + (1 | g)", sigma="~ z"), DATA, method="reml")


def test_the_spec_lists_every_linear_predictor_with_one_type_the_mean_first():
    _, spec = build_model(hx.bf("y ~ x + (1 | g)", sigma="~ x + (1 | g)"), DATA)
    predictors = spec.predictors
    assert list(predictors) == ["mu", "sigma"]
    assert type(predictors["mu"]) is type(predictors["sigma"])
    assert predictors["mu"].blocks == spec.blocks and predictors["mu"].X is spec.X
    assert spec.all_blocks == spec.blocks + predictors["sigma"].blocks
