"""Censored and truncated log-likelihoods (``hierax.density.incomplete``) against SciPy, row by row,
for every family that takes them, with every censoring code and bounds on some rows only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from hierax.density.logdensity import make_pointwise_loglik
from hierax.design import build_design
from hierax.formula import parse_formula
from hierax.model import specify

N = 24
RNG = np.random.default_rng(11)
X = RNG.normal(size=N)
CODES = np.tile(["none", "right", "left", "interval"], N // 4)


def _frozen(family, eta, dpar):
    """SciPy's distribution of each row, in brms's parametrisation (hierax.model.families.cdf)."""
    mu = np.exp(eta)
    return {
        "gaussian": lambda: stats.norm(eta, dpar),
        "lognormal": lambda: stats.lognorm(s=dpar, scale=np.exp(eta)),
        "exponential": lambda: stats.expon(scale=mu),
        "weibull": lambda: stats.weibull_min(c=dpar, scale=mu / special.gamma(1.0 + 1.0 / dpar)),
        "gamma": lambda: stats.gamma(a=dpar, scale=mu / dpar),
        "poisson": lambda: stats.poisson(mu),
        "negbinomial": lambda: stats.nbinom(n=dpar, p=dpar / (dpar + mu)),
    }[family]()


CASES = {   # family: (dpar name, its value, beta, response maker)
    "gaussian": ("sigma", 1.3, [0.5, 0.8], lambda d: d.rvs(random_state=1)),
    "lognormal": ("sigma", 0.6, [0.5, 0.3], lambda d: d.rvs(random_state=1)),
    "exponential": (None, None, [0.5, 0.3], lambda d: d.rvs(random_state=1)),
    "weibull": ("shape", 1.7, [0.5, 0.3], lambda d: d.rvs(random_state=1)),
    "gamma": ("shape", 2.5, [0.5, 0.3], lambda d: d.rvs(random_state=1)),
    "poisson": (None, None, [1.5, 0.3], lambda d: d.rvs(random_state=1).astype(float)),
    "negbinomial": ("shape", 3.0, [1.5, 0.3], lambda d: d.rvs(random_state=1).astype(float)),
}


def _data(family):
    name, value, beta, draw = CASES[family]
    eta = beta[0] + beta[1] * X
    dist = _frozen(family, eta, value)
    y = draw(dist)
    discrete = family in ("poisson", "negbinomial")
    y2 = y + (1.0 if discrete else 0.7)
    lower = np.where(np.arange(N) % 3 == 0, np.floor(y * 0.5) if discrete else np.where(y > 0, y * 0.5, y * 1.5), -np.inf)
    upper = np.where(np.arange(N) % 2 == 0, y2 + (2.0 if discrete else 1.5), np.inf)
    data = pd.DataFrame({"y": y, "x": X, "c": CODES, "y2": y2, "lo": lower, "hi": upper})
    return data, dist, eta


def _expected(dist, data, discrete):
    y, y2, code = data["y"].to_numpy(), data["y2"].to_numpy(), data["c"].to_numpy()
    density = dist.logpmf(y) if discrete else dist.logpdf(y)
    out = np.select([code == "none", code == "right", code == "left"],
                    [density, dist.logsf(y), dist.logcdf(y)], np.log(dist.cdf(y2) - dist.cdf(y)))
    lo, hi = data["lo"].to_numpy(), data["hi"].to_numpy()
    below = dist.cdf(lo - 1.0) if discrete else dist.cdf(lo)
    mass = np.where(np.isfinite(hi), dist.cdf(hi), 1.0) - np.where(np.isfinite(lo), below, 0.0)
    return out - np.log(mass)


@pytest.mark.parametrize("family", list(CASES))
def test_censored_and_truncated_rows_match_scipy(family):
    name, value, beta, _ = CASES[family]
    data, dist, eta = _data(family)
    # bounds as columns with +-inf where a row has none (brms takes columns too)
    spec = specify(build_design(parse_formula("y | cens(c, y2) + trunc(lb = lo, ub = hi) ~ x"), data), family)
    params = {"beta": np.asarray(beta)} | ({name: np.asarray(value)} if name else {})
    got = np.asarray(make_pointwise_loglik(spec)(params))
    discrete = family in ("poisson", "negbinomial")
    np.testing.assert_allclose(got, _expected(dist, data, discrete), rtol=1e-9, atol=1e-10)


def test_a_model_without_censoring_codes_is_the_plain_likelihood():
    """cens() with every row 'none' and no bounds: the plain log density."""
    data, dist, _ = _data("weibull")
    data["c"] = "none"
    spec = specify(build_design(parse_formula("y | cens(c) ~ x"), data), "weibull")
    got = np.asarray(make_pointwise_loglik(spec)({"beta": np.array([0.5, 0.3]), "shape": np.array(1.7)}))
    np.testing.assert_allclose(got, dist.logpdf(data["y"]), rtol=1e-12)
