"""Prior draws have the distributions the priors state (KS tests) and simulate sensible data."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import hierax as hx

# 12 rows for 4 levels: with 8, a gaussian (1 + x | g) would have an effect per row, which
# hierax refuses as lme4 does (the group and residual variances are not identified)
DATA = pd.DataFrame({"y": [0, 1, 3, 2, 5, 4, 1, 0, 2, 3, 1, 4], "x": np.linspace(-1, 1, 12), "g": list("abcd") * 3,
                     "n": [6] * 12})
PRIORS = {"Intercept": hx.Normal(1, 2), "b": hx.Normal(0, 0.5), "sd": hx.HalfNormal(0.7), "cor": hx.LKJ(3)}


def test_prior_draws_follow_the_stated_priors():
    prior = hx.sample_prior("y ~ x + (1 + x | g)", DATA, priors=PRIORS | {"sigma": hx.Exponential(2)},
                            draws=3000, seed=5).prior
    checks = [
        (prior["beta"].sel(fixed="(Intercept)"), stats.norm(1, 2)),
        (prior["beta"].sel(fixed="x"), stats.norm(0, 0.5)),
        (prior["sd_g"].sel(g__term="x"), stats.halfnorm(scale=0.7)),
        (prior["sigma"], stats.expon(scale=0.5)),
        ((prior["cor_g"][..., 0] + 1) / 2, stats.beta(3, 3)),  # LKJ(3), K = 2
    ]
    for draws, dist in checks:
        assert stats.kstest(np.ravel(draws.values), dist.cdf).pvalue > 0.001


@pytest.mark.parametrize("formula, family", [
    ("y ~ x + (1 | g)", "poisson"),
    ("y | trials(n) ~ x + (1 | g)", "binomial"),
])
def test_prior_predictive_respects_the_family(formula, family):
    idata = hx.sample_prior(formula, DATA, family=family, priors={"sd": hx.HalfNormal(1)}, draws=200, seed=1)
    y = idata.prior_predictive["y"].values
    assert y.shape == (1, 200, len(DATA)) and np.all(y >= 0) and np.all(y == np.round(y))
    if family == "binomial":
        assert np.all(y <= 6)
