"""An out-of-core NUTS fit's lazy effect draws, and posterior predictive checks of out-of-core rows.

The effects are a Dask array of chunks of levels (hierax.outofcore.lazy), with the bits the fit
in memory draws at once; replicated data of a Dask frame are a Dask frame, and ppc_stats reduces
them over the partitions."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.density import effect_chunks

from .test_fit import frame

dd = pytest.importorskip("dask.dataframe")
da = pytest.importorskip("dask.array")

FORMULA = "y ~ x + f + (1 + x | g)"
SETTINGS = dict(chains=2, warmup=150, draws=100, seed=11)


@pytest.fixture(scope="module")
def data():
    return frame()


@pytest.fixture(scope="module")
def fits(data):
    """The same model in memory and from a Dask frame, effects in chunks of 32 of the 150 levels."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(effect_chunks, "LEVELS_PER_CHUNK", 32)
        memory = hx.fit(FORMULA, data, **SETTINGS)
        chunked = hx.fit(FORMULA, dd.from_pandas(data, npartitions=4), **SETTINGS)
        yield memory, chunked


def test_out_of_core_effects_are_lazy_chunks_with_the_in_memory_bits(fits):
    memory, chunked = fits
    lazy = chunked.idata.posterior["b_g"]
    assert isinstance(lazy.data, da.Array) and lazy.data.chunks[2] == (32, 32, 32, 32, 22)
    assert isinstance(memory.idata.posterior["b_g"].data, np.ndarray)
    np.testing.assert_array_equal(lazy.values, memory.idata.posterior["b_g"].values)
    full = memory.ranef()
    pd.testing.assert_frame_equal(chunked.ranef(), full)
    pd.testing.assert_frame_equal(chunked.coef(), memory.coef())
    quick = chunked.ranef(diagnostics=False)        # brms's columns: no per-effect ESS or R-hat
    pd.testing.assert_frame_equal(quick, full[["group", "level", "term", "estimate", "sd", "q05", "q95"]])


def test_predictions_from_lazy_effects_equal_the_in_memory_fit(fits, data):
    memory, chunked = fits
    new = data.iloc[::53]
    expected = memory.predict(newdata=new, seed=4)
    pd.testing.assert_frame_equal(chunked.predict(newdata=new, seed=4), expected)
    pd.testing.assert_frame_equal(chunked.predict(newdata=dd.from_pandas(new, npartitions=3), seed=4).compute(),
                                  expected)


def test_replicated_data_of_a_dask_frame_are_a_dask_frame(fits, data):
    memory, chunked = fits
    rows = data.iloc[:40]
    one = chunked.posterior_predict(dd.from_pandas(rows, npartitions=1), num_draws=7, seed=2)
    assert isinstance(one, dd.DataFrame)
    expected = memory.posterior_predict(rows, num_draws=7, seed=2)
    assert list(expected.columns) == ["y"] + [f"y_rep[{k}]" for k in (0, 33, 66, 100, 133, 166, 199)]
    pd.testing.assert_frame_equal(one.compute(), expected)          # one partition: the frame's generator
    three = chunked.posterior_predict(dd.from_pandas(rows, npartitions=3), num_draws=7, seed=2).compute()
    pd.testing.assert_frame_equal(three[["y"]], expected[["y"]])
    assert not np.allclose(three["y_rep[33]"], expected["y_rep[33]"])     # partitions draw their own noise


def test_ppc_stats_of_out_of_core_rows(fits, data):
    """The model is the one that made the data, so every statistic's p-value is unremarkable; and
    the check of a Dask frame agrees with the check in memory within Monte Carlo error."""
    memory, chunked = fits
    local = memory.ppc_stats(num_draws=200, seed=1)
    spread = chunked.ppc_stats(data=dd.from_pandas(data, npartitions=4), num_draws=200, seed=1)
    pd.testing.assert_series_equal(spread["observed"], local["observed"])
    assert list(local.index) == ["mean", "sd", "min", "max"]
    assert np.all((local["p"] > 0.02) & (local["p"] < 0.98)) and np.all((spread["p"] > 0.02) & (spread["p"] < 0.98))
    width = local["upper"] - local["lower"]                  # a 90% interval is about 3.3 replicate sds wide
    assert np.all(np.abs(spread["mean"] - local["mean"]) < 4 * (width / 3.3) / np.sqrt(200) * np.sqrt(2))
    np.testing.assert_allclose(local.loc["mean", "observed"], data["y"].mean(), rtol=1e-12)
    np.testing.assert_allclose(local.loc["sd", "observed"], data["y"].std(), rtol=1e-12)


def test_a_misfitting_model_fails_its_check(data):
    """A gaussian model of a right-skewed response: its replicates reach below the observed
    minimum and short of the observed maximum, so both p-values are extreme, as the mean's is not."""
    skewed = data.assign(y=np.exp(data["y"] / 3.0))
    fit = hx.fit("y ~ 1 + (1 | g)", skewed, chains=2, warmup=150, draws=100, seed=1)
    table = fit.ppc_stats(data=dd.from_pandas(skewed, npartitions=3), num_draws=200, seed=3)
    assert table.loc["max", "p"] < 0.01 and table.loc["min", "p"] < 0.01
    assert 0.05 < table.loc["mean", "p"] < 0.95


def test_lazy_effects_on_a_two_worker_cluster(fits, data):
    """The chunks are drawn on worker processes (what they need pickles) with the same bits; the
    fit and the draws a partition reads go to the workers ahead of the graph (``passes.shared``),
    so that Dask does not warn of a large graph (the in-memory fit with its rows is 10 MB)."""
    distributed = pytest.importorskip("distributed")
    memory, chunked = fits
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drawn = chunked.idata.posterior["b_g"].values
        predicted = chunked.predict(newdata=dd.from_pandas(data.iloc[::61], npartitions=2), seed=4).compute()
        replicated = memory.posterior_predict(dd.from_pandas(data.iloc[:40], npartitions=1), num_draws=7, seed=2)
        replicated = replicated.compute()
    np.testing.assert_array_equal(drawn, memory.idata.posterior["b_g"].values)
    pd.testing.assert_frame_equal(predicted, memory.predict(newdata=data.iloc[::61], seed=4))
    pd.testing.assert_frame_equal(replicated, memory.posterior_predict(data.iloc[:40], num_draws=7, seed=2))
    assert not [w for w in caught if "large graph" in str(w.message)]
