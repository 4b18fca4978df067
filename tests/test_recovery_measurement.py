"""Recovery of a slope when its predictor is measured with error of known sd (issue 18,
acceptance 1): reliability 0.5, ``y ~ me(x, sdx) + (1 | g)`` against the naive ``y ~ x + (1 | g)``.

Data: 20 groups of 10, true x ~ N(0, 1), y = 1 + 1 x + u_g + N(0, 0.5^2), u_g ~ N(0, 0.5^2);
measured x = true x + N(0, 1): var(true x) / var(measured x) = 0.5. The naive slope is attenuated
by the reliability, to about 0.5; me() models the true values (their population ~ N(mu, s^2),
each measured with sd 1) and recovers 1.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import hierax as hx

pytestmark = pytest.mark.sampling
SLOPE, REPLICATES, SETTINGS = 1.0, 25, {"chains": 2, "warmup": 300, "draws": 300}


def simulate(seed: int, n: int = 200, levels: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(levels), n // levels)
    x = rng.normal(size=n)
    y = 1.0 + SLOPE * x + rng.normal(0, 0.5, levels)[g] + rng.normal(0, 0.5, n)
    return pd.DataFrame({"y": y, "xo": x + rng.normal(0, 1.0, n), "sdx": 1.0, "g": g.astype(str), "x_true": x})


def test_me_recovers_the_slope_the_naive_fit_attenuates_by_half():
    corrected, naive, true_error = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # short runs: ESS warnings are expected, the coverage is the test
        for r in range(REPLICATES):
            data = simulate(2000 + r)
            fit = hx.fit("y ~ me(xo, sdx) + (1 | g)", data.drop(columns="x_true"), seed=r, **SETTINGS)
            corrected.append(fit.summary().loc["me(xo, sdx)", ["estimate", "q05", "q95", "r_hat"]])
            naive.append(hx.fit("y ~ xo + (1 | g)", data, seed=r, **SETTINGS).summary().loc["xo", ["estimate", "q05",
                                                                                              "q95"]])
            table = fit.imputed("xo")              # the true values, estimated
            true_error.append(np.sqrt(np.mean((table["estimate"] - data["x_true"]) ** 2)))
    corrected, naive = pd.DataFrame(corrected), pd.DataFrame(naive)
    covered = int(((corrected["q05"] <= SLOPE) & (SLOPE <= corrected["q95"])).sum())
    assert covered >= 19, covered                 # Binomial(25, 0.9) is below 19 with probability 0.01
    assert abs(corrected["estimate"].median() - SLOPE) < 0.1
    assert corrected["r_hat"].max() < 1.05
    # the naive slope: attenuated by the reliability, about half, its intervals missing the truth
    assert 0.4 < naive["estimate"].mean() < 0.6
    assert int(((naive["q05"] <= SLOPE) & (SLOPE <= naive["q95"])).sum()) <= 2
    # the true values' posterior means: far nearer the truth than the measurements (rms error 1),
    # since the outcome informs them too
    assert np.mean(true_error) < 0.7
