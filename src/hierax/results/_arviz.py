"""ArviZ 0.23 and ArviZ 1.x behind one interface, so that no other module branches on versions.

ArviZ 0.23 holds results in its ``InferenceData``; ArviZ 1.x in xarray's ``DataTree`` and splits
into ``arviz_base`` (data), ``arviz_stats`` (diagnostics, LOO) and ``arviz_plots``. hierax uses
neither version's plotting (it draws its own figures with matplotlib), so with ArviZ 1.x only
``arviz_base`` and ``arviz_stats`` are imported.

Both containers are read the same way: ``idata.posterior["beta"].values``, ``.data_vars``,
``.sizes``, ``.attrs`` and ``"log_likelihood" in idata`` work on either. What differs (how
the container is built, its group names, adding a group, netCDF input and output, the
diagnostics, LOO and the comparison table, and WAIC, which ArviZ 1.x dropped) is here.
ArviZ is imported when first used, not at import time (``hierax --help`` stays fast).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import functools
from importlib import metadata

import numpy as np
import pandas as pd
from scipy.special import logsumexp

if TYPE_CHECKING:                     # xarray loads when a result is built: not on a REML fit's path
    import xarray as xr

NETCDF_ENGINE = "h5netcdf"        # a declared dependency of hierax; ArviZ 0.23's default engine too


@functools.cache
def uses_datatree() -> bool:
    """Whether the installed ArviZ is 1.x or later (results as xarray's ``DataTree``)."""
    return int(metadata.version("arviz").split(".")[0]) >= 1


@functools.cache
def legacy_arviz():
    """ArviZ 0.23, imported on first use, with its Numba path turned off.

    ArviZ 0.23 uses Numba whenever it is installed, and hierax installs it (for
    ``hierax.linalg.gram``); with NumPy >= 2.4 its Numba ``mcse_sd`` fails (``float`` of a
    one-element array, arviz/stats/diagnostics.py). Off (``az.Numba.disable_numba()``, ArviZ's own
    switch), ArviZ 0.23 computes as it does where Numba is absent, for hierax and for the rest of
    the process. ArviZ 1.x does not use Numba this way and is left alone.
    """
    import arviz as az

    if not uses_datatree():
        az.Numba.disable_numba()
    return az


def results(**groups: xr.Dataset):
    """The result container from named groups (``posterior=...``, ``sample_stats=...``):
    ArviZ 0.23's ``InferenceData``, or a ``DataTree`` with one child per group under ArviZ 1.x."""
    import xarray as xr

    if uses_datatree():
        return xr.DataTree.from_dict(groups)
    az = legacy_arviz()

    return az.InferenceData(**groups)


def group_names(idata) -> list[str]:
    """The names of the groups a result holds (``["posterior", "sample_stats", ...]``)."""
    import xarray as xr

    if isinstance(idata, xr.DataTree):
        return list(idata.children)
    return list(idata.groups())


def group(idata, name: str) -> xr.Dataset:
    """One group as a plain ``xarray.Dataset`` (a DataTree node is not one)."""
    import xarray as xr

    node = idata[name]
    return node.to_dataset() if isinstance(node, xr.DataTree) else node


def with_groups(idata, **groups: xr.Dataset):
    """A copy of ``idata`` with groups added (or replaced); ``idata`` itself is unchanged."""
    import xarray as xr

    if isinstance(idata, xr.DataTree):
        out = idata.copy()
        for name, dataset in groups.items():
            out[name] = xr.DataTree(dataset)
        return out
    az = legacy_arviz()

    out = idata.copy()
    for name, dataset in groups.items():
        if name in out.groups():
            del out[name]
    out.add_groups(**groups)
    return az.InferenceData(**{g: out[g] for g in out.groups()})     # the groups in ArviZ's order


def with_attrs(idata, name: str, attrs: dict):
    """A copy of ``idata`` whose group ``name`` has ``attrs`` added to its attributes."""
    out = idata.copy()
    out[name].attrs.update(attrs)
    return out


def to_netcdf(idata, path) -> None:
    """Write every group to one netCDF-4 file (HDF5, through h5netcdf)."""
    idata.to_netcdf(str(path), engine=NETCDF_ENGINE)        # InferenceData and DataTree alike


def from_netcdf(path):
    """Read a file written by :func:`to_netcdf` (by either ArviZ version) into memory, the file
    closed again."""
    import xarray as xr

    if uses_datatree():
        return xr.load_datatree(str(path), engine=NETCDF_ENGINE)
    az = legacy_arviz()

    return az.from_netcdf(str(path), engine=NETCDF_ENGINE)


def _stats():
    if uses_datatree():
        import arviz_stats

        return arviz_stats
    return legacy_arviz()


# Tail ESS is the smaller of the ESS of the 5% and 95% quantiles (Vehtari et al. 2021, Stan,
# ArviZ 0.23). ArviZ 1.x's default takes its credible-interval probability instead (0.89: the 11%
# and 89% quantiles), so the probabilities are given.
TAIL_ESS_PROB = (0.05, 0.95)


def ess(data: xr.Dataset, method: str = "bulk") -> xr.Dataset:
    """Effective sample size of each variable of ``data`` (dims ``chain``, ``draw``, ...)."""
    if method == "tail":
        return _stats().ess(data, method="tail", prob=TAIL_ESS_PROB)
    return _stats().ess(data, method=method)


def rhat(data: xr.Dataset) -> xr.Dataset:
    """Rank-normalised split R-hat of each variable of ``data``."""
    return _stats().rhat(data)


def mcse(data: xr.Dataset, method: str = "mean") -> xr.Dataset:
    """Monte Carlo standard error of each variable of ``data``."""
    return _stats().mcse(data, method=method)


def bfmi(idata) -> np.ndarray:
    """E-BFMI per chain, from the ``energy`` of the ``sample_stats`` group."""
    if uses_datatree():
        import arviz_stats

        return np.atleast_1d(np.asarray(arviz_stats.bfmi(idata)["energy"]))
    az = legacy_arviz()

    return np.atleast_1d(np.asarray(az.bfmi(idata)))


def pareto_k(log_weights) -> float:
    """PSIS's Pareto k of importance ratios given on the log scale (any shape, pooled; chains
    count as one sample, r_eff 1)."""
    return psis(np.asarray(log_weights, dtype=float).ravel())[0]


def psis(log_weights: np.ndarray) -> tuple[float, np.ndarray]:
    """Pareto k and the smoothed log weights of a vector of log importance ratios: ArviZ's
    ``psislw`` (arviz_stats's in ArviZ 1.x), r_eff 1.

    arviz_stats's ``psislw`` takes what LOO gives it, log-likelihoods, whose negatives are the
    log ratios (its own callers pass ``-log_ratios``); ArviZ 0.x's takes the log ratios. Given the
    log ratios unnegated, arviz_stats smooths the left tail: the wrong weights, and a k of the
    wrong tail.

    The ratios are first divided by the largest (PSIS does not see a common factor), so that
    ratios spread over hundreds on the log scale do not overflow; a k that still cannot be
    computed is infinite, the verdict of weights too wild to smooth.
    """
    log_weights = np.asarray(log_weights, dtype=float)
    log_weights = log_weights - np.max(log_weights)
    if uses_datatree():
        from arviz_stats.base import array_stats

        smoothed, k = array_stats.psislw(-log_weights, r_eff=1.0)
    else:
        az = legacy_arviz()

        smoothed, k = az.psislw(log_weights, reff=1.0)
    k = float(np.asarray(k))
    return (k if np.isfinite(k) else float("inf")), np.asarray(smoothed, dtype=float)


class Loo:
    """PSIS-LOO as both ArviZ versions give it: ``elpd``, ``se``, ``p`` (p_loo), ``pareto_k``
    (per observation), ``good_k`` (ArviZ's threshold) and ``elpd_data`` (ArviZ's own object)."""

    def __init__(self, elpd, se, p, pareto_k, good_k, elpd_data):
        self.elpd, self.se, self.p = float(elpd), float(se), float(p)
        self.pareto_k, self.good_k, self.elpd_data = np.asarray(pareto_k), good_k, elpd_data


def loo(idata) -> Loo:
    """PSIS-LOO from the ``log_likelihood`` group (ArviZ's warnings left to the caller)."""
    if uses_datatree():
        import arviz_stats

        result = arviz_stats.loo(idata, pointwise=True)
        return Loo(result.elpd, result.se, result.p, result.pareto_k, result.good_k, result)
    az = legacy_arviz()

    result = az.loo(idata, pointwise=True)
    return Loo(result.elpd_loo, result.se, result.p_loo, result.pareto_k, getattr(result, "good_k", None), result)


class Waic:
    """WAIC (Watanabe 2010) as ArviZ 0.23's ``waic`` computes it (ArviZ 1.x no longer has it):
    ``elpd_waic``, its ``se``, ``p_waic``, the pointwise ``waic_i``, ``warning`` (a pointwise
    posterior variance of the log density above 0.4: WAIC may be failing), on the log scale."""

    scale = "log"

    def __init__(self, loglik: np.ndarray):
        chains, draws = loglik.shape[:2]
        flat = loglik.reshape(chains * draws, -1)
        self.n_samples, self.n_data_points = flat.shape
        variances = flat.var(axis=0)                 # ddof 0, as ArviZ 0.23
        self.waic_i = logsumexp(flat, axis=0) - np.log(self.n_samples) - variances
        self.elpd_waic = float(self.waic_i.sum())
        self.se = float(np.sqrt(self.n_data_points * np.var(self.waic_i)))
        self.p_waic = float(variances.sum())
        self.warning = bool(np.any(variances > 0.4))

    def __repr__(self) -> str:
        return (f"Waic(elpd_waic {self.elpd_waic:.1f} (se {self.se:.1f}), p_waic {self.p_waic:.1f}; "
                f"{self.n_samples} draws, {self.n_data_points} observations"
                + ("; warning: a pointwise variance of the log density exceeds 0.4" if self.warning else "") + ")")


def waic(idata) -> Waic:
    """WAIC from the ``log_likelihood`` group (its one variable, chains x draws x observations)."""
    (values,) = group(idata, "log_likelihood").data_vars.values()
    return Waic(np.asarray(values.transpose("chain", "draw", ...)))


COMPARE_COLUMNS = ["rank", "elpd_{ic}", "p_{ic}", "elpd_diff", "weight", "se", "dse", "warning", "scale"]


def compare(idatas: dict, ic: str = "loo") -> pd.DataFrame:
    """ArviZ's model comparison (stacking weights), best model first, in ArviZ 0.23's layout
    whichever ArviZ is installed: ``rank``, ``elpd_<ic>``, ``p_<ic>``, ``elpd_diff`` (how far
    below the best model's elpd, >= 0), ``weight``, ``se``, ``dse`` (the se of the difference),
    ``warning`` (unreliable estimates: Pareto k or WAIC variance), ``scale`` ("log"); unrounded."""
    import xarray as xr

    if ic not in ("loo", "waic"):
        raise ValueError(f"ic must be 'loo' or 'waic', got {ic!r}")
    columns = [c.format(ic=ic) for c in COMPARE_COLUMNS]
    if not uses_datatree():
        az = legacy_arviz()

        return az.compare(idatas, ic=ic)[columns]
    import arviz_stats
    from arviz_stats.utils import ELPDData

    if ic == "loo":
        elpds = {name: arviz_stats.loo(idata, pointwise=True) for name, idata in idatas.items()}
        flagged = {name: bool(np.any(np.asarray(e.pareto_k) > e.good_k)) for name, e in elpds.items()}
    else:
        elpds, flagged = {}, {}
        for name, idata in idatas.items():
            w = waic(idata)
            elpds[name] = ELPDData(elpd=w.elpd_waic, se=w.se, p=w.p_waic, n_samples=w.n_samples,
                                   n_data_points=w.n_data_points, scale="log", warning=w.warning, good_k=None,
                                   elpd_i=xr.DataArray(w.waic_i, dims=("obs",)))
            flagged[name] = w.warning
    table = arviz_stats.compare(elpds, round_to="none")
    out = pd.DataFrame({
        "rank": table["rank"].astype(int),
        f"elpd_{ic}": table["elpd"].astype(float),
        f"p_{ic}": table["p"].astype(float),
        "elpd_diff": 0.0 - table["elpd_diff"].astype(float),   # ArviZ 1.x: model - best (<= 0)
        "weight": table["weight"].astype(float),
        "se": table["se"].astype(float),
        "dse": table["dse"].astype(float),
        "warning": [flagged[name] for name in table.index],
        "scale": "log",
    }, index=table.index)
    return out[columns]

