"""Bad-input table for out-of-core data (issue 20): Dask frames and Parquet files given to
``hx.fit``, and what a fit of them can and cannot do. See ``conftest.py`` for what a row asserts."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.errors import DataError, HieraxError, ModelError

from .conftest import Case, params, run_case

dd = pytest.importorskip("dask.dataframe")

RNG = np.random.default_rng(20)
N = 400
DATA = pd.DataFrame({"y": RNG.normal(size=N), "x": RNG.normal(size=N), "g": np.repeat([f"g{k}" for k in range(20)], 20),
                     "w": RNG.uniform(0.5, 2.0, N), "n": RNG.poisson(3.0, N)})


@functools.cache
def folder() -> Path:
    """DATA in two Parquet files, and files of the cases below, in a folder of their own."""
    path = Path(tempfile.mkdtemp(prefix="hierax-outofcore-"))
    DATA.iloc[:150].to_parquet(path / "part-0.parquet")
    DATA.iloc[150:].to_parquet(path / "part-1.parquet")
    mixed = path / "mixed"
    mixed.mkdir()
    DATA.iloc[:200].to_parquet(mixed / "a.parquet")
    DATA.iloc[200:].assign(x=lambda d: d["x"].map(lambda v: f"{v:.2f}!")).to_parquet(mixed / "b.parquet")
    DATA.to_csv(path / "data.csv", index=False)
    return path


def parts() -> str:
    return str(folder() / "part-*.parquet")


def lazy(frame: pd.DataFrame = DATA):
    return dd.from_pandas(frame, npartitions=3)


def _reml():
    return hx.fit("y ~ x + (1 | g)", parts(), method="reml")


@functools.cache
def _nuts():
    return hx.fit("y ~ x + (1 | g)", parts(), chains=2, warmup=30, draws=10, seed=1)


CASES = [
    Case("laplace_on_parquet_files", lambda: hx.fit("n ~ x + (1 | g)", parts(), family="poisson", method="laplace"),
         ModelError, "'reml', 'ml' or 'nuts' so far", "fit a data frame in memory"),
    Case("nuts_every_effect_out_of_core", lambda: hx.fit("y ~ x + (1 | g)", parts(), collapse=False), ModelError,
         "integrated out", "collapse=None"),
    Case("nuts_two_grouping_factors_out_of_core", lambda: hx.fit("y ~ x + (1 | g) + (1 | n)", parts(), chains=1),
         ModelError, "one grouping factor so far", "method='reml'"),
    Case("nuts_loo_out_of_core", lambda: hx.loo(hx.fit("y ~ x + (1 | g)", parts(), chains=2, warmup=30, draws=10,
                                                        seed=1)), HieraxError, "out-of-core data", "a sample of the rows"),
    Case("poisson_on_parquet_files", lambda: hx.fit("n ~ x + (1 | g)", parts(), family="poisson", method="reml"),
         ModelError, "family='gaussian'", "fit other families to a data frame in memory"),
    Case("no_file_matches", lambda: hx.fit("y ~ x + (1 | g)", str(folder() / "nothing-*.parquet"), method="reml"),
         DataError, "no parquet file matches", "a glob such as"),
    Case("csv_given_as_parquet", lambda: hx.fit("y ~ x + (1 | g)", str(folder() / "data.csv"), method="reml"),
         DataError, "as parquet", "dd.read_csv"),
    Case("missing_column", lambda: hx.fit("y ~ xx + (1 | g)", parts(), method="reml"), DataError,
         "lack column(s)", "did you mean 'x'"),
    Case("weights_out_of_core", lambda: hx.fit("y | weights(w) ~ x + (1 | g)", parts(), method="reml"), ModelError,
         "not available for out-of-core data yet", "frame.compute()"),
    Case("formula_for_sigma_out_of_core", lambda: hx.fit(hx.bf("y ~ x + (1 | g)", sigma="~ x"), parts(), method="ml"),
         ModelError, "distributional parameter", "fit a data frame in memory"),
    Case("numbers_in_one_file_text_in_another",
         lambda: hx.fit("y ~ log(abs(x)) + (1 | g)", str(folder() / "mixed"), method="reml"), DataError,
         "column 'x'", "pd.to_numeric"),
    Case("kinds_differ_between_partitions",
         lambda: hx.fit("y ~ x + (1 | g)", dd.concat([lazy(DATA.iloc[:200]), lazy(DATA.iloc[200:].assign(
             x=lambda d: np.where(d["x"] > 0, "hi", "lo")))]), method="reml"), DataError,
         "holds numbers in some chunks", "pd.to_numeric"),
    Case("missing_value_in_a_partition", lambda: hx.fit("y ~ x + (1 | g)", lazy(DATA.assign(
        x=lambda d: np.where(np.arange(N) == 333, np.nan, d["x"]))), method="reml"), DataError, "missing", "drop"),
    Case("constant_response_out_of_core", lambda: hx.fit("y ~ x + (1 | g)", lazy(DATA.assign(y=2.5)), method="reml"),
         DataError, "is constant", "check that the formula names the right response column"),
    Case("one_group_out_of_core", lambda: hx.fit("y ~ x + (1 | g)", lazy(DATA.assign(g="same")), method="reml"),
         DataError, "only one level", "remove the group term"),
    Case("dask_series", lambda: hx.fit("y ~ x + (1 | g)", lazy()["y"], method="reml"), DataError,
         "pass a dask.dataframe.DataFrame", "series.to_frame()"),
    Case("predict_own_rows_out_of_core", lambda: _reml().predict(), ModelError, "needs the fit's rows",
         "newdata="),
    Case("r2_out_of_core", lambda: _reml().r2(), ModelError, "needs the fit's rows", "fit a sample in memory"),
    Case("save_out_of_core", lambda: __import__("hierax.results.io", fromlist=["save"]).save(
        _reml(), folder() / "fit.nc"), HieraxError, "out-of-core data", "refit from the files"),
    Case("two_valued_response_out_of_core", lambda: hx.fit("y ~ x + (1 | g)", lazy(DATA.assign(
        y=(DATA["y"] > 0).astype(float))), method="reml"), None, warns="takes only two values"),
    Case("dask_frame_predictions", lambda: _reml().predict(newdata=lazy(DATA.head(30)), seed=2), None,
         check=lambda table: isinstance(table, dd.DataFrame) and len(table.compute()) == 30),
    Case("ppc_stats_of_a_reml_fit", lambda: _reml().ppc_stats(data=lazy()), HieraxError, "need posterior draws",
         "kind='response'"),
    Case("ppc_stats_without_the_rows", lambda: _nuts().ppc_stats(), HieraxError, "holds no rows",
         "fit.ppc_stats(data=...)"),
    Case("ppc_stats_of_rows_without_the_response", lambda: _nuts().ppc_stats(data=lazy(DATA.drop(columns="y"))),
         HieraxError, "no column of the response 'y'", "pass the rows with the response"),
    Case("ppc_stats_unknown_statistic", lambda: _nuts().ppc_stats(data=lazy(), stats=("median",)), HieraxError,
         "stats must be some of", "one pass"),
    Case("ppc_stats_level_out_of_range", lambda: _nuts().ppc_stats(data=lazy(), level=1.5), HieraxError,
         "level must be between 0 and 1", "between 0 and 1"),
    Case("posterior_predict_without_rows", lambda: _nuts().posterior_predict(None), HieraxError,
         "needs the rows to replicate", "pass newdata"),
    Case("posterior_predict_zero_draws", lambda: _nuts().posterior_predict(lazy(), num_draws=0), HieraxError,
         "num_draws must be a positive whole number", "positive whole number"),
    Case("ranef_diagnostics_not_a_flag", lambda: _nuts().ranef(diagnostics="no"), HieraxError,
         "diagnostics must be True or False", "diagnostics=True"),
    Case("posterior_predict_of_a_dask_frame", lambda: _nuts().posterior_predict(lazy(DATA.head(30)), num_draws=3),
         None, check=lambda table: isinstance(table, dd.DataFrame) and table.compute().shape == (30, 4)),
]


@pytest.mark.parametrize("case", params(CASES))
def test_outofcore_input(case):
    run_case(case)
