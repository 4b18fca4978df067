"""Replicated data as a frame, and posterior predictive checks by test statistics.

:func:`posterior_predict` (brms's name) draws a new response at every row of a data frame for
some of the posterior draws: a frame with the rows of the data, the observed response where the
data hold it, and one column per draw. Out-of-core data (a Dask frame, Parquet files) give a Dask
frame, each partition replicated where it lies (``hierax.outofcore.check``).

:func:`ppc_stats` is a posterior predictive check by test statistics, as brms's
``pp_check(type = "stat")``: each statistic T of the observed response against its distribution
over the replicated data sets, with the posterior predictive p-value P(T(y_rep) >= T(y)) (Gelman
et al., *Bayesian Data Analysis*, ch. 6). The statistics are those a frame reduces in one pass
over its partitions (mean, sd, min, max), so the check of twenty million rows never holds them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hierax.config import check_seed
from hierax.design.incomplete import refuse_truncated_draws
from hierax.design.newdata import observed_response
from hierax.errors import HieraxError
from hierax.outofcore.source import is_out_of_core
from hierax.results.predict import posterior_draws, replicated_response

STATISTICS = ("mean", "sd", "min", "max")
_REDUCTIONS = dict(zip(STATISTICS, ("mean", "std", "min", "max")))      # the frames' methods (std: ddof 1)


def posterior_predict(fit, newdata, num_draws: int = 100, seed: int | None = None):
    """New responses at the rows of ``newdata`` for ``num_draws`` posterior draws, a column per draw
    (``<response>_rep[k]``, k the draw's chain-major index), after the observed response where
    ``newdata`` has its columns; a Dask frame for out-of-core ``newdata``."""
    rows = _check(fit, newdata, num_draws)
    seed = check_seed(seed)
    draws = posterior_draws(fit, rows)          # made once: a lazy posterior draws its effects here
    if is_out_of_core(newdata):
        from hierax.outofcore.check import replicate_partitions

        return replicate_partitions(replicate_partition, fit, newdata, draws, rows, seed)
    return replicate_partition(fit, newdata, draws, rows, seed, 0)


def replicate_partition(fit, frame, draws, rows, seed: int, number: int) -> pd.DataFrame:
    """:func:`replicate_frame` with partition ``number``'s generator (a frame in memory is
    partition 0, so that a Dask frame of one partition replicates as the same frame in memory)."""
    return replicate_frame(fit, frame, draws, rows, np.random.default_rng([seed, number]))


def replicate_frame(fit, frame, draws, rows, rng: np.random.Generator) -> pd.DataFrame:
    """:func:`posterior_predict` of a pandas ``frame`` for ``draws`` (those at flat indices ``rows``)."""
    label = response_label(fit)
    replicated = replicated_response(fit, frame, draws, rng) if len(frame) else np.zeros((len(rows), 0))
    index = frame.index if hasattr(frame, "index") else pd.RangeIndex(len(frame))
    columns = {f"{label}_rep[{r}]": replicated[k] for k, r in enumerate(rows)}
    observed = observed_response(fit.design_info, frame) if len(frame) else np.zeros(0)
    first = {} if observed is None else {label: observed}
    return pd.DataFrame({**first, **columns}, index=index)


def response_label(fit) -> str:
    return fit.design_info.formula.response.label


def ppc_stats(fit, data=None, stats=STATISTICS, num_draws: int = 400, seed: int | None = None,
              level: float = 0.9) -> pd.DataFrame:
    """Each statistic of the observed response (``observed``) against its replicated values
    (their ``mean`` and central ``level`` interval ``lower``, ``upper``) and the posterior
    predictive p-value ``p`` = P(T(y_rep) >= T(y)), one row per statistic; ``data``: the fit's
    own data by default, or a frame (pandas, Dask, Parquet files) holding the response."""
    _require_draws(fit)
    stats = _check_stats(stats)
    if not 0.0 < level < 1.0:
        raise HieraxError(f"level must be between 0 and 1, got {level!r}")
    if data is None:
        if getattr(fit, "data", None) is None:
            raise HieraxError("this fit holds no rows (its data were out of core): pass them, "
                              "fit.ppc_stats(data=...), the same Dask frame or Parquet files")
        data = fit.data
    replicated = posterior_predict(fit, data, num_draws, seed)
    label = response_label(fit)
    if label not in replicated.columns:
        raise HieraxError(f"the data hold no column of the response {label!r}: a check compares it with its "
                          "replicates, so pass the rows with the response")
    if is_out_of_core(data):
        import dask

        values = dask.compute(*(_reduce(replicated, name) for name in stats))
    else:
        values = [_reduce(replicated, name) for name in stats]
    return _table(values, stats, label, level)


def _reduce(frame, name: str):
    """The statistic of every column (pandas and Dask frames both reduce column by column)."""
    return getattr(frame, _REDUCTIONS[name])()


def _table(values, stats, label: str, level: float) -> pd.DataFrame:
    rows = []
    for name, series in zip(stats, values):
        observed = float(series[label])
        replicated = series.drop(label).to_numpy(dtype=float)
        lower, upper = np.quantile(replicated, [(1 - level) / 2, (1 + level) / 2])
        rows.append({"observed": observed, "mean": replicated.mean(), "lower": lower, "upper": upper,
                     "p": float(np.mean(replicated >= observed))})
    table = pd.DataFrame(rows, index=pd.Index(list(stats), name="statistic"))
    table.attrs.update(level=level, draws=len(values[0]) - 1)
    return table


def _require_draws(fit) -> None:
    if not getattr(fit, "has_draws", False):
        raise HieraxError("replicated data need posterior draws (method='nuts'); for a REML/ML/Laplace fit, "
                          "fit.predict(newdata, kind='response') gives predictive intervals")


def _check(fit, newdata, num_draws) -> np.ndarray:
    """The flat indices of ``num_draws`` draws spread evenly over the chains' draws."""
    _require_draws(fit)
    if newdata is None:
        raise HieraxError("posterior_predict needs the rows to replicate: pass newdata (a data frame, a Dask frame "
                          "or Parquet files)")
    refuse_truncated_draws(fit.spec.truncation, "replicated data sets")
    if fit.spec.se is not None:
        raise HieraxError("replicated data of a model with se() need each row's measurement sd, which is data "
                          "the model does not draw; check the model by fit.posterior_predictive() on its own rows")
    if isinstance(num_draws, bool) or not isinstance(num_draws, (int, np.integer)) or num_draws < 1:
        raise HieraxError(f"num_draws must be a positive whole number, got {num_draws!r}")
    post = fit.idata.posterior
    total = post.sizes["chain"] * post.sizes["draw"]
    return np.unique(np.linspace(0, total - 1, min(int(num_draws), total)).round().astype(int))


def _check_stats(stats) -> tuple:
    stats = (stats,) if isinstance(stats, str) else tuple(stats)
    unknown = [s for s in stats if s not in STATISTICS]
    if unknown or not stats:
        raise HieraxError(f"stats must be some of {STATISTICS} (those a frame reduces in one pass), got {unknown or stats!r}")
    return stats
