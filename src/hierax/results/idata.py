"""Turn engine output into ArviZ results (``InferenceData`` with ArviZ 0.23, xarray's ``DataTree``
with ArviZ 1.x) with readable names and coordinates.

Posterior variables: ``beta`` (dim ``fixed``), ``beta_<dpar>`` (dim ``fixed_<dpar>``) for each
parameter with a formula (``sigma ~ x``), the family's scalar parameters by their names
(``sigma``, ``shape``, ``nu``, ``phi``, ``zi``, ``hu``), an ordinal model's ``thresholds`` (dim
``threshold``), and per random block ``name``:
``sd_<name>`` (dim ``<name>__term``), ``cor_<name>`` (dim ``<name>__pair``, one entry per pair
of effects, labelled ``a,b``), and ``b_<name>`` (dims ``<name>__level``, ``<name>__term``): the
group-level deviations from the fixed effects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING


import jax
import numpy as np

from hierax._programs import program_cache
from hierax.density.logdensity import pointwise_loglik, model_arrays, structure_of
from hierax.engines.quick import quick_jit
from hierax.model.spec import ModelSpec
from hierax.results import _arviz
from hierax.model.layout import PARAMS
from hierax.model import layout

if TYPE_CHECKING:                     # xarray loads when a result is built: not on a REML fit's path
    import xarray as xr


def cor_pairs(terms: tuple) -> list[tuple[int, int]]:
    """Index pairs (i, j), i < j, in lme4's order: (1,2), (1,3), ..., (2,3), ..."""
    return [(i, j) for i in range(len(terms)) for j in range(i + 1, len(terms))]


LOGLIK_LIMIT = 50_000_000   # draws x rows of pointwise log-likelihood kept in a fit (400 MB)


