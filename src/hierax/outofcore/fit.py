"""Fit out-of-core data: a scan, a statistics pass, then the engine on the sums (package docstring)."""

from __future__ import annotations

import dataclasses
import time
from functools import partial

import numpy as np

from hierax._threads import blas_limit
from hierax.density.collapsed_sums import finish, reference_point
from hierax.design.summary import Scan, check_summarisable, scan_rows, summarised_design
from hierax.engines.lmm import check_residuals, fit_cross_products
from hierax.errors import ModelError
from hierax.formula import as_bf
from hierax.model.scaling import unit_scaled
from hierax.model.summarised import specify_summarised
from hierax.outofcore.passes import over_partitions
from hierax.outofcore.source import dask_frame
from hierax.outofcore.statistics import (
    add_sums, chunk_level_sums, chunk_reference_sums, chunk_statistics, merge_statistics,
)


def summarise(formula, data, family: str, link: str | None, priors: dict | None = None, parameterisation=None,
              bayesian: bool = False):
    """(formula as text, the summarised design, the spec with the sums, the Dask frame) of
    out-of-core ``data``: the scan and the statistics pass."""
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
    spec = specify_summarised(design, family, link, sums, priors, parameterisation, bayesian)
    return str(bf), design, spec, frame


def nuts_model(formula, data, family: str, link: str | None, priors: dict | None, parameterisation):
    """(formula text, design, spec, the spec the sampler samples, its columns' scales) of
    out-of-core data for NUTS. Two more passes form the collapsed sampler's statistics by exact
    sums on the sampled columns (``model.scaling.unit_scaled``): the reference point's equations,
    then the per-level sums around it (``density.collapsed_sums``), the same bits as
    ``density.collapsed.collapsed_statistics`` gives the same rows in memory."""
    text, design, spec, frame = summarise(formula, data, family, link, priors, parameterisation, bayesian=True)
    if len(spec.blocks) != 1:
        raise ModelError(f"method='nuts' on out-of-core data takes one grouping factor so far (this model has "
                         f"{len(spec.blocks)}); fit it by method='reml', or a data frame in memory by NUTS")
    sampled, scale = unit_scaled(spec)
    rows = sampled.rows_elsewhere
    bounds = rows.sums.bounds()
    reference = over_partitions(frame, partial(chunk_reference_sums, design, scale, bounds), add_sums)
    beta_ref = reference_point(reference, bounds)
    level = over_partitions(frame, partial(chunk_level_sums, design, scale, bounds, beta_ref), add_sums)
    group = finish(level, bounds, beta_ref)
    sampled = dataclasses.replace(sampled, rows_elsewhere=dataclasses.replace(rows, sums=rows.sums._replace(group=group)))
    return text, design, spec, sampled, scale


def fit_lmm_summarised(formula, data, family: str = "gaussian", method: str = "reml", link: str | None = None):
    """REML or ML of a gaussian mixed model of out-of-core data: (formula text, design, spec,
    engine output, timing), which ``hx.fit`` makes a MixedFit.

    The fit is the in-memory fit of the same rows (the same estimates, to rounding): the engine
    reads only the cross-products, here sums over chunks.
    """
    if method not in ("reml", "ml"):
        raise ModelError(f"out-of-core data are fitted by method='reml' or 'ml', not {method!r}")
    start = time.perf_counter()
    text, design, spec, _ = summarise(formula, data, family, link)
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
