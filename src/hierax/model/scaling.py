"""Fixed-effect columns far from unit scale, sampled on unit scale.

A predictor in dollars (x 1e6) gives its coefficient a posterior sd near 1e-7 beside sds near 1
for everything else. The sampler's metric learns such scales in warm-up, but its first steps,
its starting points and its first metric do not know them, and on a logistic model with x in
millions NUTS ended with every draw at maximum tree depth and a bulk ESS of 4 (at unit scale:
1,515). Sampling beta_s = beta * s for columns X / s, with s the power of two nearest the
column's root mean square, removes the problem; the prior on beta_s is the prior on beta
stretched by s (both are location-scale: Normal, StudentT), a linear change whose Jacobian is
constant, so the posterior is the same. A power of two divides exactly, so the sampled columns
have the same bits wherever X is (in memory, or summed over chunks out of core: the RMS itself
differs there in its last bit, the power of two nearest it does not). Columns within
``UNIT_RANGE`` of unit scale are left alone: most models are unchanged, draw for draw.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hierax.linalg.columns import column_scales

UNIT_RANGE = (1e-2, 1e2)


def sampling_scales(X: np.ndarray) -> np.ndarray:
    """The scale each column is sampled on: the power of two nearest its RMS where that lies
    outside ``UNIT_RANGE``, else 1."""
    return _outside_unit_range(column_scales(X))


def _outside_unit_range(rms: np.ndarray) -> np.ndarray:
    low, high = UNIT_RANGE
    return np.where((rms < low) | (rms > high), np.exp2(np.round(np.log2(rms))), 1.0)


def unit_scaled(spec):
    """``(spec on columns X / s, s)``: the same model for beta_s = beta * s (``spec`` itself if s = 1).

    Out-of-core data (``spec.rows_elsewhere``) give the columns' RMS from their sums, and the
    sums are rescaled with them (their ``scaled``)."""
    rows = spec.rows_elsewhere
    if rows is None:
        scale = sampling_scales(spec.X)
    else:
        rms = rows.sums.column_rms()
        scale = _outside_unit_range(np.where(np.isfinite(rms) & (rms > 0), rms, 1.0))
    if np.all(scale == 1.0):
        return spec, scale
    if rows is not None:
        spec = dataclasses.replace(spec, rows_elsewhere=dataclasses.replace(rows, sums=rows.sums.scaled(scale)))
    priors = tuple(_stretched(prior, s) for prior, s in zip(spec.fixed_priors, scale))
    blocks = tuple(block if block.mean_design is None else
                   dataclasses.replace(block, mean_design=block.mean_design / scale) for block in spec.blocks)
    return dataclasses.replace(spec, X=spec.X / scale, fixed_priors=priors, blocks=blocks), scale


def _stretched(prior, s: float):
    """The prior of s * beta for the prior of beta (a location-scale prior on the real line)."""
    if s == 1.0:
        return prior
    return dataclasses.replace(prior, mu=prior.mu * s, sigma=prior.sigma * s)
