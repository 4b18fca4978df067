"""Families: normalised log-likelihoods (kernel plus the data-only constant) against SciPy, their
simulators against their log densities, and their means against their simulators."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from hierax.errors import DataError, ModelError
from hierax.model.families import FAMILIES, Mu, get_family

RNG = np.random.default_rng(0)
ETA = RNG.normal(0.0, 0.7, 40)


def _nb(y, mu, shape):
    return stats.nbinom.logpmf(y, shape, shape / (shape + mu))


def _weibull(y, mu, k):
    scale = mu / special.gamma(1 + 1 / k)
    return stats.weibull_min.logpdf(y, k, scale=scale)


# name -> (dpars, response draw from eta, SciPy's log density (y, eta, dpars))
CASES = {
    "student": ({"sigma": 1.3, "nu": 4.5}, lambda e: e + RNG.standard_t(4.5, e.shape),
                lambda y, e, d: stats.t.logpdf(y, d["nu"], e, d["sigma"])),
    "lognormal": ({"sigma": 0.6}, lambda e: np.exp(e + 0.6 * RNG.normal(size=e.shape)),
                  lambda y, e, d: stats.lognorm.logpdf(y, d["sigma"], scale=np.exp(e))),
    "gamma": ({"shape": 2.5}, lambda e: RNG.gamma(2.5, np.exp(e) / 2.5),
              lambda y, e, d: stats.gamma.logpdf(y, d["shape"], scale=np.exp(e) / d["shape"])),
    "weibull": ({"shape": 1.7}, lambda e: RNG.weibull(1.7, e.shape) + 0.1,
                lambda y, e, d: _weibull(y, np.exp(e), d["shape"])),
    "exponential": ({}, lambda e: RNG.exponential(np.exp(e)), lambda y, e, d: stats.expon.logpdf(y, scale=np.exp(e))),
    "beta": ({"phi": 7.0}, lambda e: RNG.beta(2.0, 3.0, e.shape),
             lambda y, e, d: stats.beta.logpdf(y, special.expit(e) * d["phi"], (1 - special.expit(e)) * d["phi"])),
    "negbinomial": ({"shape": 2.2}, lambda e: RNG.poisson(3.0, e.shape).astype(float),
                    lambda y, e, d: _nb(y, np.exp(e), d["shape"])),
    "zero_inflated_poisson": (
        {"zi": 0.3}, lambda e: RNG.poisson(1.5, e.shape).astype(float),
        lambda y, e, d: np.where(y == 0, np.log(d["zi"] + (1 - d["zi"]) * np.exp(-np.exp(e))),
                                 np.log1p(-d["zi"]) + stats.poisson.logpmf(y, np.exp(e)))),
    "zero_inflated_negbinomial": (
        {"shape": 1.4, "zi": 0.2}, lambda e: RNG.poisson(1.5, e.shape).astype(float),
        lambda y, e, d: np.where(y == 0, np.log(d["zi"] + (1 - d["zi"]) * np.exp(_nb(0, np.exp(e), d["shape"]))),
                                 np.log1p(-d["zi"]) + _nb(y, np.exp(e), d["shape"]))),
    "hurdle_poisson": (
        {"hu": 0.35}, lambda e: RNG.poisson(1.5, e.shape).astype(float),
        lambda y, e, d: np.where(y == 0, np.log(d["hu"]), np.log1p(-d["hu"]) + stats.poisson.logpmf(y, np.exp(e))
                                 - np.log1p(-np.exp(-np.exp(e))))),
    "hurdle_negbinomial": (
        {"shape": 3.0, "hu": 0.25}, lambda e: RNG.poisson(1.5, e.shape).astype(float),
        lambda y, e, d: np.where(y == 0, np.log(d["hu"]), np.log1p(-d["hu"]) + _nb(y, np.exp(e), d["shape"])
                                 - np.log1p(-np.exp(_nb(0, np.exp(e), d["shape"]))))),
}


@pytest.mark.parametrize("name, link", [("poisson", "log"), ("binomial", "logit"), ("binomial", "probit"),
                                        ("bernoulli", "logit"), ("gaussian", "identity")])
def test_classic_log_likelihood_is_the_normalised_density(name, link):
    family, _ = get_family(name, link)
    rng = np.random.default_rng(0)
    eta = rng.normal(0.0, 1.0, 20)
    trials = rng.integers(1, 30, 20).astype(float) if name == "binomial" else None
    p = stats.norm.cdf(eta) if link == "probit" else 1 / (1 + np.exp(-eta))
    y, expected = {
        "poisson": lambda: (y := rng.poisson(3.0, 20).astype(float), stats.poisson.logpmf(y, np.exp(eta))),
        "binomial": lambda: (y := rng.binomial(trials.astype(int), 0.4).astype(float),
                             stats.binom.logpmf(y, trials, p)),
        "bernoulli": lambda: (y := rng.binomial(1, 0.5, 20).astype(float), stats.bernoulli.logpmf(y, p)),
        "gaussian": lambda: (y := rng.normal(0.0, 2.0, 20), stats.norm.logpdf(y, eta, 1.5)),
    }[name]()
    params = {"mu": Mu(jnp.asarray(eta), link), **({"sigma": 1.5} if name == "gaussian" else {})}
    aux = {} if trials is None else {"trials": trials}
    np.testing.assert_allclose(family.log_likelihood(y, params, aux), expected, rtol=1e-10)
    # the constant on host arrays (SciPy) and on JAX arrays agree: samplers use the first, traces the second
    jax_aux = {k: jnp.asarray(v) for k, v in aux.items()}
    np.testing.assert_allclose(np.asarray(family.log_constant(jnp.asarray(y), jax_aux)), family.log_constant(y, aux),
                               rtol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_log_likelihood_is_brms_parametrisation_of_scipy_density(name):
    family, link = get_family(name)
    dpars, draw, expected = CASES[name]
    y = draw(ETA)
    params = {"mu": Mu(jnp.asarray(ETA), link.name), **dpars}
    got = family.log_likelihood(y, params, {})
    np.testing.assert_allclose(got, expected(y, ETA, dpars), rtol=1e-9, atol=1e-11)
    traced = jax.jit(lambda yy, e: family.log_likelihood(yy, {"mu": Mu(e, link.name), **dpars}, {}))
    np.testing.assert_allclose(traced(jnp.asarray(y), jnp.asarray(ETA)), got, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name", sorted(CASES))
def test_simulator_matches_mean_and_density(name):
    """200,000 draws at one eta: the sample mean agrees with ``family.mean`` within 5 standard
    errors, and for discrete families the frequencies of 0..4 agree with exp(log pmf) within 5
    binomial standard errors: a simulator and a density that disagree would fail SBC."""
    family, link = get_family(name)
    dpars, _, _ = CASES[name]
    n = 200_000
    eta = jnp.full(n, 0.4)
    params = {"mu": Mu(eta, link.name), **dpars}
    y = np.asarray(family.sample(jax.random.key(3), params, {}))
    mean = float(np.asarray(family.mean(params, {}))[0])
    assert abs(y.mean() - mean) < 5 * y.std() / np.sqrt(n)
    if family.outcome == "count":
        for k in range(5):
            p = float(np.exp(family.log_likelihood(np.array([float(k)]), {"mu": Mu(jnp.full(1, 0.4), link.name),
                                                                        **dpars}, {}))[0])
            assert abs((y == k).mean() - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-12, (k, (y == k).mean(), p)
    else:   # a continuous density integrates to 1 and its quantiles match the draws'
        grid = np.quantile(y, [0.1, 0.5, 0.9])
        for q, x in zip([0.1, 0.5, 0.9], grid):
            below = np.linspace(1e-9 if y.min() >= 0 else y.min() - 20, x, 20001)
            below = below[below < 1] if name == "beta" else below
            density = np.exp(np.asarray(family.log_likelihood(below, {"mu": Mu(jnp.full(len(below), 0.4), link.name),
                                                                        **dpars}, {})))
            assert abs(np.trapezoid(density, below) - q) < 0.01, (q, x)


def test_student_density_stays_exact_for_huge_degrees_of_freedom():
    """At nu = 1e28 the t density is the normal one to 1e-12 (a log-gamma difference lost every
    digit there, and a Laplace fit found a spurious optimum at nu = 1e29)."""
    family, _ = get_family("student")
    y = np.linspace(-3.0, 3.0, 7)
    got = family.log_likelihood(y, {"mu": Mu(jnp.zeros(7), "identity"), "sigma": 1.3, "nu": 1e28}, {})
    np.testing.assert_allclose(got, stats.norm.logpdf(y, 0.0, 1.3), rtol=1e-12)


def test_positive_negbinomial_sampler_is_exact_for_small_means():
    """The hurdle's truncated NB by redrawing zeros: at mu = 0.05 most rounds give zeros, and the
    draws still follow NB | y > 0."""
    family, link = get_family("hurdle_negbinomial")
    n = 100_000
    params = {"mu": Mu(jnp.full(n, np.log(0.05)), "log"), "shape": 2.0, "hu": 1e-9}
    y = np.asarray(family.sample(jax.random.key(5), params, {}))
    assert y.min() >= 1
    p1 = np.exp(_nb(1, 0.05, 2.0)) / (1 - np.exp(_nb(0, 0.05, 2.0)))
    assert abs((y == 1).mean() - p1) < 5 * np.sqrt(p1 * (1 - p1) / n)


def test_every_family_declares_brms_names_and_valid_links():
    from hierax.model.links import LINKS

    for family in FAMILIES.values():
        assert family.links and all(link in LINKS for link in family.links)
        for dpar in family.dpars:
            assert dpar.name in {"sigma", "shape", "nu", "phi", "zi", "hu"}
            assert dpar.link in LINKS and dpar.support in ("positive", "unit")
            assert dpar.default_prior(1.0).support == dpar.support


@pytest.mark.parametrize("name, y, phrase", [
    ("negbinomial", [0.0, 1.5, 2.0], "whole numbers"), ("hurdle_poisson", [-1.0, 0.0, 2.0], "whole numbers"),
    ("gamma", [1.0, 0.0, 2.0], "must be positive"), ("lognormal", [1.0, -2.0], "must be positive"),
    ("beta", [0.2, 1.0, 0.5], "strictly between 0 and 1"), ("beta", [0.0, 0.4], "(y * (n - 1) + 0.5) / n"),
])
def test_checks_name_rows_and_a_fix(name, y, phrase):
    family, _ = get_family(name)
    with pytest.raises(DataError, match=None) as info:
        family.check(np.asarray(y), {})
    assert phrase in str(info.value) and ("row " in str(info.value) or "rows " in str(info.value))


def test_a_misspelt_family_gets_a_suggestion():
    with pytest.raises(ModelError, match="did you mean 'negbinomial'"):
        get_family("negbinomal")


@pytest.mark.parametrize("name", ["bernoulli", "binomial"])
def test_logit_likelihood_is_exact_far_out_on_the_link_scale(name):
    """log p and log(1 - p) from one softplus (log q = log p - eta) stay within 1e-12 of SciPy's
    log_expit where p or 1 - p underflows in double precision."""
    from scipy.special import log_expit

    family, _ = get_family(name, "logit")
    eta = np.array([-745.0, -60.0, -37.0, -5.0, 0.0, 5.0, 37.0, 60.0, 745.0])
    trials = np.full(eta.shape, 7.0) if name == "binomial" else None
    y = np.array([0, 1, 1, 0, 1, 1, 0, 1, 0], dtype=float) * (3.0 if name == "binomial" else 1.0)
    n = trials if trials is not None else 1.0
    expected = y * log_expit(eta) + (n - y) * log_expit(-eta)
    got = family.log_kernel(y, {"mu": Mu(jnp.asarray(eta), "logit")}, {} if trials is None else {"trials": trials})
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_cumulative_probabilities_are_differences_of_the_cdf(link):
    """P(y = k) = F(c_k - eta) - F(c_{k-1} - eta): against SciPy, far out in both tails too (where
    the difference of two numbers near 1 would lose every digit)."""
    family, _ = get_family("cumulative", link)
    cdf = stats.logistic.cdf if link == "logit" else stats.norm.cdf
    logcdf = stats.logistic.logcdf if link == "logit" else stats.norm.logcdf
    thresholds = np.array([-1.2, 0.3, 2.0])
    eta = np.array([-3.0, 0.0, 0.7, 2.5, 40.0, -40.0, 40.0])
    y = np.array([1.0, 2.0, 3.0, 4.0, 4.0, 1.0, 3.0])
    cuts = np.r_[-np.inf, thresholds, np.inf]
    upper, lower = cuts[y.astype(int)] - eta, cuts[y.astype(int) - 1] - eta
    # on the side of the median where the difference keeps its digits
    with np.errstate(divide="ignore"):         # np.where evaluates the unused side too
        expected = np.where(upper + lower < 0, logcdf(upper) + np.log1p(-np.exp(logcdf(lower) - logcdf(upper))),
                            logcdf(-lower) + np.log1p(-np.exp(logcdf(-upper) - logcdf(-lower))))
    np.testing.assert_allclose(np.exp(expected[:4]), cdf(upper[:4]) - cdf(lower[:4]), rtol=1e-12)
    got = family.log_likelihood(y, {"mu": Mu(jnp.asarray(eta), link), "thresholds": jnp.asarray(thresholds)}, {})
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_cumulative_simulator_and_mean_match_its_probabilities():
    family, _ = get_family("cumulative")
    n = 200_000
    params = {"mu": Mu(jnp.full(n, 0.4), "logit"), "thresholds": jnp.asarray([-1.0, 0.5, 1.5])}
    y = np.asarray(family.sample(jax.random.key(7), params, {}))
    for k in range(1, 5):
        p = float(np.exp(family.log_likelihood(np.array([float(k)]), {"mu": Mu(jnp.full(1, 0.4), "logit"),
                                                                    "thresholds": params["thresholds"]}, {}))[0])
        assert abs((y == k).mean() - p) < 5 * np.sqrt(p * (1 - p) / n)
    assert abs(y.mean() - float(np.asarray(family.mean(params, {}))[0])) < 5 * y.std() / np.sqrt(n)


@pytest.mark.parametrize("y, phrase", [([1.0, 2.5, 3.0], "whole numbers 1, 2, ..., K"), ([0.0, 1.0, 2.0], "row 0 is not"),
                                       ([1.0, 2.0, 4.0, 4.0], "no rows in categories [3] of 1..4"),
                                       ([1.0, 1.0], "at least two categories")])
def test_cumulative_response_checks(y, phrase):
    family, _ = get_family("cumulative")
    with pytest.raises(DataError) as info:
        family.check(np.asarray(y), {})
    assert phrase in str(info.value)
