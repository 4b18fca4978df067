"""Fit out-of-core data: a scan, a statistics pass, then the engine on the sums (package docstring)."""

from __future__ import annotations

import time
from functools import partial

import numpy as np

from hierax._threads import blas_limit
from hierax.design.summary import Scan, check_summarisable, scan_rows, summarised_design
from hierax.engines.lmm import check_residuals, fit_cross_products
from hierax.errors import ModelError
from hierax.formula import as_bf
from hierax.model.summarised import specify_summarised
from hierax.outofcore.passes import over_partitions
from hierax.outofcore.source import dask_frame
from hierax.outofcore.statistics import chunk_statistics, merge_statistics


def summarise(formula, data, family: str, link: str | None):
    """(formula as text, the summarised design, the spec with the sums) of out-of-core ``data``."""
    bf = as_bf(formula)
    if bf.dpars:
        raise ModelError("a formula for a distributional parameter (sigma ~ x) is not available for out-of-core data; "
                         "fit a data frame in memory")
    mean = bf.mean
    check_summarisable(mean)
    frame = dask_frame(data, mean.variables)
    scan = over_partitions(frame, partial(scan_rows, mean), Scan.merge)
    design = summarised_design(mean, scan)
    sums = over_partitions(frame, partial(chunk_statistics, design), merge_statistics)
    y = sums.response
    spec = specify_summarised(design, family, link, y.low, y.high, sums.distinct, sums.R, mean.offset is not None,
                              sums)
    return str(bf), design, spec


def fit_lmm_summarised(formula, data, family: str = "gaussian", method: str = "reml", link: str | None = None):
    """REML or ML of a gaussian mixed model of out-of-core data: (formula text, design, spec,
    engine output, timing), which ``hx.fit`` makes a MixedFit.

    The fit is the in-memory fit of the same rows (the same estimates, to rounding): the engine
    reads only the cross-products, here sums over chunks.
    """
    if method not in ("reml", "ml"):
        raise ModelError(f"out-of-core data are fitted by method='reml' or 'ml', not {method!r}")
    start = time.perf_counter()
    text, design, spec = summarise(formula, data, family, link)
    if not spec.blocks:
        raise ModelError("the formula has no group terms such as (1 | g); a linear model without them needs no REML")
    sums = spec.rows_elsewhere.sums
    p = len(spec.fixed_names)
    residual = abs(float(sums.R[p, p])) / np.sqrt(spec.num_obs) if sums.R.shape[0] > p else 0.0
    check_residuals(sums.response.low, sums.response.high, residual, design.info.formula.offset is not None)
    timing = {"setup": time.perf_counter() - start}
    start = time.perf_counter()
    with blas_limit():
        output = fit_cross_products(sums.shape, sums.cross, reml=(method == "reml"))
    timing["optimisation"] = time.perf_counter() - start
    return text, design, spec, output, timing
