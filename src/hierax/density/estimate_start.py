"""Starts at the Laplace engine's estimates, for GLMMs with many levels sampled in full.

NUTS's warmup measures the curvature at the chains' starts to set its first metric
(``hierax.engines.metric``), and its first window adapts the step size from there. With J levels a
group sd's posterior is narrow (the sd of its log is about 1 / sqrt(2 J), 0.01 at J = 5,000),
and the crude start (:mod:`hierax.density.init`: sds at half the data's scale, give or take a
factor of e^0.5) sits tens of posterior sds away. There the curvature in the log sd is small or
not even positive, the first metric is 14 to 26 times too wide in those coordinates, and the first
window's trees took 438 leapfrog steps a draw against 14 to 25 later (model (a) of
``benchmarks/nuts_scale.py``). The Laplace engine's fit of the same likelihood (lme4's method)
puts the sds within a few posterior sds of the posterior's centre, for about the cost of one
second of warmup at 100,000 rows; chains start there, spread by a few posterior sds, so that R-hat
can still see chains that disagree. The group effects then move to their conditional mode
(``hierax.engines.mode.conditional_modes``), as from any start.

This is a start, not an answer: where the engine cannot fit the model (separation, a formula it
does not take, an optimiser that fails), the crude start stays. Which models start here is the
sampler's choice (``hierax.sampler``).
"""

from __future__ import annotations

import numpy as np

from hierax.density.init import crude_fit
from hierax.density.likelihood import dpar_start, family_likelihood, row_data
from hierax.model.layout import POSITION
from hierax.model.spec import ModelSpec

SPREAD = 3.0        # the chains' half-width around the estimates, in (approximate) posterior sds


def laplace_estimates(spec: ModelSpec):
    """The Laplace engine's fit of ``spec``'s likelihood (``hierax.engines.laplace.fit_glmm``,
    no priors), or None where it fails: a start needs no error of its own."""
    from hierax.engines.laplace import fit_glmm
    from hierax.model.separation import check_separation

    try:
        check_separation(spec)      # estimates at infinity: nothing to start from
        return fit_glmm(spec.X, spec.y, list(spec.blocks), family_likelihood(spec), trials=row_data(spec),
                        offset=spec.offset, phi_start=dpar_start(spec), beta_start=crude_fit(spec)[0])
    except Exception:       # noqa: BLE001 -- any failure leaves the crude start, which always works
        return None


def at_estimates(positions: dict, spec: ModelSpec, output, rng: np.random.Generator) -> dict:
    """``positions`` (leading chain axis) with the log sds, correlations and family parameters
    moved to ``output``'s estimates, each chain spread uniformly by ``SPREAD`` approximate
    posterior sds: 1 / sqrt(2 J) for a log sd and 1 / sqrt(J) for a correlation's raw value
    (J levels), the engine's standard error for a family parameter. A singular estimate (an sd
    at zero) starts at a tenth of the crude start's sd instead, inside the support."""
    moved = dict(positions)
    chains = np.shape(next(iter(positions[POSITION.log_sd].values())))[0]
    floor = 0.1 * 0.5 * (crude_fit(spec)[1] if spec.family.location else 1.0)
    log_sd, cor_raw = dict(positions[POSITION.log_sd]), dict(positions.get(POSITION.cor_raw, {}))
    for block, factor in zip(spec.blocks, output.factors):
        covariance = factor @ factor.T
        sd = np.sqrt(np.diag(covariance))
        width = min(0.5, SPREAD / np.sqrt(2.0 * block.num_levels))
        log_sd[block.name] = np.log(np.maximum(sd, floor)) + rng.uniform(-width, width, (chains, len(sd)))
        if block.name in cor_raw:
            raw = correlation_raw(covariance, sd)
            width = min(0.2, SPREAD / np.sqrt(block.num_levels))
            cor_raw[block.name] = raw + rng.uniform(-width, width, (chains, len(raw)))
    moved[POSITION.log_sd] = log_sd
    if cor_raw:
        moved[POSITION.cor_raw] = cor_raw
    if spec.scalar_dpars and len(output.phi) >= len(spec.scalar_dpars):
        se = np.sqrt(np.clip(np.diag(output.vcov_phi)[:len(spec.scalar_dpars)], 0.0, None))
        scalars = {}
        for k, dpar in enumerate(spec.scalar_dpars):
            width = float(min(0.5, SPREAD * se[k])) if np.isfinite(se[k]) else 0.5
            scalars[dpar.name] = output.phi[k] + rng.uniform(-width, width, chains)
        moved[POSITION.scalars] = scalars
    return moved


def correlation_raw(covariance: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """The unconstrained values that ``hierax.density.transforms.corr_cholesky`` maps to the
    correlation matrix of ``covariance``: arctanh of the canonical partial correlations, row by
    row. An sd at zero leaves its correlations at 0; partial correlations are kept inside
    (-0.95, 0.95), away from the boundary where the transform's curvature explodes."""
    q = len(sd)
    safe = np.where(sd > 0, sd, 1.0)
    corr = np.where(np.outer(sd > 0, sd > 0), covariance / np.outer(safe, safe), 0.0)
    corr[np.diag_indices(q)] = 1.0
    try:
        L = np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:       # a correlation of +-1 (a singular fit): start uncorrelated
        return np.zeros(q * (q - 1) // 2)
    raw = []
    for i in range(1, q):
        remaining = 1.0
        for j in range(i):
            partial = np.clip(L[i, j] / np.sqrt(remaining), -0.95, 0.95)
            raw.append(np.arctanh(partial))
            remaining -= L[i, j] ** 2
    return np.asarray(raw, dtype=float)
