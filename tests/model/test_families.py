"""Families: normalised log-likelihoods (kernel plus the data-only constant) against SciPy."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from hierax.model.families import get_family


@pytest.mark.parametrize("name, link", [("poisson", "log"), ("binomial", "logit"), ("binomial", "probit"),
                                        ("bernoulli", "logit"), ("gaussian", "identity")])
def test_log_likelihood_is_the_normalised_density(name, link):
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
    sigma = 1.5 if name == "gaussian" else None
    np.testing.assert_allclose(family.log_likelihood(y, jnp.asarray(eta), sigma, trials, link), expected, rtol=1e-10)
    # the constant on host arrays (SciPy) and on JAX arrays agree: samplers use the first, traces the second
    np.testing.assert_allclose(np.asarray(family.log_constant(jnp.asarray(y), None if trials is None else jnp.asarray(trials))),
                               family.log_constant(y, trials), rtol=1e-12)


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
    got = family.log_kernel(y, jnp.asarray(eta), None, trials, "logit")
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
