"""The log density against a direct computation with scipy, for each family and parameterisation."""

import jax
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import hierax as hx
from hierax.density import initial_position, make_constrain, make_logdensity
from hierax.design import build_design
from hierax.formula import parse_formula
from hierax.model import specify

RNG = np.random.default_rng(3)
DATA = pd.DataFrame({
    "x": RNG.normal(size=20),
    "g": np.repeat(list("abcde"), 4),
    "n": np.full(20, 6.0),
})
DATA["y"] = RNG.normal(size=20)
DATA["count"] = RNG.poisson(3, size=20).astype(float)
DATA["s"] = RNG.binomial(6, 0.4, size=20).astype(float)
DATA["b01"] = (DATA["s"] > 2).astype(float)

PRIORS = {"Intercept": hx.Normal(0, 2), "b": hx.Normal(0, 1), "sd": hx.HalfNormal(1), "cor": hx.LKJ(1.5)}


def expected_logdensity(spec, position, loglik):
    """log p(y | params) + log priors + log Jacobian, written out with scipy."""
    params, _ = make_constrain(spec)(position)
    beta = np.asarray(params["beta"])
    sd = np.asarray(params["sd"]["g"])
    L = np.asarray(params["cor_chol"]["g"])
    b = np.asarray(params["b"]["g"])
    block = spec.blocks[0]
    eta = spec.X @ beta + np.sum(block.Z * b[block.group_index], axis=1)
    total = loglik(eta, params)
    total += stats.norm(0, 2).logpdf(beta[0]) + stats.norm(0, 1).logpdf(beta[1:]).sum()
    total += stats.halfnorm(scale=1).logpdf(sd).sum() + np.sum(np.log(sd))  # prior + exp Jacobian
    total += (2 * 1.5 - 2) * np.log(L[1, 1])                                 # LKJ(1.5), K = 2
    raw = np.asarray(position["cor_raw"]["g"])
    total += np.sum(np.log1p(-np.tanh(raw) ** 2))                          # tanh Jacobian
    cov = np.diag(sd) @ L @ L.T @ np.diag(sd)
    if block.parameterisation == "noncentered":
        total += stats.norm.logpdf(np.asarray(position["z"]["g"])).sum()
    else:
        total += stats.multivariate_normal(np.zeros(2), cov).logpdf(b).sum()
    if spec.has_sigma:
        sigma = float(params["sigma"])
        total += stats.expon(scale=1 / spec.sigma_prior.rate).logpdf(sigma) + np.log(sigma)
    return total


CASES = [
    ("y ~ x + (1 + x | g)", "gaussian", lambda y, eta, p, d: stats.norm(eta, float(p["sigma"])).logpdf(y).sum()),
    ("count ~ x + (1 + x | g)", "poisson", lambda y, eta, p, d: stats.poisson(np.exp(eta)).logpmf(y).sum()),
    ("s | trials(n) ~ x + (1 + x | g)", "binomial",
     lambda y, eta, p, d: stats.binom(d["n"], 1 / (1 + np.exp(-eta))).logpmf(y).sum()),
    ("b01 ~ x + (1 + x | g)", "bernoulli", lambda y, eta, p, d: stats.bernoulli(1 / (1 + np.exp(-eta))).logpmf(y).sum()),
]


@pytest.mark.parametrize("parameterisation", ["noncentered", "centered"])
@pytest.mark.parametrize("formula, family, loglik", CASES)
def test_logdensity_matches_direct_computation(formula, family, loglik, parameterisation):
    spec = specify(build_design(parse_formula(formula), DATA), family, priors=PRIORS, parameterisation=parameterisation)
    position = initial_position(jax.random.PRNGKey(1), spec)
    position["cor_raw"]["g"] = position["cor_raw"]["g"] + 0.4
    got = float(make_logdensity(spec)(position))
    want = expected_logdensity(spec, position, lambda eta, p: loglik(spec.y, eta, p, DATA))
    np.testing.assert_allclose(got, want, rtol=1e-10)
