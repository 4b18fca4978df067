"""Bad-input table for variance components, ICC and R² (``fit.variance_components()``,
``fit.icc()``, ``fit.r2()``; issue 19). See ``conftest.py`` for what a row asserts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.errors import ModelError

from .conftest import Case, params, run_case

RNG = np.random.default_rng(19)
N = 60
DATA = pd.DataFrame({"y": RNG.normal(size=N), "pos": RNG.gamma(2.0, 1.0, N), "x": RNG.normal(size=N),
                     "w": RNG.uniform(0.5, 2.0, N), "g": np.repeat(list("abcdef"), 10)})


def _nuts(formula, family="gaussian"):
    return hx.fit(formula, DATA, family=family, chains=1, warmup=40, draws=10, seed=1, progress=False)


CASES = [
    Case("icc_without_group_terms", lambda: _nuts("y ~ x").icc(), ModelError, "no group terms", "(1 | g)"),
    Case("r2_of_a_gamma_model", lambda: _nuts("pos ~ x + (1 | g)", "gamma").r2(), ModelError,
         "not available yet for the gamma family", "gaussian (identity)"),
    Case("components_with_weights", lambda: _nuts("y | weights(w) ~ x + (1 | g)").variance_components(), ModelError,
         "weights, an offset", "fit.varcorr()"),
    Case("icc_of_a_reml_fit", lambda: hx.fit("y ~ x + (1 | g)", DATA, method="reml").icc(), None,
         check=lambda table: list(table.index) == ["adjusted", "unadjusted"]),
]


@pytest.mark.parametrize("case", params(CASES))
def test_variance_input(case):
    run_case(case)
