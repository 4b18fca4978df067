"""Parametric bootstrap of a REML fit (``hx.bootstrap``): the refits' fixed effects centre on the
fit's and spread as its standard errors say, and an ICC gets a percentile interval."""

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.errors import ModelError

SLEEP = pd.read_csv("/work/shared/data/teaching/sleepstudy.csv").astype({"Subject": str})


@pytest.fixture(scope="module")
def fit():
    return hx.fit("Reaction ~ Days + (Days | Subject)", SLEEP, method="reml")


def test_refits_centre_on_the_estimates_and_spread_as_their_standard_errors(fit):
    """60 refits: each fixed effect's bootstrap mean within 3.5 bootstrap se of the estimate
    (REML's beta is unbiased), and its bootstrap sd within 30% of the REML se (the sd of 60
    normal draws is within about 25% of sigma with probability 0.99)."""
    boot = hx.bootstrap(fit, lambda f: f.fixef()["estimate"], n=60, seed=2)
    table = fit.fixef()
    assert boot.failed == 0 and len(boot.draws) == 60
    means, sds = boot.draws.mean(), boot.draws.std(ddof=1)
    for term in table.index:
        assert abs(means[term] - table.loc[term, "estimate"]) < 3.5 * sds[term] / np.sqrt(60)
        assert sds[term] == pytest.approx(table.loc[term, "se"], rel=0.3)


def test_an_icc_gets_a_percentile_interval(fit):
    boot = hx.bootstrap(fit, lambda f: f.icc(), n=30, seed=3)
    interval = boot.interval(level=0.8)
    assert list(interval.columns) == ["estimate", "sd", "q10", "q90"]
    assert np.all(interval["q10"] <= interval["q90"])
    assert interval.attrs["method"] == "parametric bootstrap, 30 refits"


@pytest.mark.parametrize("n, message", [(1, "at least 2"), (2.5, "at least 2")])
def test_bad_requests(fit, n, message):
    with pytest.raises(ModelError, match=message):
        hx.bootstrap(fit, lambda f: f.icc(), n=n)


def test_a_nuts_fit_is_refused():
    nuts = hx.fit("Reaction ~ Days + (1 | Subject)", SLEEP, chains=1, warmup=30, draws=10, seed=1, progress=False)
    with pytest.raises(ModelError, match="posterior draws give intervals"):
        hx.bootstrap(nuts, lambda f: f.icc())
