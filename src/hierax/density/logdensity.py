"""Log posterior density of a hierarchical GLM, on unconstrained parameters.

The model, for observation i and random block k with levels l = g_k[i]:

    eta_i = X_i beta + offset_i + sum_k Z_k[i] . b_k[l]
    y_i ~ family(link^-1(eta_i), sigma)
    b_k[l] ~ MVN(0, diag(sd_k) R_k diag(sd_k)),   R_k = L_k L_k^T,  L_k ~ LKJ-Cholesky(eta)

Each level l of a block is held in coordinates v_l with a centring weight w_l in [0, 1] per
effect (Papaspiliopoulos, Roberts and Skold 2007; Gorinova, Moore and Hoffman 2020):

    b_l = diag(sd^(1 - w_l)) (A_l v_l - w_l * m_l),   A_l = diag(1 - w_l) L + diag(w_l),

where m_l is the mean the level varies around: its fixed coefficient plus the effects of the
coarser groups that nest it (``hierax.model.hierarchy``). w = 0 is the non-centred form
(v_l ~ N(0, I)); w = 1 makes v_l = m_l + b_l, the level's whole effect, the coordinate
(Gelfand, Sahu and Carlin 1995), with neither sd nor the correlations in the map; values between
are partially centred. The density of v_l is that of b_l times the Jacobian
|det diag(sd^(1 - w_l)) A_l| (the shift depends on other parameters only, so it adds nothing). The weights {block: (levels, q)} are an argument of the
density rather than part of the spec, so that a sampler can set them during warmup without
recompiling (``hierax.density.centering``). Blocks fixed as "noncentered" ignore the weights
(w = 0) and skip the shift and the solve. Either way the random effects are a (levels, q)
array per block and the predictor gathers rows by the integer group index: no dense Z is ever
formed.

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


def default_centering(spec: ModelSpec) -> dict:
    """The starting weights: 1 for every level of a "centered" block, 0 elsewhere."""
    return {b.name: np.full((b.num_levels, b.num_terms), float(b.parameterisation == "centered"))
            for b in spec.blocks}


def hyper_layout(spec: ModelSpec) -> tuple:
    """(name, q, has_cor) per block, coarse to fine: all a transform of the hyperparameters needs."""
    return tuple((b.name, b.num_terms, b.has_cor) for b in spec.blocks_coarse_to_fine)


def constrain_hyper(position, has_sigma: bool, layout: tuple):
    """beta, sigma and per block sd and cor_chol (identity when independent) from the unconstrained
    position, and the log-Jacobian of the map: everything but the group effects."""
    params = {"beta": position["beta"]}
    log_jac = 0.0
    if has_sigma:
        params["sigma"] = jnp.exp(position["log_sigma"])
        log_jac += position["log_sigma"]
    sds, chols = {}, {}
    for name, q, has_cor in layout:
        log_sd = position["log_sd"][name]
        sds[name] = jnp.exp(log_sd)
        log_jac += jnp.sum(log_sd)
        if has_cor:
            chols[name], jac = corr_cholesky(position["cor_raw"][name], q)
            log_jac += jac
        else:
            chols[name] = jnp.eye(q)
    if layout:
        params.update(sd=sds, cor_chol=chols)
    return params, log_jac


def make_constrain(spec: ModelSpec):
    """Build ``constrain(position, centring=None) -> (params, log_jacobian)``.

    ``params`` holds ``beta``, ``sigma`` (if any) and per block ``sd``, ``cor_chol`` (identity
    when independent) and ``b`` (levels, q): the quantities a user reads. ``centring`` holds the
    per-level weights (default: :func:`default_centering`).
    """
    default = default_centering(spec)
    layout = hyper_layout(spec)

    def constrain(position, centring=None):
        centring = default if centring is None else centring
        params, log_jac = constrain_hyper(position, spec.has_sigma, layout)
        bs = {}
        for block in spec.blocks_coarse_to_fine:
            sd, L = params["sd"][block.name], params["cor_chol"][block.name]
            v = position["z"][block.name]
            if block.parameterisation == "noncentered":      # w = 0 throughout, known when building
                b = (v @ L.T if block.has_cor else v) * sd
            else:
                weight = jnp.asarray(centring[block.name])
                rotated = (1.0 - weight) * (v @ L.T) + weight * v if block.has_cor else v
                shift = weight * parent_mean(block, position["beta"], bs)
                b = (rotated - shift) * jnp.exp((1.0 - weight) * position["log_sd"][block.name])
            bs[block.name] = b
        if spec.blocks:
            params["b"] = bs
        return params, log_jac

    return constrain


def parent_mean(block, beta, bs: dict):
    """m_l (levels, q): the fixed part of each level's mean plus the nesting blocks' effects."""
    mean = jnp.asarray(block.mean_design) @ beta
    for parent in block.parents:
        for here, there in parent.terms:
            mean = mean.at[:, here].add(bs[parent.block][parent.index, there])
    return mean


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
    """Build ``loglik(params, y=None) -> (n,)``, the log density of each observation.

    ``y`` replaces the spec's response (same length): simulated data for simulation-based
    calibration, without recompiling.
    """
    observed = jnp.asarray(spec.y)
    trials = None if spec.trials is None else jnp.asarray(spec.trials)
    scale = None if spec.se is None else jnp.asarray(spec.se)
    linear_predictor = make_linear_predictor(spec)
    family, link = spec.family, spec.link.name

    def loglik(params, y=None):
        sigma = params["sigma"] if spec.has_sigma else scale
        return family.log_likelihood(observed if y is None else y, linear_predictor(params), sigma, trials, link)

    return loglik


def hyper_priors(spec: ModelSpec) -> dict:
    """The priors of everything but the group effects, as a pytree (priors are pytrees of their
    numbers, ``hierax.model.priors``): a runtime argument of a density, so that new data with
    data-scaled default priors need no recompilation."""
    priors = {"fixed": tuple(spec.fixed_priors)}
    if spec.has_sigma:
        priors["sigma"] = spec.sigma_prior
    if spec.blocks:
        priors["sd"] = {b.name: tuple(b.sd_priors) for b in spec.blocks}
        priors["cor"] = {b.name: b.cor_prior for b in spec.blocks if b.has_cor}
    return priors


def log_prior_hyper(priors: dict, params: dict):
    """log p(beta) + log p(sigma) + log p(sds) + log p(correlations), from :func:`hyper_priors`."""
    beta = params["beta"]
    total = sum((prior.logpdf(beta[j]) for j, prior in enumerate(priors["fixed"])), 0.0)
    if "sigma" in priors:
        total += priors["sigma"].logpdf(params["sigma"])
    for name, sd_priors in priors.get("sd", {}).items():
        sd = params["sd"][name]
        total += sum(prior.logpdf(sd[k]) for k, prior in enumerate(sd_priors))
    for name, cor_prior in priors.get("cor", {}).items():
        total += cor_prior.logpdf_cholesky(params["cor_chol"][name])
    return total


def make_log_prior(spec: ModelSpec):
    """Build ``log_prior(params, position, centring) -> scalar`` (random-effect densities included)."""
    priors = hyper_priors(spec)

    def log_prior(params, position, centring):
        total = log_prior_hyper(priors, params)
        for block in spec.blocks:
            sd, L = params["sd"][block.name], params["cor_chol"][block.name]
            if block.parameterisation == "noncentered":
                v = position["z"][block.name]
                total += -0.5 * jnp.sum(v**2) - 0.5 * v.size * _LOG_2PI
            else:
                weight = jnp.asarray(centring[block.name])
                total += _random_effects_logpdf(params["b"][block.name], jnp.log(sd), L, weight, block.has_cor)
        return total

    return log_prior


def _random_effects_logpdf(b, log_sd, L, weight, has_cor):
    """Density of the coordinates v: sum over levels of log MVN(b_l; 0, diag(sd) R diag(sd))
    plus log |det diag(sd^(1 - w_l)) A_l|, A_l = diag(1 - w_l) L + diag(w_l) (lower triangular).

    The MVN's -log sd and the Jacobian's (1 - w) log sd combine into -w log sd. L is inverted
    once (q x q) and applied to every level as a product: O(levels q^2), small beside the
    likelihood's O(n q), and cheaper on a CPU than a triangular solve with many right-hand sides.
    """
    scaled = b * jnp.exp(-log_sd)
    if has_cor:
        L_inv = jax.scipy.linalg.solve_triangular(L, jnp.eye(L.shape[0]), lower=True)
        scaled = scaled @ L_inv.T
    total = -0.5 * jnp.sum(scaled**2)
    if has_cor:
        diag_L = jnp.diagonal(L)
        total += jnp.sum(jnp.log((1.0 - weight) * diag_L + weight)) - b.shape[0] * jnp.sum(jnp.log(diag_L))
    return total - jnp.sum(weight * log_sd) - 0.5 * b.size * _LOG_2PI


def make_logdensity(spec: ModelSpec):
    """Build ``logdensity(position, centring=None, data=None) -> scalar``: log posterior up to a constant.

    The position is unconstrained; ``centring`` holds the per-level weights (default: the spec's).
    ``data`` may hold ``y`` (a response of the same length) and ``weight`` (per row, multiplying
    its log-likelihood: 0 leaves a row out) as runtime arrays, so that simulated data sets and
    cross-validation folds of one model reuse one compiled sampler.

    Examples
    --------
    >>> logdensity = make_logdensity(spec)                        # doctest: +SKIP
    >>> logdensity(initial_position(jax.random.key(0), spec))     # doctest: +SKIP
    """
    constrain = make_constrain(spec)
    loglik = make_pointwise_loglik(spec)
    log_prior = make_log_prior(spec)
    default = default_centering(spec)

    def logdensity(position, centring=None, data=None):
        centring = default if centring is None else centring
        data = data or {}
        params, log_jac = constrain(position, centring)
        pointwise = loglik(params, data.get("y"))
        if data.get("weight") is not None:
            pointwise = data["weight"] * pointwise
        return jnp.sum(pointwise) + log_prior(params, position, centring) + log_jac

    return logdensity
