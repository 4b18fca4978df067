"""Recovery of a slope when its predictor is missing at random (issue 18, acceptance 1): 30% of x
missing, more often where the outcome is high.

The missingness depends on observed data only (the outcome y), so it is ignorable for a joint
model of y and x, and ``mi(x)`` (``hx.bf("y ~ mi(x) + (1 | g)") + hx.bf("x | mi() ~ z")``)
recovers the slope. Complete-case analysis is not: selecting rows on y flattens the regression
of y on x (rows with high y are dropped, and among them those with high x most), so its slope is
biased towards zero. (Missingness that depends only on covariates of the outcome's model would
leave complete-case slopes unbiased: that is why the mechanism here depends on y.)

Data: 30 groups of 10, z ~ N(0, 1), x = 0.6 z + N(0, 0.8^2), y = 1 + 1 x + u_g + N(0, 1),
u_g ~ N(0, 0.5^2); 90 of the 300 rows lose x, drawn without replacement with weights
exp(2 standardised y). Over 200 simulated data sets the complete-case least-squares slope is
biased by -0.24 (its sd 0.08).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import hierax as hx

pytestmark = pytest.mark.sampling
SLOPE, REPLICATES, SETTINGS = 1.0, 40, {"chains": 2, "warmup": 300, "draws": 300}


def simulate(seed: int, n: int = 300, levels: int = 30, missing: int = 90) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(levels), n // levels)
    z = rng.normal(size=n)
    x = 0.6 * z + rng.normal(0, 0.8, n)
    y = 1.0 + SLOPE * x + rng.normal(0, 0.5, levels)[g] + rng.normal(0, 1.0, n)
    weight = np.exp(2.0 * (y - y.mean()) / y.std())
    gone = rng.choice(n, missing, replace=False, p=weight / weight.sum())
    x_seen = x.copy()
    x_seen[gone] = np.nan
    return pd.DataFrame({"y": y, "x": x_seen, "z": z, "g": g.astype(str), "x_true": x})


def _slope(fit, name: str) -> pd.Series:
    return fit.summary().loc[name, ["estimate", "q05", "q95"]]


def test_mi_recovers_the_slope_where_complete_cases_are_biased():
    model = hx.bf("y ~ mi(x) + (1 | g)") + hx.bf("x | mi() ~ z")
    joint, complete, imputed_covered = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # short runs: ESS warnings are expected, the coverage is the test
        for r in range(REPLICATES):
            data = simulate(1000 + r)
            fit = hx.fit(model, data.drop(columns="x_true"), seed=r, **SETTINGS)
            joint.append(_slope(fit, "mi(x)"))
            complete.append(_slope(hx.fit("y ~ x + (1 | g)", data.dropna(), seed=r, **SETTINGS), "x"))
            table = fit.imputed("x")
            truth = data.loc[table.index, "x_true"]
            imputed_covered.append(np.mean((truth >= table["q05"]) & (truth <= table["q95"])))
    joint, complete = pd.DataFrame(joint), pd.DataFrame(complete)
    covered = int(((joint["q05"] <= SLOPE) & (SLOPE <= joint["q95"])).sum())
    # nominal 90%: Binomial(40, 0.9) is below 32 with probability 0.009
    assert covered >= 32, covered
    assert abs(joint["estimate"].mean() - SLOPE) < 4 * joint["estimate"].std() / np.sqrt(REPLICATES)
    # the complete-case slope: biased towards zero, its 90% intervals missing the truth most of the time
    assert complete["estimate"].mean() - SLOPE < -0.15
    assert int(((complete["q05"] <= SLOPE) & (SLOPE <= complete["q95"])).sum()) <= 20
    # the imputed values: each data set's 90% intervals cover about 90% of the true x (27 of 90 would
    # be chance for intervals unrelated to the truth)
    assert 0.8 <= np.mean(imputed_covered) <= 0.97
