"""A missing response imputed in the fit (``y | mi() ~ ...``, ``hierax.missing``).

The joint posterior factorises as p(theta | y_obs) p(y_mis | theta), so the parameters' draws
must be exactly the complete-case fit's (same seed, same rows), and each imputed value must be a
draw of the model's distribution at that posterior draw's parameters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierax as hx

pytestmark = pytest.mark.sampling
RNG = np.random.default_rng(4)
N, LEVELS = 300, 15
G = RNG.integers(0, LEVELS, N)
G[:LEVELS] = np.arange(LEVELS)
X = RNG.normal(size=N)
TRUTH = 1.0 + 0.5 * X + RNG.normal(0, 0.7, LEVELS)[G] + RNG.normal(0, 0.5, N)
MISSING = RNG.random(N) < 0.2
MISSING[:LEVELS] = False                        # every level keeps an observed row...
LONELY = "lonely"                               # ...but one, seen only in a missing row
DATA = pd.DataFrame({"y": np.where(MISSING, np.nan, TRUTH), "x": X, "g": G.astype(str)})
DATA.loc[N - 1, ["y", "g"]] = [np.nan, LONELY]
SETTINGS = {"chains": 2, "warmup": 300, "draws": 400, "seed": 2}


@pytest.fixture(scope="module")
def fit():
    return hx.fit("y | mi() ~ x + (1 | g)", DATA, **SETTINGS)


def test_the_parameters_are_the_complete_case_posterior(fit):
    complete = hx.fit("y ~ x + (1 | g)", DATA.dropna(subset=["y"]), **SETTINGS)
    for name in ("beta", "sigma", "sd_g"):
        np.testing.assert_array_equal(fit.idata.posterior[name].values, complete.idata.posterior[name].values)


def test_each_imputation_is_a_draw_at_its_posterior_draw(fit):
    """(y_mis - mu) / sigma over draws and rows of seen levels: mean 0 and variance 1 within 4
    standard errors (mu and sigma of the same chain and draw: a misaligned draw would inflate
    the variance by the spread of mu)."""
    post = fit.idata.posterior
    rows = np.asarray(post["Ymi_row"])
    seen = rows[DATA.loc[rows, "g"].to_numpy() != LONELY]
    beta, sigma = post["beta"].values, post["sigma"].values[..., None]
    effects = post["b_g"].sel(g__term="(Intercept)").sel(g__level=DATA.loc[seen, "g"].to_numpy()).values
    mu = beta[..., :1] + beta[..., 1:2] * DATA.loc[seen, "x"].to_numpy() + effects
    z = ((post["Ymi"].sel(Ymi_row=seen).values - mu) / sigma).ravel()
    assert abs(z.mean()) < 4 / np.sqrt(z.size)
    assert abs(z.var() - 1.0) < 4 * np.sqrt(2.0 / z.size)


def test_imputed_table_covers_the_truth_and_a_new_level_is_wider(fit):
    table = fit.imputed()
    assert list(table.columns) == ["estimate", "sd", "q05", "q95"]
    assert set(table.index) == set(DATA.index[DATA["y"].isna()])
    seen = table.drop(index=N - 1)
    inside = (TRUTH[seen.index] >= seen["q05"]) & (TRUTH[seen.index] <= seen["q95"])
    # 90% intervals of about 60 values: a binomial count within 3 sds of 0.9 m
    m = len(seen)
    assert abs(inside.sum() - 0.9 * m) <= 3 * np.sqrt(0.09 * m)
    assert table.loc[N - 1, "sd"] > 1.2 * seen["sd"].median()    # its group effect is drawn too
    assert list(fit.imputed(level=0.5).columns) == ["estimate", "sd", "q25", "q75"]


def test_a_saved_fit_keeps_its_imputations(fit, tmp_path):
    from hierax.results.io import restore, save

    again = restore(save(fit, tmp_path / "fit.nc"))
    pd.testing.assert_frame_equal(again.imputed(), fit.imputed())


def test_imputations_are_labelled_by_the_data_rows():
    """The data's own row labels, not positions (a filtered frame keeps its labels)."""
    part = DATA.iloc[20:80].copy()
    part.index = [f"r{i}" for i in range(20, 80)]
    fit = hx.fit("y | mi() ~ x + (1 | g)", part, chains=1, warmup=100, draws=50, seed=3)
    assert list(fit.imputed().index) == list(part.index[part["y"].isna()])
