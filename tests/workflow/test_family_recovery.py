"""Every family, simulated then fitted: its 90% intervals cover the truth at the nominal rate.

One data set per family (400 rows, 25 groups, ``y ~ x + (1 | g)``; cumulative with 4 categories) from known parameters, fitted
by NUTS with short chains. The intervals of all families' parameters are pooled: with about 60
of them, a count of covered intervals outside the binomial 0.1%-99.9% range of the nominal 90%
means a family's density, simulator and link disagree somewhere (a wrong parametrisation
typically leaves its parameter's interval far from the truth in every data set).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import hierax as hx
from hierax.model.families import FAMILIES

BASE = {"(Intercept)": 0.3, "x": 0.5, "sd[g][(Intercept)]": 0.4}
# the family's parameters, the intercept where its scale calls for another, and a valid placeholder response
TRUTHS = {
    "gaussian": ({"sigma": 0.8}, {}, 0.0),
    "student": ({"sigma": 0.6, "nu": 6.0}, {}, 0.0),
    "lognormal": ({"sigma": 0.5}, {}, 1.0),
    "gamma": ({"shape": 4.0}, {}, 1.0),
    "weibull": ({"shape": 2.0}, {}, 1.0),
    "exponential": ({}, {}, 1.0),
    "beta": ({"phi": 12.0}, {"(Intercept)": -0.2}, 0.5),
    "bernoulli": ({}, {}, 0.0),
    "binomial": ({}, {}, 1.0),
    "poisson": ({}, {"(Intercept)": 1.0}, 1.0),
    "negbinomial": ({"shape": 3.0}, {"(Intercept)": 1.0}, 1.0),
    "zero_inflated_poisson": ({"zi": 0.3}, {"(Intercept)": 1.0}, 1.0),
    "zero_inflated_negbinomial": ({"shape": 4.0, "zi": 0.25}, {"(Intercept)": 1.2}, 1.0),
    "hurdle_poisson": ({"hu": 0.4}, {"(Intercept)": 1.0}, 1.0),
    "hurdle_negbinomial": ({"shape": 3.0, "hu": 0.3}, {"(Intercept)": 1.0}, 1.0),
    # thresholds take the intercept's place; the placeholder's categories 1..4
    "cumulative": ({}, {"(Intercept)": None, "Intercept[1]": -1.0, "Intercept[2]": 0.3, "Intercept[3]": 1.5}, 4.0),
}


def _data(placeholder: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(400) % 2 == 0, placeholder, 0.5 * placeholder if placeholder < 1 else placeholder + 1)
    y = 1 + np.arange(400) % 4 if placeholder == 4.0 else y
    return pd.DataFrame({"y": y if placeholder else np.arange(400) % 2, "x": rng.normal(size=400),
                         "g": np.repeat(np.arange(25), 16), "n": 8.0})


def test_every_family_is_in_the_table():
    assert set(TRUTHS) == set(FAMILIES)


@pytest.fixture(scope="module")
def recoveries():
    tables = {}
    for k, (name, (dpars, base, placeholder)) in enumerate(TRUTHS.items()):
        formula = "y | trials(n) ~ x + (1 | g)" if name == "binomial" else "y ~ x + (1 | g)"
        with warnings.catch_warnings():         # the placeholder response's two values
            warnings.simplefilter("ignore", UserWarning)
            model = hx.model(formula, _data(placeholder, k), family=name)
        truth = {k: v for k, v in {**BASE, **base, **dpars}.items() if v is not None}
        tables[name] = hx.recover(model, truth, seed=100 + k, chains=2, warmup=400, draws=400)
    return tables


def test_intervals_cover_the_truth_at_the_nominal_rate(recoveries):
    table = pd.concat({name: pd.DataFrame(t.to_dict()) for name, t in recoveries.items()}, names=["family"])
    covered, total = int(table["covered"].sum()), len(table)
    low, high = stats.binom.ppf([0.001, 0.999], total, 0.9)
    assert low <= covered <= high, table[~table["covered"]]


def test_each_fit_converged(recoveries):
    for name, table in recoveries.items():
        fit = table.attrs["fit"]
        summary = fit.summary()
        assert summary["r_hat"].max() < 1.05, (name, summary)
        assert int(fit.idata.sample_stats["diverging"].sum()) <= 2, name
