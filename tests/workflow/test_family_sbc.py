"""Simulation-based calibration of the new families (issue 16): negbinomial, beta, cumulative
(4 categories), and a gaussian model with a formula for sigma.

Each model is small (8 groups of 5 rows, ``y ~ x + (1 | g)``) with proper, moderately informative
priors, so that prior draws give data the model is meant for (brms's vague Gamma(0.01, 0.01) on a
shape would put many draws at shapes of 1e-30 or 1e+30). 60 data sets are drawn from the prior
and fitted; the true values' ranks among the thinned posterior draws must be uniform by both of
``SBCResult.uniformity``'s tests at a Bonferroni threshold (``passed``). A simulator, density or
constraining map that disagree shift the ranks (``test_simulation.py`` shows a wrong prior failing).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierax as hx

RNG = np.random.default_rng(16)
DATA = pd.DataFrame({"x": RNG.normal(size=40), "g": np.repeat(list("abcdefgh"), 5)})
COMMON = {"b": hx.Normal(0, 0.5), "sd": hx.HalfNormal(0.5)}
MODELS = {
    "negbinomial": (DATA.assign(y=RNG.poisson(3.0, 40)),
                    {**COMMON, "Intercept": hx.Normal(1.0, 0.5), "shape": hx.Gamma(4.0, 1.0)}),
    "beta": (DATA.assign(y=RNG.beta(2.0, 3.0, 40)),
             {**COMMON, "Intercept": hx.Normal(0.0, 0.5), "phi": hx.Gamma(10.0, 1.0)}),
    # the thresholds' prior: iid N(0, 1.5), ordered (sorted draws are exact draws of that prior)
    "cumulative": (DATA.assign(y=1 + np.arange(40) % 4), {**COMMON, "Intercept": hx.Normal(0.0, 1.5)}),
}


@pytest.mark.parametrize("family", sorted(MODELS))
def test_sbc_of_a_new_family_is_uniform(family):
    data, priors = MODELS[family]
    model = hx.model("y ~ x + (1 | g)", data, family=family, priors=priors)
    result = hx.sbc(model, num_simulations=60, warmup=200, draws=210, thin=3, seed=5, progress=False)
    assert result.ranks.shape == (60, 7 + (family == "cumulative"))   # 2 fixed, sd, shape or phi, 3 effects; 3 thresholds
    assert result.passed(), result.uniformity()
    assert np.sum(result.divergent) <= 6, result.divergent


def test_sbc_of_a_sigma_formula_is_uniform():
    """sigma ~ x: log sigma_i = c0 + c1 x_i, the coefficients on the log scale."""
    data = DATA.assign(y=RNG.normal(size=40))
    priors = {**COMMON, "Intercept": hx.Normal(0.0, 1.0), "Intercept_sigma": hx.Normal(0.0, 0.5),
              "b_sigma": hx.Normal(0.0, 0.3)}
    model = hx.model(hx.bf("y ~ x + (1 | g)", sigma="~ x"), data, priors=priors)
    result = hx.sbc(model, num_simulations=60, warmup=200, draws=210, thin=3, seed=6, progress=False)
    assert list(result.ranks.columns[:4]) == ["(Intercept)", "x", "sigma_(Intercept)", "sigma_x"]
    assert result.passed(), result.uniformity()
    assert np.sum(result.divergent) <= 6, result.divergent
