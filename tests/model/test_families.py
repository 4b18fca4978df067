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
