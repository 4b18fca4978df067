"""The registry of methods (``hierax.api.ENGINES``): ``fit`` looks a method up, passes the arguments
its entry declares, and says what a method ignores; each entry is consistent with ``fit``."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.api import ENGINES, METHODS, NUTS_SETTINGS
from hierax.cli import args as cli_args

DATA = pd.DataFrame({"y": np.sin(np.arange(24.0)), "x": np.arange(24.0) / 24, "g": list("abcd") * 6})
FIT_ARGUMENTS = set(inspect.signature(hx.fit).parameters)


def test_the_methods_are_the_registrys_keys_everywhere():
    assert METHODS == tuple(ENGINES) == cli_args.METHODS


@pytest.mark.parametrize("method", METHODS)
def test_an_entry_passes_arguments_its_function_takes(method):
    """Every declared argument is one of fit's and one fit_fn takes; every one fit_fn needs is declared."""
    engine = ENGINES[method]
    parameters = inspect.signature(engine.fit_fn).parameters
    required = {name for name, p in parameters.items() if p.default is inspect.Parameter.empty}
    assert set(engine.arguments) <= FIT_ARGUMENTS and set(engine.arguments) <= set(parameters)
    assert required <= set(engine.arguments)


def test_an_unknown_method_is_refused_with_every_registered_one():
    for method in ("vb", None, ["nuts"]):
        with pytest.raises(hx.ModelError, match=f"unknown method .*; available: {', '.join(METHODS)}$"):
            hx.fit("y ~ x + (1 | g)", DATA, method=method)


@pytest.mark.parametrize("method", [m for m in METHODS if not ENGINES[m].takes_nuts_settings])
def test_a_warm_start_is_refused_before_fitting_by_a_method_without_the_sampler(method):
    with pytest.raises(hx.HieraxError, match=f"warm_start is for method='nuts' .* not '{method}'"):
        hx.fit("y ~ x + (1 | g)", DATA, method=method, warm_start=object())


def test_nuts_alone_takes_the_sampler_settings():
    assert [m for m in METHODS if ENGINES[m].takes_nuts_settings] == ["nuts"]
    assert set(NUTS_SETTINGS) <= FIT_ARGUMENTS


def test_a_method_without_priors_says_it_ignored_them():
    fit = hx.fit("y ~ x + (1 | g)", DATA, method="reml", priors={"b": hx.Normal(0, 1)})
    assert not ENGINES["reml"].takes_priors
    assert fit.warnings[-1] == "priors are not used by method='reml' (they apply to method='nuts')"


def test_nuts_warnings_point_at_the_caller_of_fit():
    """NUTS is composed one frame below fit; its warnings still name the line that called fit."""
    with pytest.warns(UserWarning, match="too few for ESS") as caught:
        hx.fit("y ~ x + (1 | g)", DATA, chains=1, warmup=20, draws=2, seed=0)
    assert caught[0].filename == __file__
