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


def _logistic_data():
    rng = np.random.default_rng(1)
    g = rng.integers(0, 20, 400)
    x = rng.normal(size=400)
    y = rng.binomial(1, 1 / (1 + np.exp(-(-0.3 + 0.8 * x + rng.normal(0, 0.7, 20)[g]))))
    return pd.DataFrame({"y": y, "x": x, "g": g.astype(str)})


@pytest.mark.sampling
@pytest.mark.parametrize("factor", [1e6, 1e-6])
def test_nuts_on_a_predictor_in_other_units(factor):
    """A predictor in dollars (x 1e6) in a logistic model: the slope is sampled on unit scale
    (``hierax/model/scaling.py``), so the fit mixes as at unit scale and gives its posterior, the
    slope divided by the factor. Before, every draw hit the maximum tree depth, with a bulk ESS of 4."""
    data = _logistic_data()
    options = {"family": "bernoulli", "chains": 4, "warmup": 500, "draws": 500, "seed": 3}
    unit = hx.fit("y ~ x + (1 | g)", data, **options).summary()
    fit = hx.fit("y ~ x + (1 | g)", data.assign(x=data.x * factor), **options)
    assert not fit.warnings, fit.warnings
    scaled = fit.summary()
    scaled.loc["x", ["estimate", "mcse"]] *= factor
    bound = 4.5 * np.sqrt(scaled["mcse"] ** 2 + unit["mcse"] ** 2)
    assert (np.abs(scaled["estimate"] - unit["estimate"]) < bound).all(), pd.DataFrame(
        {"scaled": scaled["estimate"], "unit": unit["estimate"], "bound": bound})
    assert scaled["ess_bulk"].min() > 400


def test_only_columns_far_from_unit_scale_are_rescaled():
    from hierax.design import build_design
    from hierax.formula import parse_formula
    from hierax.model import specify
    from hierax.model.scaling import unit_scaled

    data = _logistic_data().assign(dollars=lambda d: np.random.default_rng(2).normal(size=len(d)) * 1e6)
    spec = specify(build_design(parse_formula("y ~ x + dollars + (1 | g)"), data), "bernoulli",
                   priors={"b[dollars]": hx.StudentT(3, 2e-6, 1e-6)})
    scaled, scale = unit_scaled(spec)
    rms = np.sqrt(np.mean(data.dollars**2))
    assert scale[0] == 1.0 and scale[1] == 1.0 and scale[2] == 2.0 ** round(np.log2(rms))   # the nearest power of two
    assert 2**-0.5 <= scale[2] / rms <= 2**0.5
    np.testing.assert_array_equal(scaled.X[:, 2] * scale[2], spec.X[:, 2])    # exact: X / s has the same bits anywhere
    assert scaled.fixed_priors[:2] == spec.fixed_priors[:2]
    assert scaled.fixed_priors[2] == hx.StudentT(3, 2e-6 * scale[2], 1e-6 * scale[2])
    unit_spec = specify(build_design(parse_formula("y ~ x + (1 | g)"), data), "bernoulli")
    assert unit_scaled(unit_spec)[0] is unit_spec
