"""PSIS-LOO, WAIC and model comparison (issue 4) on radon."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.workflow.compare import _k_warnings, num_parameters

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
pytestmark = pytest.mark.skipif(not SHARED.exists(), reason="../shared (data) is not beside the checkout")
SMALL = dict(chains=2, warmup=300, draws=300, progress=False)


@pytest.fixture(scope="module")
def fits():
    radon = pd.read_csv(SHARED / "radon_mn.csv")
    return {"partial pooling": hx.fit("log_radon ~ floor + (1 | county)", radon, seed=1, **SMALL),
            "complete pooling": hx.fit("log_radon ~ floor", radon, seed=2, **SMALL)}


def test_p_loo_is_far_below_the_parameter_count_under_shrinkage(fits):
    result = hx.loo(fits["partial pooling"])
    assert result.num_parameters == 2 + 1 + 1 + 85         # beta, sigma, sd, 85 county effects
    # each county effect counts for less than one (shrinkage): p_loo (about 49 here) must be far
    # below the 89 parameters and well above the 3 of complete pooling
    assert 30 < result.p_loo < 60
    complete = hx.loo(fits["complete pooling"])
    assert complete.num_parameters == 3 and complete.p_loo == pytest.approx(3, abs=1.0)
    assert "effective parameters of 89 (shrinkage" in str(result)
    assert str(complete).splitlines()[0].endswith("effective parameters of 3")      # no group effects to shrink


def test_partial_pooling_predicts_better_than_complete_pooling(fits):
    table = hx.compare(fits)
    assert list(table.index) == ["partial pooling", "complete pooling"]
    difference, se = table.loc["complete pooling", ["elpd_diff", "dse"]]
    assert difference > 3 * se > 0                          # about 52 with se 10 on this data
    waic = hx.waic(fits["partial pooling"])
    assert float(waic.elpd_waic) == pytest.approx(hx.loo(fits["partial pooling"]).elpd, abs=3.0)


def test_pareto_k_problems_are_said_in_words(fits):
    fit = fits["partial pooling"]
    k = np.zeros(fit.spec.num_obs)
    alone = np.flatnonzero(np.bincount(fit.spec.blocks[0].group_index)[fit.spec.blocks[0].group_index] == 1)
    k[alone[:2]] = 0.8
    k[5] = 1.3
    (text,) = _k_warnings(k, fit)
    assert text.startswith("3 of 919 observations have Pareto k >= 0.70 (1 above 1)")
    assert "2 of them are the only observation of their group" in text
    assert _k_warnings(np.zeros(10), fit) == ()


def test_comparison_needs_posterior_draws_of_the_same_data(fits):
    radon = pd.read_csv(SHARED / "radon_mn.csv")
    reml = hx.fit("log_radon ~ floor + (1 | county)", radon, method="reml")
    with pytest.raises(hx.HieraxError, match="method='nuts'"):
        hx.loo(reml)
    fewer = hx.fit("log_radon ~ floor", radon.iloc[:500], seed=3, **SMALL)
    with pytest.raises(hx.HieraxError, match="different numbers of observations"):
        hx.compare([fits["complete pooling"], fewer])
    assert num_parameters(fewer) == 3
