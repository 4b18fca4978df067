"""Data in any units: a response at 1e-8, 1e6 or 1e7 times sleepstudy's fits under NUTS with the
default priors and gives the unit-scale posterior, rescaled.

The default priors are scale-free (their scales keep significant digits, not decimals), so the
rescaled posterior is exactly the unit-scale one; the test compares posterior means and sds within
their Monte Carlo error (REML's exact equivariance is in ``tests/bad_input/test_model_input.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hierax as hx

SHARED = Path(__file__).resolve().parents[2] / "shared"
FORMULA = "Reaction ~ Days + (Days | Subject)"
SETTINGS = {"chains": 4, "warmup": 500, "draws": 500, "seed": 11}
SCALED = ["(Intercept)", "Days", "sd[Subject][(Intercept)]", "sd[Subject][Days]", "sigma"]


@pytest.fixture(scope="module")
def sleepstudy():
    return pd.read_csv(SHARED / "data" / "teaching" / "sleepstudy.csv")


@pytest.fixture(scope="module")
def unit(sleepstudy):
    return hx.fit(FORMULA, sleepstudy, **SETTINGS).summary()


@pytest.mark.sampling
@pytest.mark.parametrize("factor", [1e-8, 1e6, 1e7])
def test_nuts_posterior_is_rescaled_with_the_data(sleepstudy, unit, factor):
    fit = hx.fit(FORMULA, sleepstudy.assign(Reaction=sleepstudy.Reaction * factor), **SETTINGS)
    assert not [w for w in fit.warnings if "diverg" in w], fit.warnings
    scaled = fit.summary()
    divide = pd.Series(1.0, index=scaled.index)
    divide[SCALED] = factor
    mean, mcse = scaled["estimate"] / divide, scaled["mcse"] / divide
    # 4.5 combined Monte Carlo standard errors: a false alarm in about 1 of 150,000 comparisons
    bound = 4.5 * np.sqrt(mcse**2 + unit["mcse"] ** 2)
    assert (np.abs(mean - unit["estimate"]) < bound).all(), pd.DataFrame({"scaled": mean, "unit": unit["estimate"],
                                                                          "bound": bound})
    # the posterior sds agree to within sampling error of an sd estimate (about 1/sqrt(2 ESS))
    ratio = (scaled["sd"] / divide) / unit["sd"]
    ess = np.minimum(scaled["ess_bulk"], unit["ess_bulk"])
    assert (np.abs(np.log(ratio)) < 4.5 * np.sqrt(1.0 / ess)).all(), ratio
