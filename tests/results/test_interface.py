"""One result interface (``hierax.results.base.FittedModel``): every method in the engine registry
gives a fit with the same tables, laid out alike, and properties that say what it holds.

The fits are tiny (plumbing, not statistics): 40 rows in 5 groups, NUTS with 2 chains of 20 draws.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.api import ENGINES, METHODS
from hierax.results.base import FittedModel
from hierax.results.fitresult import FitResult
from hierax.results.mixedfit import MixedFit

RNG = np.random.default_rng(3)
GROUPS = np.repeat(list("abcde"), 8)
EFFECTS = dict(zip("abcde", RNG.normal(0, 0.7, 5)))
X = RNG.normal(size=40)
ETA = 0.3 + 0.5 * X + np.array([EFFECTS[g] for g in GROUPS])
DATA = pd.DataFrame({"x": X, "g": GROUPS, "y": ETA + RNG.normal(0, 0.5, 40), "k": RNG.poisson(np.exp(ETA))})
GAUSSIAN = dict(formula="y ~ x + (1 | g)", family="gaussian")
# The model each method is tested on: a new method in ENGINES needs its row here.
MODELS = {
    "nuts": GAUSSIAN | dict(chains=2, warmup=30, draws=20, seed=1),
    "map": GAUSSIAN | dict(seed=1),
    "reml": GAUSSIAN,
    "ml": GAUSSIAN,
    "laplace": dict(formula="k ~ x + (1 | g)", family="poisson"),
}
HOLDS = {  # method: (has_draws, has_idata)
    "nuts": (True, True), "map": (False, True), "reml": (False, False), "ml": (False, False),
    "laplace": (False, False),
}


@pytest.fixture(scope="module", params=METHODS)
def fit(request):
    method = request.param
    kwargs = MODELS[method]
    return hx.fit(kwargs["formula"], DATA, method=method, **{k: v for k, v in kwargs.items() if k != "formula"})


def test_every_registered_method_is_tested_here():
    assert set(MODELS) == set(METHODS) == set(HOLDS)


def test_each_method_gives_its_registered_result_type(fit):
    assert isinstance(fit, ENGINES[fit.method].result_type) and isinstance(fit, FittedModel)


def test_what_a_fit_holds(fit):
    assert (fit.has_draws, fit.has_idata) == HOLDS[fit.method]
    assert fit.has_idata == hasattr(fit, "idata")


@pytest.mark.parametrize("kind", [FitResult, MixedFit])
def test_each_result_type_implements_the_whole_interface(kind):
    """Nothing abstract is left, and each method takes at least the interface's arguments, in order."""
    assert not getattr(kind, "__abstractmethods__", set())
    for name in ("fixef", "ranef", "varcorr", "coef", "summary", "predict", "posterior_predictive"):
        shared = list(inspect.signature(getattr(FittedModel, name)).parameters)
        own = list(inspect.signature(getattr(kind, name)).parameters)
        assert own[:len(shared)] == shared, (kind.__name__, name)


def test_fixed_effects_are_labelled_alike(fit):
    fixef = fit.fixef()
    assert list(fixef.index) == ["(Intercept)", "x"] and fixef.index.name == "term"
    assert fixef["estimate"].dtype.kind == "f" and np.isfinite(fixef["estimate"]).all()
    assert ("sd" if fit.has_idata else "se") in fixef.columns


@pytest.mark.parametrize("table", ["ranef", "coef"])
def test_group_tables_have_one_row_per_level_and_effect(fit, table):
    frame = getattr(fit, table)()
    assert {"group", "level", "term", "estimate"} <= set(frame.columns)
    assert len(frame) == 5 and set(frame["level"]) == set("abcde") and set(frame["term"]) == {"(Intercept)"}
    assert frame["estimate"].dtype.kind == "f"


def test_coef_is_the_fixed_effect_plus_the_deviation(fit):
    intercept = fit.fixef().loc["(Intercept)", "estimate"]
    np.testing.assert_allclose(fit.coef()["estimate"], fit.ranef()["estimate"] + intercept, rtol=1e-9, atol=1e-12)


def test_varcorr_and_summary_share_their_labels(fit):
    varcorr, summary = fit.varcorr(), fit.summary()
    residual = [] if fit.family == "poisson" else ["sigma"]
    assert list(varcorr.index) == ["sd[g][(Intercept)]"] + residual
    assert {"group", "var1", "var2", "estimate"} <= set(varcorr.columns)
    assert list(summary.index[:3 + len(residual)]) == ["(Intercept)", "x", "sd[g][(Intercept)]"] + residual
    assert summary["estimate"].dtype.kind == "f"


def test_predictions_have_the_same_columns(fit):
    new = pd.DataFrame({"x": [0.0, 1.0], "g": ["a", "new"]})
    table = fit.predict(new, seed=0)
    assert list(table.columns[:4]) == ["estimate", "sd", "lower", "upper"] and len(table) == 2
    assert list(table["level[g]"]) == ["fitted", "new: sampled from the population"]
    assert (table["lower"] <= table["upper"]).all()


def test_only_a_fit_with_draws_replicates_its_data(fit):
    if fit.has_draws:
        replicated = fit.posterior_predictive(seed=0)
        assert replicated.posterior_predictive["y"].shape == (2, 20, 40)
        return
    with pytest.raises(hx.HieraxError, match="posterior_predictive needs posterior draws"):
        fit.posterior_predictive(seed=0)
