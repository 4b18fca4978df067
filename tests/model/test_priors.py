"""Prior densities against scipy, LKJ draws against their known marginal, and prior resolution."""

import dataclasses

import jax
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import hierax as hx
from hierax.design import build_design
from hierax.errors import ModelError
from hierax.formula import parse_formula
from hierax.model import specify

X = np.array([0.3, 1.7, 4.2])


@pytest.mark.parametrize("prior, reference", [
    (hx.Normal(1, 2), stats.norm(1, 2).logpdf(X)),
    (hx.StudentT(3, 1, 2), stats.t(3, 1, 2).logpdf(X)),
    (hx.HalfNormal(2), stats.halfnorm(scale=2).logpdf(X)),
    (hx.HalfStudentT(3, 2), np.log(2) + stats.t(3, 0, 2).logpdf(X)),
    (hx.HalfCauchy(5), stats.halfcauchy(scale=5).logpdf(X)),
    (hx.Exponential(0.5), stats.expon(scale=2).logpdf(X)),
])
def test_log_densities_match_scipy(prior, reference):
    np.testing.assert_allclose(prior.logpdf(X), reference, rtol=1e-10)


def test_lkj_draws_of_dimension_two_have_beta_marginal():
    # For K = 2, (r + 1) / 2 ~ Beta(eta, eta) under LKJ(eta) (Lewandowski et al. 2009).
    keys = jax.random.split(jax.random.PRNGKey(0), 4000)
    L = jax.vmap(lambda k: hx.LKJ(2.0).sample_cholesky(k, 2))(keys)
    r = np.asarray(L[:, 1, 0])
    assert stats.kstest((r + 1) / 2, stats.beta(2, 2).cdf).pvalue > 0.01
    rows = np.asarray(np.sum(L**2, axis=-1))
    np.testing.assert_allclose(rows, 1.0, rtol=1e-12)


@pytest.mark.parametrize("make", [
    lambda: hx.Normal(0, -1), lambda: hx.HalfNormal(0), lambda: hx.StudentT(0, 0, 1),
    lambda: hx.LKJ(-2), lambda: hx.Exponential(float("nan")),
])
def test_invalid_prior_parameters_fail_where_written(make):
    with pytest.raises(ModelError):
        make()


@pytest.fixture
def design():
    data = pd.DataFrame({"y": np.arange(12.0) % 5, "x": np.linspace(0, 1, 12), "g": list("abcd") * 3})
    return build_design(parse_formula("y ~ x + (1 + x | g)"), data)


def test_defaults_are_scaled_to_the_data_and_overrides_win(design):
    spec = specify(design, priors={"b[x]": hx.Normal(0, 1), "sd[g][x]": hx.HalfNormal(0.5)})
    table = spec.prior_table.to_frame().set_index(["class", "coef"])
    sd_y = np.std(design.y, ddof=1)
    assert table.loc[("Intercept", "(Intercept)"), "source"] == "default"
    assert table.loc[("b", "x"), "prior"] == "Normal(0, 1)"
    assert spec.blocks[0].sd_priors == (hx.HalfStudentT(3.0, float(f"{sd_y:.4g}")), hx.HalfNormal(0.5))
    assert spec.blocks[0].cor_prior == hx.LKJ(2.0)
    assert spec.dpar_priors["sigma"] == hx.Exponential(float(f"{1 / sd_y:.4g}"))


@pytest.mark.parametrize("factor", [1e-8, 1e-3, 1.0, 1e6, 1e7, 1e12])
def test_default_priors_keep_significant_digits_at_any_scale(design, factor):
    """The rule is scale-free: data multiplied by a power of ten get priors multiplied by it, never 0."""
    base = specify(design)
    scaled = specify(dataclasses.replace(design, y=design.y * factor))
    intercept, sd, sigma = scaled.fixed_priors[0], scaled.blocks[0].sd_priors[0], scaled.dpar_priors["sigma"]
    assert intercept.sigma == pytest.approx(base.fixed_priors[0].sigma * factor, rel=1e-12)
    assert intercept.mu == pytest.approx(base.fixed_priors[0].mu * factor, rel=1e-12)
    assert scaled.fixed_priors[1].sigma == pytest.approx(base.fixed_priors[1].sigma * factor, rel=1e-12)
    assert sd.sigma == pytest.approx(base.blocks[0].sd_priors[0].sigma * factor, rel=1e-12)
    assert sigma.rate == pytest.approx(base.dpar_priors["sigma"].rate / factor, rel=1e-12)


def test_location_keeps_the_digits_the_scale_needs():
    """A mean of 1,000,123.4 with sd 1 keeps its units: rounding to its own significant digits would not."""
    from hierax.model.prior_scale import round_location

    assert round_location(1_000_123.4567, 1.0) == pytest.approx(1_000_123.457)
    assert round_location(3.14159e-9, 1e-9) == pytest.approx(3.142e-9)


def test_a_predictor_in_millions_gets_a_prior_in_its_units():
    data = pd.DataFrame({"y": [0, 1] * 10, "x": np.linspace(0, 5e6, 20), "g": list("abcde") * 4})
    spec = specify(build_design(parse_formula("y ~ x + (1 | g)"), data), "bernoulli")
    assert spec.fixed_priors[1].sigma == pytest.approx(2.5 / np.std(data.x, ddof=1), rel=1e-3)


@pytest.mark.parametrize("priors, phrase", [
    ({"b[z]": hx.Normal(0, 1)}, "no fixed effect 'z'"),
    ({"sd[h]": hx.HalfNormal(1)}, "no group 'h'"),
    ({"sd[g][z]": hx.HalfNormal(1)}, "no varying effect 'z'"),
    ({"sd": hx.Normal(0, 1)}, "needs a prior on positive values"),
    ({"cor": hx.HalfNormal(1)}, "needs a prior on correlation values"),
    ({"tau": hx.HalfNormal(1)}, "unknown prior key 'tau'"),
    ({"b": 3.0}, "must be a hierax prior"),
])
def test_bad_prior_overrides_are_named(design, priors, phrase):
    with pytest.raises(ModelError) as error:
        specify(design, priors=priors)
    assert phrase in str(error.value)


@pytest.mark.parametrize("family, link, phrase", [
    ("gama", None, "unknown family 'gama'; did you mean 'gamma'"),
    ("bernoulli", "log", "has no link 'log'"),
])
def test_unknown_family_or_link(design, family, link, phrase):
    with pytest.raises(ModelError, match=phrase):
        specify(design, family=family, link=link)


def test_family_checks_the_response(design):
    with pytest.raises(hx.DataError, match="must be 0/1"):
        specify(design, family="bernoulli")
    with pytest.raises(hx.DataError, match="needs the number of trials"):
        specify(design, family="binomial")
