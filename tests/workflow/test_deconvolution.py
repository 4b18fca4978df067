"""The NPMLE of a population of group means (``hierax.workflow.deconvolution``): two modes
recovered where the normal model sees one, the optimality certificate, and a fit's group means."""

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.errors import DataError, ModelError
from hierax.workflow.deconvolution import npmle

RADON = "/work/shared/data/radon_mn.csv"


def _bimodal(groups=200, seed=1):
    rng = np.random.default_rng(seed)
    theta = np.where(rng.random(groups) < 0.5, -2.0, 2.0) + rng.normal(0.0, 0.3, groups)
    return theta, theta + rng.normal(0.0, 0.5, groups)


def test_two_modes_are_recovered_where_the_normal_population_has_one():
    """Half the groups near -2, half near 2, each mean seen with se 0.5: the NPMLE puts about
    half its mass near each mode and almost none between, the fitted normal a single hump over
    the gap; the NPMLE's log-likelihood is far higher and its posterior means are closer to the
    truth (mean squared error a third of the normal model's)."""
    theta, y = _bimodal()
    result = npmle(y, 0.5)
    grid, mass = result.grid, result.mass
    assert mass[(grid > -3) & (grid < -1)].sum() == pytest.approx(0.5, abs=0.05)
    assert mass[(grid > 1) & (grid < 3)].sum() == pytest.approx(0.5, abs=0.05)
    assert mass[np.abs(grid) < 0.5].sum() < 0.01
    mean, sd = result.normal
    assert abs(mean) < 0.3 and sd > 1.5            # one hump, centred on the gap
    assert result.loglik > result.normal_loglik + 50.0
    table = result.table()
    npmle_error = np.mean((table["npmle_mean"] - theta) ** 2)
    normal_error = np.mean((table["normal_mean"] - theta) ** 2)
    assert npmle_error < 0.5 * normal_error


def test_the_solution_satisfies_the_optimality_condition():
    """Lindsay's gradient is at most 1 (to the tolerance) everywhere on the grid and 1 where the
    mass is: the weights maximise the likelihood over the grid's distributions."""
    _, y = _bimodal(80, seed=4)
    se = np.linspace(0.3, 0.8, 80)
    result = npmle(y, se, tol=1e-7)
    like = np.exp(-0.5 * ((y[:, None] - result.grid[None, :]) / se[:, None]) ** 2) / se[:, None]
    gradient = (like / (like @ result.mass)[:, None]).mean(axis=0)
    assert gradient.max() <= 1.0 + 1e-7
    assert gradient[result.mass > 1e-3] == pytest.approx(1.0, abs=1e-4)
    assert result.mass.sum() == pytest.approx(1.0, abs=1e-12)


def test_deconvolve_takes_the_group_means_of_a_fit():
    """radon, log_radon ~ floor + (1 | county): 85 counties, each mean of y - floor beta with se
    sigma / sqrt(n_j); the normal population fitted to those means is near REML's."""
    data = pd.read_csv(RADON)
    fit = hx.fit("log_radon ~ floor + (1 | county)", data, method="reml")
    result = hx.deconvolve(fit)
    assert len(result.estimates) == 85 and result.estimates.index.name == "county"
    assert result.gradient_max <= 1.0 + 1e-6
    counts = data.groupby("county").size()
    expected = fit.sigma / np.sqrt(counts.loc[result.estimates.index].to_numpy())
    assert result.se.to_numpy() == pytest.approx(expected, rel=1e-12)
    reml_mean = fit.fixef().loc["(Intercept)", "estimate"]
    assert result.normal[0] == pytest.approx(reml_mean, abs=0.1)
    assert result.plot() is not None


@pytest.mark.parametrize("call, error, message", [
    (lambda: npmle([1.0], 0.5), DataError, "at least two"),
    (lambda: npmle([1.0, 2.0], [0.5, 0.0]), DataError, "positive, finite"),
    (lambda: npmle([1.0, 2.0], 0.5, grid=3), ModelError, "at least 10"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
