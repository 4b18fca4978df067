"""Sample the prior, and data simulated from it, before trusting a model.

Draws are exact and independent (ancestral sampling from each prior, then the random effects,
then the response), so no MCMC diagnostics are needed. Variables are named as in a fit's
posterior, so the same ArviZ plots compare prior and posterior.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from hierax.config import check_seed
from hierax.density import make_linear_predictor
from hierax.density.logdensity import aux_arrays, family_params_of
from hierax.errors import HieraxError
from hierax.model.build import build_model
from hierax.model.spec import ModelSpec
from hierax.results import _arviz
from hierax.results.idata import _dataset, posterior_dataset
from hierax.model.layout import PARAMS
from hierax.design.incomplete import refuse_truncated_draws


def draw_prior_params(rng_key, spec: ModelSpec) -> dict:
    """One draw of every parameter from its prior, in the layout ``make_constrain`` produces."""
    keys = iter(jax.random.split(rng_key, 4 + 4 * len(spec.blocks)))
    fixed_key = next(keys)
    beta = jnp.stack([p.sample(k) for p, k in zip(spec.fixed_priors, jax.random.split(fixed_key, max(len(spec.fixed_priors), 1)))]) \
        if spec.fixed_priors else jnp.zeros(0)
    params = {PARAMS.fixed: beta}
    for dpar in spec.scalar_dpars:              # at most 3: the keys above suffice
        params[dpar.name] = dpar.sample_prior(next(keys), spec.dpar_priors[dpar.name])
    if spec.thresholds:         # iid draws sorted: the ordered-constrained prior of the density, exactly
        params[PARAMS.thresholds] = jnp.sort(_fixed_draw(jax.random.fold_in(rng_key, 2), spec.threshold_priors))
    # a formula's coefficients and blocks from keys of their own: the draws of a model without
    # one stay what they were
    formula_keys = iter(jax.random.split(jax.random.fold_in(rng_key, 1), 1 + 4 * len(spec.all_blocks)))
    if spec.dpar_predictors:
        params[PARAMS.formula_fixed] = {p.dpar: _fixed_draw(next(formula_keys), p.fixed_priors) for p in spec.dpar_predictors}
    sds, chols, bs = {}, {}, {}
    mean_blocks = {block.name for block in spec.blocks}
    for block in spec.all_blocks:
        block_keys = keys if block.name in mean_blocks else formula_keys
        sd_keys = jax.random.split(next(block_keys), block.num_terms)
        sd = jnp.stack([p.sample(k) for p, k in zip(block.sd_priors, sd_keys)])
        L = (block.cor_prior.sample_cholesky(next(block_keys), block.num_terms) if block.has_cor
             else jnp.eye(block.num_terms))
        z = jax.random.normal(next(block_keys), (block.num_levels, block.num_terms))
        sds[block.name], chols[block.name], bs[block.name] = sd, L, (z @ L.T) * sd
    if spec.all_blocks:
        params.update(sd=sds, cor_chol=chols, b=bs)
    return params


def _fixed_draw(key, priors: tuple):
    if not priors:
        return jnp.zeros(0)
    return jnp.stack([p.sample(k) for p, k in zip(priors, jax.random.split(key, len(priors)))])


def sample_prior_spec(rng_key, spec: ModelSpec, draws: int):
    """(params, simulated responses) for ``draws`` independent prior draws, as numpy arrays."""
    refuse_truncated_draws(spec.truncation, "prior predictive data sets")
    linear_predictor, aux = make_linear_predictor(spec), aux_arrays(spec)

    @jax.jit
    def one(key):
        param_key, y_key = jax.random.split(key)
        params = draw_prior_params(param_key, spec)
        y = spec.family.sample(y_key, family_params_of(spec, params, linear_predictor(params)), aux)
        return params, y

    params, y = jax.device_get(jax.lax.map(one, jax.random.split(rng_key, draws)))
    for dpar in spec.scalar_dpars:
        if np.isnan(params[dpar.name]).any():
            raise HieraxError(f"the prior {spec.dpar_priors[dpar.name]} for {dpar.name} puts almost no probability "
                              f"above {dpar.lower:g}, the least value {dpar.name} can take; give a prior with "
                              f"most of its mass above {dpar.lower:g}")
    return params, y


def sample_prior(formula: str, data, family: str = "gaussian", link: str | None = None, priors: dict | None = None,
                 draws: int = 1000, seed: int | None = None):
    """Draw from the prior and the prior predictive distribution of a model.

    Parameters
    ----------
    formula, data, family, link, priors : as for :func:`hierax.fit`.
    draws : number of independent draws.
    seed : seed for the random draws.

    Returns
    -------
    arviz.InferenceData (ArviZ 0.23) or xarray.DataTree (ArviZ 1.x)
        Groups ``prior`` (parameters, named as in a fit's posterior), ``prior_predictive``
        (simulated responses) and ``observed_data``.

    Examples
    --------
    >>> prior = hx.sample_prior("y ~ x + (1 | g)", data, draws=500, seed=1)   # doctest: +SKIP
    """
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise HieraxError(f"draws must be a whole number >= 1, got {draws!r}")
    design, spec = build_model(formula, data, family, link, priors)
    params, y = sample_prior_spec(jax.random.PRNGKey(check_seed(seed)), spec, draws)
    params = jax.tree_util.tree_map(lambda x: np.asarray(x)[None], params)
    variables, coords = posterior_dataset(spec, params)
    obs = {"obs": np.arange(spec.num_obs)}
    name = design.response_name
    predictive = _dataset({name: (("chain", "draw", "obs"), np.asarray(y)[None])}, obs)
    observed = xr.Dataset({name: xr.DataArray(spec.y, dims=("obs",))}, coords=obs)
    return _arviz.results(prior=_dataset(variables, coords), prior_predictive=predictive, observed_data=observed)


def sample_prior_predictive(model, draws: int = 1000, seed: int | None = None):
    """:func:`sample_prior` for a :func:`hierax.model` (its formula, data, family and priors)."""
    return sample_prior(model.formula, model.data, model.family, model.link, model.spec_priors(), draws, seed)
