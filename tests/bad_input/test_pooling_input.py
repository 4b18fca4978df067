"""Bad input to ``hx.pool_fits`` (fits of multiply imputed data sets, pooled): what is not a
list of fits of one model by one kind of engine is refused, naming the problem and the fix."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.errors import HieraxError

from .conftest import Case, params, run_case

DATA = pd.DataFrame({"y": np.random.default_rng(0).normal(size=12), "x": np.arange(12.0), "g": list("abc") * 4})
TINY = dict(chains=2, warmup=50, draws=50, seed=1)


@functools.cache
def reml(formula="y ~ x + (1 | g)", shift=0.0):
    return hx.fit(formula, DATA.assign(y=DATA["y"] + shift), method="reml")


@functools.cache
def nuts(draws=50, shift=0.0):
    return hx.fit("y ~ x + (1 | g)", DATA.assign(y=DATA["y"] + shift), **{**TINY, "draws": draws})


def pool(make, **settings):
    """A call of ``hx.pool_fits`` on the fits ``make()`` returns (made when the case runs)."""
    return lambda: hx.pool_fits(list(make()), **settings)


CASES = [
    Case("pool-one-fit-not-a-list", lambda: hx.pool_fits(reml()), HieraxError, "takes a list of fits",
         "hx.pool_fits([fit1, fit2, ...])"),
    Case("pool-a-dataframe", lambda: hx.pool_fits([DATA, DATA]), HieraxError, "got DataFrame", "hx.fit's results"),
    Case("pool-a-single-fit", pool(lambda: [reml()]), HieraxError, "(got 1)", "two or more imputed data sets"),
    Case("pool-map-fits", pool(lambda: [hx.fit("y ~ x + (1 | g)", DATA, method="map", seed=1)] * 2), HieraxError,
         "a map fit", "method='nuts', or by 'reml'"),
    Case("pool-nuts-with-reml", pool(lambda: [reml(), nuts()]), HieraxError, "fits of one kind",
         "all by nuts (their draws mixed)"),
    Case("pool-different-formulas", pool(lambda: [reml(), reml("y ~ 1 + (1 | g)")]), HieraxError,
         "differs from fit 1 in its formula", "one model fitted to each imputed data set"),
    Case("pool-nuts-different-draws", pool(lambda: [nuts(), nuts(draws=60)]), HieraxError,
         "different numbers of chains and draws", "same chains, warmup and draws"),
    Case("pool-nuts-dfcom", pool(lambda: [nuts(), nuts(shift=1.0)], dfcom=10), HieraxError,
         "dfcom is a setting of rubin's rules", "leave it out"),
    Case("pool-dfcom-negative", pool(lambda: [reml(), reml(shift=1.0)], dfcom=-2), HieraxError,
         "got -2", "float('inf')"),
    Case("pool-dfcom-text", pool(lambda: [reml(), reml(shift=1.0)], dfcom="10"), HieraxError,
         "got '10'", "positive number"),
    Case("pool-level-above-one", pool(lambda: [reml(), reml(shift=1.0)], level=95), HieraxError,
         "got 95", "between 0 and 1"),
]


@pytest.mark.parametrize("case", params(CASES))
def test_bad_pooling_input(case):
    run_case(case)