def pointwise_loglik_draws(spec: ModelSpec, params: dict, batch_values: int = 5_000_000):
    """log p(y_i | draw) for every draw and row (chain, draw, obs), conditional on the group
    effects; None when it would exceed :data:`LOGLIK_LIMIT` values (then LOO is not available
    from the fit, and the fit says so)."""
    chains, draws = jax.tree_util.tree_leaves(params)[0].shape[:2]
    if chains * draws * spec.num_obs > LOGLIK_LIMIT or spec.rows_elsewhere is not None:
        return None
    loglik, arrays = _batch_loglik(structure_of(spec)), model_arrays(spec)
    flat = jax.tree_util.tree_map(lambda x: x.reshape((chains * draws,) + x.shape[2:]), params)
    total = chains * draws
    batch = min(total, max(1, batch_values // max(spec.num_obs, 1)))
    out = np.empty((total, spec.num_obs))
    for start in range(0, total, batch):      # the last batch padded, so one compiled function serves all
        rows = np.arange(start, start + batch) % total
        stop = min(start + batch, total)
        out[start:stop] = np.asarray(loglik(jax.tree_util.tree_map(lambda x: x[rows], flat), arrays))[:stop - start]
    if spec.weights is not None:            # weights(w): each row's term as the density counts it (brms's log_lik)
        out *= spec.weights
    return out.reshape(chains, draws, spec.num_obs)


@program_cache(maxsize=16)
def _batch_loglik(structure):
    """Pointwise log-likelihood of a batch of draws, the data as an argument (shared by structure)."""
    return quick_jit(jax.vmap(lambda params, arrays: pointwise_loglik(structure, params, arrays), in_axes=(0, None)))


def posterior_dataset(spec: ModelSpec, params) -> dict:
    """Named posterior arrays and their dims/coords from constrained parameters."""
    variables = {layout.FIXED_VARIABLE: (("chain", "draw", layout.fixed_dim()), params[PARAMS.fixed])}
    coords = {layout.fixed_dim(): list(spec.fixed_names)}
    for predictor in spec.dpar_predictors:
        dim = layout.fixed_dim(predictor.dpar)
        variables[layout.variable("fixed", dpar=predictor.dpar)] = (("chain", "draw", dim), params[PARAMS.formula_fixed][predictor.dpar])
        coords[dim] = list(predictor.fixed_names)
    for dpar in spec.scalar_dpars:
        variables[dpar.name] = (("chain", "draw"), params[dpar.name])
    if spec.thresholds:
        variables[layout.THRESHOLDS_VARIABLE] = (("chain", "draw", layout.THRESHOLD_DIM), params[PARAMS.thresholds])
        coords[layout.THRESHOLD_DIM] = threshold_labels(spec)
    for block in spec.all_blocks:
        term_dim, level_dim = layout.term_dim(block), layout.level_dim(block)
        coords[term_dim] = list(block.terms)
        coords[level_dim] = list(block.levels)
        variables[layout.variable("sd", block)] = (("chain", "draw", term_dim), params[PARAMS.sd][block.name])
        if block.has_cor:
            L = params[PARAMS.cor_chol][block.name]
            R = np.einsum("cdik,cdjk->cdij", L, L)
            pairs = cor_pairs(block.terms)
            coords[layout.pair_dim(block)] = [f"{block.terms[i]},{block.terms[j]}" for i, j in pairs]
            values = np.stack([R[..., i, j] for i, j in pairs], axis=-1)
            variables[layout.variable("cor", block)] = (("chain", "draw", layout.pair_dim(block)), values)
        variables[layout.variable("effects", block)] = (("chain", "draw", level_dim, term_dim), params[PARAMS.effects][block.name])
    return variables, coords


def effect_draws(idata, block) -> np.ndarray:
    """A block's effects b, (chain, draw, level, q), in the order of ``block.levels``."""
    return idata.posterior[layout.variable("effects", block)].values


def sd_draws(idata, block) -> np.ndarray:
    """A block's sds, (chain, draw, q)."""
    return idata.posterior[layout.variable("sd", block)].values


def threshold_labels(spec: ModelSpec) -> list:
    """An ordinal model's thresholds as brms names them: Intercept[1], ..., Intercept[K-1]."""
    return [layout.threshold_label(k) for k in range(1, spec.thresholds + 1)]


def _dataset(variables: dict, coords: dict) -> xr.Dataset:
    import xarray as xr

    chains, draws = next(iter(variables.values()))[1].shape[:2]
    base = {"chain": np.arange(chains), "draw": np.arange(draws)}
    used = {d for dims, _ in variables.values() for d in dims}
    all_coords = base | {k: v for k, v in coords.items() if k in used}
    return xr.Dataset({k: xr.DataArray(v, dims=dims) for k, (dims, v) in variables.items()}, coords=all_coords)


def build_inference_data(spec: ModelSpec, output, response_name: str, params: dict):
    """Posterior, log-likelihood (unless too large, see :func:`pointwise_loglik_draws`), sample
    stats and observed data for a NUTS run; ``params`` are its constrained draws."""
    import xarray as xr

    loglik = pointwise_loglik_draws(spec, params)
    variables, coords = posterior_dataset(spec, params)
    chains, draws = output.diverging.shape
    stats = {
        "diverging": output.diverging,
        "tree_depth": output.tree_depth,
        "n_steps": output.num_steps,
        "energy": output.energy,
        "acceptance_rate": output.acceptance_rate,
        "lp": output.logdensity,
        "step_size": np.repeat(np.asarray(output.step_size).reshape(chains, 1), draws, axis=1),
    }
    sample_stats = _dataset({k: (("chain", "draw"), v) for k, v in stats.items()}, {})
    obs = {"obs": np.arange(spec.num_obs)}
    groups = dict(posterior=_dataset(variables, coords), sample_stats=sample_stats)
    if spec.rows_elsewhere is None:         # out-of-core data: the rows stay where they are
        groups["observed_data"] = xr.Dataset({response_name: xr.DataArray(spec.y, dims=("obs",))}, coords=obs)
    if loglik is not None:
        groups["log_likelihood"] = _dataset({response_name: (("chain", "draw", "obs"), loglik)}, obs)
    return _arviz.results(**groups)
