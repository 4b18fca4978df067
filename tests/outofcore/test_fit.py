"""REML and ML of out-of-core data equal the in-memory fits of the same rows (hierax.outofcore).

The engine reads only the cross-products of [Z X y]; out of core they are sums over chunks, so
the estimates agree to rounding (the acceptance asks 1e-8 relative; they agree to about 1e-12).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.results import _arviz

dd = pytest.importorskip("dask.dataframe")


def frame(n: int = 6_000, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 150, n)
    h = rng.integers(0, 12, n)
    x = rng.normal(3.0, 2.0, n)
    b = rng.normal(size=(150, 2)) * [1.0, 0.4]
    c = rng.normal(size=12) * 0.7
    f = rng.choice(["lo", "mid", "hi"], n)
    y = 10.0 + 0.3 * x + (f == "hi") + b[g, 0] + b[g, 1] * x + c[h] + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "f": f, "g": [f"s{i:03d}" for i in g], "h": h, "t": rng.uniform(1, 2, n)})


@pytest.fixture(scope="module")
def data():
    return frame()


@pytest.fixture(scope="module")
def parquet(data, tmp_path_factory):
    """The frame written as seven Parquet files of unequal sizes (one of a single row)."""
    folder = tmp_path_factory.mktemp("parts")
    edges = [0, 1, 700, 1900, 2000, 3500, 5000, len(data)]
    for k, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        data.iloc[a:b].to_parquet(folder / f"part-{k}.parquet")
    return folder


def assert_same_fit(memory, chunked, rtol=1e-9):
    np.testing.assert_allclose(chunked.output.objective, memory.output.objective, rtol=1e-12)
    np.testing.assert_allclose(chunked.output.theta, memory.output.theta, rtol=rtol, atol=1e-10)
    np.testing.assert_allclose(chunked.output.beta, memory.output.beta, rtol=rtol)
    np.testing.assert_allclose(chunked.output.vcov_beta, memory.output.vcov_beta, rtol=1e-8)
    np.testing.assert_allclose(chunked.output.sigma, memory.output.sigma, rtol=rtol)
    for a, b in zip(chunked.output.random_effects, memory.output.random_effects):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)
    assert chunked.nobs == memory.nobs
    pd.testing.assert_frame_equal(chunked.varcorr(), memory.varcorr(), rtol=1e-8)


@pytest.mark.parametrize("formula, method", [
    ("y ~ x + f + (1 + x | g)", "reml"),
    ("y ~ scale(x) * f + (1 | g) + (1 | h)", "ml"),       # crossed: the Schur complement's sums add too
    ("y ~ x + (1 | g) + offset(t)", "reml"),
])
def test_parquet_files_fit_as_the_frame(data, parquet, formula, method):
    memory = hx.fit(formula, data, method=method)
    chunked = hx.fit(formula, str(parquet / "part-*.parquet"), method=method)
    assert_same_fit(memory, chunked)
    assert chunked.spec.rows_elsewhere is not None and chunked.data is None
    new = data.iloc[::97]
    pd.testing.assert_frame_equal(chunked.predict(newdata=new, seed=1), memory.predict(newdata=new, seed=1), rtol=1e-7)


def test_predictions_for_a_dask_frame_are_a_dask_frame(data):
    memory = hx.fit("y ~ x + f + (1 + x | g)", data, method="reml")
    new = data.iloc[::97].assign(g=lambda d: np.where(np.arange(len(d)) % 5 == 0, "unseen", d["g"]))
    lazy = memory.predict(newdata=dd.from_pandas(new, npartitions=4), seed=3)
    assert isinstance(lazy, dd.DataFrame)
    pd.testing.assert_frame_equal(lazy.compute(), memory.predict(newdata=new, seed=3))


def test_dask_frame_fits_as_the_frame_with_satterthwaite_df(data):
    memory = hx.fit("y ~ x + f + (1 + x | g)", data, method="reml")
    chunked = hx.fit("y ~ x + f + (1 + x | g)", dd.from_pandas(data, npartitions=5), method="reml")
    assert_same_fit(memory, chunked)
    pd.testing.assert_frame_equal(chunked.fixef(df="satterthwaite"), memory.fixef(df="satterthwaite"), rtol=1e-7)


def test_a_folder_of_files_on_a_two_worker_cluster(data, parquet):
    """The passes run on a distributed cluster's worker processes (their functions pickle)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        chunked = hx.fit("y ~ x + f + (1 + x | g)", parquet, method="reml")
    assert_same_fit(hx.fit("y ~ x + f + (1 + x | g)", data, method="reml"), chunked)


def test_nuts_on_parquet_files_gives_the_same_draws_as_the_frame(data, parquet):
    """The collapsed sampler's statistics are exact sums (hierax.density.collapsed_sums), so the
    chunked statistics have the same bits as the frame's, and NUTS, which turns a difference in
    the last bit into other draws after warm-up, gives the same draws for the same seed."""
    settings = dict(chains=2, warmup=150, draws=100, seed=11)
    memory = hx.fit("y ~ x + f + (1 + x | g)", data, **settings)
    chunked = hx.fit("y ~ x + f + (1 + x | g)", str(parquet / "part-*.parquet"), **settings)
    for name, draws in memory.idata.posterior.data_vars.items():
        np.testing.assert_array_equal(chunked.idata.posterior[name].values, draws.values, err_msg=name)
    groups = _arviz.group_names(chunked.idata)
    assert chunked.spec.rows_elsewhere is not None and "observed_data" not in groups and "log_likelihood" not in groups
    pd.testing.assert_frame_equal(chunked.summary(), memory.summary())


def test_nuts_with_a_column_far_from_unit_scale(data):
    """A column sampled on unit scale (divided by a power of two) keeps the draws the same."""
    wide = data.assign(x=data["x"] * 1e4)
    settings = dict(chains=1, warmup=100, draws=50, seed=2)
    memory = hx.fit("y ~ x + (1 | g)", wide, **settings)
    chunked = hx.fit("y ~ x + (1 | g)", dd.from_pandas(wide, npartitions=3), **settings)
    np.testing.assert_array_equal(chunked.idata.posterior["beta"].values, memory.idata.posterior["beta"].values)
