"""Log posterior density of a hierarchical GLM, on unconstrained parameters.

The model, for observation i and random block k with levels l = g_k[i]:

    eta_i = X_i beta + offset_i + sum_k Z_k[i] . b_k[l]
    y_i ~ family(link^-1(eta_i), sigma)
    b_k[l] ~ MVN(0, diag(sd_k) R_k diag(sd_k)),   R_k = L_k L_k^T,  L_k ~ LKJ-Cholesky(eta)

Non-centred blocks hold z_k[l] ~ N(0, I) and set b_k[l] = diag(sd_k) L_k z_k[l]; centred
blocks hold b_k directly. Either way the random effects are a (levels, q) array per block and
the predictor gathers rows by the integer group index: no dense Z is ever formed.

Position layout (a dict pytree of unconstrained arrays):
``beta`` (p,), ``log_sigma`` (), ``log_sd`` {block: (q,)}, ``cor_raw`` {block: (q(q-1)/2,)},
``z`` {block: (levels, q)}.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from hierax.density.transforms import corr_cholesky, num_cor_params
from hierax.model.spec import ModelSpec

_LOG_2PI = float(np.log(2.0 * np.pi))


def position_shapes(spec: ModelSpec) -> dict:
    """Shape of every unconstrained array in the position, in layout order."""
    shapes = {"beta": (len(spec.fixed_names),)}
    if spec.has_sigma:
        shapes["log_sigma"] = ()
    if spec.blocks:
        shapes["log_sd"] = {b.name: (b.num_terms,) for b in spec.blocks}
        cors = {b.name: (num_cor_params(b.num_terms),) for b in spec.blocks if b.has_cor}
        if cors:
            shapes["cor_raw"] = cors
        shapes["z"] = {b.name: (b.num_levels, b.num_terms) for b in spec.blocks}
    return shapes


def make_constrain(spec: ModelSpec):
    """Build ``constrain(position) -> (params, log_jacobian)``.

    ``params`` holds ``beta``, ``sigma`` (if any) and per block ``sd``, ``cor_chol`` (identity
    when independent) and ``b`` (levels, q): the quantities a user reads.
    """
    blocks = spec.blocks

    def constrain(position):
        params = {"beta": position["beta"]}
        log_jac = 0.0
        if spec.has_sigma:
            params["sigma"] = jnp.exp(position["log_sigma"])
            log_jac += position["log_sigma"]
        sds, chols, bs = {}, {}, {}
        for block in blocks:
            log_sd = position["log_sd"][block.name]
            sd = jnp.exp(log_sd)
            log_jac += jnp.sum(log_sd)
            if block.has_cor:
                L, jac = corr_cholesky(position["cor_raw"][block.name], block.num_terms)
                log_jac += jac
            else:
                L = jnp.eye(block.num_terms)
            z = position["z"][block.name]
            if block.parameterisation == "noncentered":
                b = (z @ L.T) * sd if block.has_cor else z * sd
            else:
                b = z
            sds[block.name], chols[block.name], bs[block.name] = sd, L, b
        if blocks:
            params.update(sd=sds, cor_chol=chols, b=bs)
        return params, log_jac

    return constrain


def make_linear_predictor(spec: ModelSpec):
    """Build ``eta(params) -> (n,)``: fixed part plus each block's gathered effects."""
    X = jnp.asarray(spec.X)
    offset = jnp.zeros(spec.num_obs) if spec.offset is None else jnp.asarray(spec.offset)
    block_data = [(b.name, jnp.asarray(b.Z), jnp.asarray(b.group_index)) for b in spec.blocks]

    def linear_predictor(params):
        eta = X @ params["beta"] + offset
        for name, Z, group_index in block_data:
            eta = eta + jnp.sum(Z * params["b"][name][group_index], axis=1)
        return eta

    return linear_predictor


def make_pointwise_loglik(spec: ModelSpec):
    """Build ``loglik(params) -> (n,)``, the log density of each observation."""
    y = jnp.asarray(spec.y)
    trials = None if spec.trials is None else jnp.asarray(spec.trials)
    scale = None if spec.se is None else jnp.asarray(spec.se)
    linear_predictor = make_linear_predictor(spec)
    family, link = spec.family, spec.link.name

    def loglik(params):
        sigma = params["sigma"] if spec.has_sigma else scale
        return family.log_likelihood(y, linear_predictor(params), sigma, trials, link)

    return loglik


def make_log_prior(spec: ModelSpec):
    """Build ``log_prior(params, position) -> scalar`` (random-effect densities included)."""
    fixed_priors = spec.fixed_priors

    def log_prior(params, position):
        beta = params["beta"]
        total = sum(prior.logpdf(beta[j]) for j, prior in enumerate(fixed_priors)) if fixed_priors else 0.0
        if spec.has_sigma:
            total += spec.sigma_prior.logpdf(params["sigma"])
        for block in spec.blocks:
            sd = params["sd"][block.name]
            total += sum(prior.logpdf(sd[k]) for k, prior in enumerate(block.sd_priors))
            L = params["cor_chol"][block.name]
            if block.has_cor:
                total += block.cor_prior.logpdf_cholesky(L)
            total += _random_effects_logpdf(block, position["z"][block.name], sd, L)
        return total

    return log_prior


def _random_effects_logpdf(block, z, sd, L):
    """Standard normal on z (non-centred) or MVN(0, diag(sd) R diag(sd)) on b (centred)."""
    if block.parameterisation == "noncentered":
        return -0.5 * jnp.sum(z**2) - 0.5 * z.size * _LOG_2PI
    chol = sd[:, None] * L
    white = jax.scipy.linalg.solve_triangular(chol, z.T, lower=True)
    return (-0.5 * jnp.sum(white**2) - block.num_levels * jnp.sum(jnp.log(jnp.diagonal(chol)))
            - 0.5 * z.size * _LOG_2PI)


def make_logdensity(spec: ModelSpec):
    """Build ``logdensity(position) -> scalar``: log posterior up to a constant, unconstrained.

    Examples
    --------
    >>> logdensity = make_logdensity(spec)                        # doctest: +SKIP
    >>> logdensity(initial_position(jax.random.key(0), spec))     # doctest: +SKIP
    """
    constrain = make_constrain(spec)
    loglik = make_pointwise_loglik(spec)
    log_prior = make_log_prior(spec)

    def logdensity(position):
        params, log_jac = constrain(position)
        return jnp.sum(loglik(params)) + log_prior(params, position) + log_jac

    return logdensity
