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

The density is built from a hashable :class:`Structure` (family, link, the blocks' shapes and
nesting) and takes the data (:func:`model_arrays`), the priors (:func:`hyper_priors`) and the
centring weights at run time, so every model of one structure and size shares one compiled
sampler: a refit to new data (a bootstrap, a cross-validation fold, a simulated data set)
compiles nothing, and no data set is baked into a compiled program as a constant.

Position layout (a dict pytree of unconstrained arrays):
``beta`` (p,), ``scalars`` {dpar: ()} (each of the family's scalar parameters on its link's
scale: log sigma, log shape, logit zi), ``log_sd`` {block: (q,)}, ``cor_raw`` {block:
(q(q-1)/2,)}, ``z`` {block: (levels, q)}.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from typing import NamedTuple

from hierax._programs import program_cache
from hierax.density.transforms import corr_cholesky, num_cor_params, ordered
from hierax.density.incomplete import incomplete_loglik
from hierax.model.families import LINKS, Family, Mu
from hierax.model.spec import ModelSpec, with_known
from hierax.model.layout import PARAMS, POSITION

_LOG_2PI = float(np.log(2.0 * np.pi))


def position_shapes(spec: ModelSpec) -> dict:
    """Shape of every unconstrained array in the position, in layout order."""
    shapes = {PARAMS.fixed: (len(spec.fixed_names),)}
    if spec.dpar_predictors:
        shapes[PARAMS.formula_fixed] = {p.dpar: (p.num_fixed,) for p in spec.dpar_predictors}
    if spec.scalar_dpars:
        shapes[POSITION.scalars] = {d.name: () for d in spec.scalar_dpars}
    if spec.thresholds:
        shapes[PARAMS.thresholds] = (spec.thresholds,)
    blocks = spec.all_blocks
    if blocks:
        shapes[POSITION.log_sd] = {b.name: (b.num_terms,) for b in blocks}
        cors = {b.name: (num_cor_params(b.num_terms),) for b in blocks if b.has_cor}
        if cors:
            shapes[POSITION.cor_raw] = cors
        shapes[POSITION.effects] = {b.name: (b.num_levels, b.num_terms) for b in blocks}
    return shapes


def default_centering(spec: ModelSpec) -> dict:
    """The starting weights: 1 for every level of a "centered" block, 0 elsewhere."""
    return {b.name: np.full((b.num_levels, b.num_terms), float(b.parameterisation == "centered"))
            for b in spec.all_blocks}


def hyper_layout(spec: ModelSpec) -> tuple:
    """(name, q, has_cor) per block, coarse to fine: all a transform of the hyperparameters needs."""
    return tuple((b.name, b.num_terms, b.has_cor) for b in spec.blocks_coarse_to_fine)


def constrain_hyper(position, scalars: tuple, layout: tuple):
    """beta, the family's scalar parameters (``scalars``: (name, link) pairs, each sampled on its
    link's scale), per block sd and cor_chol (identity when independent) from the unconstrained
    position, and the log-Jacobian of the map: everything but the group effects."""
    params = {PARAMS.fixed: position[PARAMS.fixed]}
    if PARAMS.formula_fixed in position:
        params[PARAMS.formula_fixed] = position[PARAMS.formula_fixed]
    log_jac = 0.0
    for name, link in scalars:
        u = position[POSITION.scalars][name]
        params[name] = LINKS[link].inverse(u)
        log_jac += LINKS[link].log_derivative(u)
    if PARAMS.thresholds in position:                    # an ordinal model's, increasing
        params[PARAMS.thresholds], jac = ordered(position[PARAMS.thresholds])
        log_jac += jac
    sds, chols = {}, {}
    for name, q, has_cor in layout:
        log_sd = position[POSITION.log_sd][name]
        sds[name] = jnp.exp(log_sd)
        log_jac += jnp.sum(log_sd)
        if has_cor:
            chols[name], jac = corr_cholesky(position[POSITION.cor_raw][name], q)
            log_jac += jac
        else:
            chols[name] = jnp.eye(q)
    if layout:
        params.update(sd=sds, cor_chol=chols)
    return params, log_jac


class Structure(NamedTuple):
    """What a density's code depends on, as opposed to its runtime data: hashable."""

    family: Family
    link: str
    scalars: tuple                      # (name, link) of each scalar dpar
    predictors: tuple                   # (name, link) of each dpar with a formula
    known: tuple                        # names of the dpars the data fix (se() fixes sigma)
    blocks: tuple                       # each block's Block.shape, coarse to fine
    incomplete: tuple = ()              # "censoring", "truncation": rows the data record in part


def structure_of(spec: ModelSpec) -> Structure:
    blocks = tuple(b.shape for b in spec.blocks_coarse_to_fine)
    blocks += tuple(b.shape for p in spec.dpar_predictors for b in p.blocks)
    predictors = tuple((p.dpar, p.link.name) for p in spec.dpar_predictors)
    return Structure(spec.family, spec.link.name, scalar_links(spec), predictors, tuple(spec.known_dpars()), blocks,
                     spec.incomplete)


def scalar_links(spec: ModelSpec) -> tuple:
    """(name, link) of each of the family's scalar parameters: what :func:`constrain_hyper` reads."""
    return tuple((d.name, d.link) for d in spec.scalar_dpars)


def model_arrays(spec: ModelSpec, y=None, weight=None) -> dict:
    """The data a density reads at run time: the fixed design (:func:`fixed_design`), response,
    the blocks' arrays, and the log-likelihood's constant per row (``log_constant``: it depends
    on the data alone, so it is computed here once, not in every gradient; left out for a traced
    response)."""
    y = spec.y if y is None else y
    arrays = {"fixed_design": fixed_design(spec), "y": y,
              "offset": np.zeros(spec.num_obs) if spec.offset is None else spec.offset,
              "Z": {b.name: b.Z for b in spec.all_blocks},
              "index": {b.name: _int32(b.group_index) for b in spec.all_blocks},
              "parent_index": {b.name: tuple(_int32(p.index) for p in b.parents) for b in spec.all_blocks},
              "dpar_X": {p.dpar: np.asarray(p.X, dtype=float) for p in spec.dpar_predictors},
              "dpar_offset": {p.dpar: np.zeros(spec.num_obs) if p.offset is None else p.offset
                              for p in spec.dpar_predictors}}
    arrays["aux"] = {k: np.asarray(v, dtype=float) for k, v in spec.family_aux().items()}
    arrays["known"] = {k: np.asarray(v, dtype=float) for k, v in spec.known_dpars().items()}
    if spec.censoring is not None:
        arrays["censoring"] = {"code": np.asarray(spec.censoring.code, np.int32), "y2": spec.censoring.y2}
    if spec.truncation is not None:
        arrays["truncation"] = {"lower": spec.truncation.lower, "upper": spec.truncation.upper}
    weight = combined_weights(spec, weight)
    if weight is not None:
        arrays["weight"] = weight
    if not isinstance(y, jax.core.Tracer):
        constant = spec.family.log_constant(np.asarray(y, dtype=float), arrays["aux"])
        arrays["log_constant"] = np.broadcast_to(np.asarray(constant, dtype=float), (spec.num_obs,))
    return jax.tree_util.tree_map(jnp.asarray, arrays)


def combined_weights(spec: ModelSpec, weight=None):
    """Each row's multiplier of its log-likelihood: the model's weights(w) times a runtime
    ``weight`` (0 leaves a row out in cross-validation); None when both are absent."""
    if spec.weights is None:
        return weight
    return spec.weights if weight is None else spec.weights * weight


def _int32(index) -> np.ndarray:
    """Level indices as int32, the type XLA's gathers take (int64 ones are converted in every call)."""
    return np.asarray(index, dtype=np.int32)


def fixed_design(spec: ModelSpec) -> np.ndarray:
    """X with every block's level-mean design below it (coarse to fine, levels x q rows each):
    one product with beta gives the rows' fixed part and the fixed part of every level's mean.

    Why one product: on a CPU each matrix product is a library call of its own that fuses with
    nothing, and a model with three grouping factors had eight of them in its gradient (X beta,
    three level means and their transposes); two cost less (see :func:`fixed_parts`).
    """
    p = spec.X.shape[1]
    # explicit row counts: with no fixed effects (p = 0) a reshape to (-1, 0) is ambiguous
    return np.concatenate([np.asarray(spec.X, dtype=float)]
                          + [np.asarray(b.mean_design, dtype=float).reshape(b.num_levels * b.num_terms, p)
                             for b in spec.blocks_coarse_to_fine])


def fixed_parts(structure: Structure, arrays, beta, shapes: dict):
    """The rows' fixed part X beta (n,) and each block's level means' fixed part {name: (levels, q)},
    ``shapes`` giving each block's (levels, q), from one product (:func:`fixed_design`)."""
    fixed = arrays["fixed_design"] @ beta
    rows = arrays["offset"].shape[0]
    means, start = {}, rows
    for block in _mean_blocks(structure):
        levels, q = shapes[block.name]
        means[block.name] = fixed[start:start + levels * q].reshape(levels, q)
        start += levels * q
    return fixed[:rows], means


def constrain_params(structure: Structure, position, centring, arrays, fixed=None):
    """beta, sigma, sds, correlation factors, the effects b per block (levels, q) and the
    log-Jacobian; ``fixed``: :func:`fixed_parts` if the caller has them already."""
    params, log_jac = constrain_hyper(position, structure.scalars,
                                      tuple((b.name, b.num_terms, b.has_cor) for b in structure.blocks))
    fixed_means = None if fixed is None else fixed[1]
    bs = {}
    for block in structure.blocks:
        sd, L = params[PARAMS.sd][block.name], params[PARAMS.cor_chol][block.name]
        v = position[POSITION.effects][block.name]
        if block.parameterisation == "noncentered":      # w = 0 throughout, known when building
            b = (v @ L.T if block.has_cor else v) * sd
        else:
            if fixed_means is None:
                fixed_means = fixed_parts(structure, arrays, position[PARAMS.fixed], _shapes(position[POSITION.effects]))[1]
            weight = jnp.asarray(centring[block.name])
            rotated = (1.0 - weight) * (v @ L.T) + weight * v if block.has_cor else v
            mean = level_means(fixed_means[block.name], block.parents, arrays["parent_index"][block.name], bs)
            b = (rotated - weight * mean) * jnp.exp((1.0 - weight) * position[POSITION.log_sd][block.name])
        bs[block.name] = b
    if structure.blocks:
        params[PARAMS.effects] = bs
    return params, log_jac


def level_means(fixed_mean, parents, parent_index, bs: dict):
    """m_l (levels, q): the fixed part of each level's mean plus the nesting blocks' effects,
    added column by column (no scatter into the array: its transpose is one more kernel)."""
    columns = [fixed_mean[:, k] for k in range(fixed_mean.shape[1])]
    for (parent, terms), index in zip(parents, parent_index):
        for here, there in terms:
            columns[here] = columns[here] + bs[parent][:, there][index]
    return jnp.stack(columns, axis=1)


def _shapes(effects: dict) -> dict:
    return {name: b.shape for name, b in effects.items()}


def linear_predictor(structure: Structure, params, arrays, fixed_rows=None):
    """eta (n,): the fixed part (``fixed_rows``, X beta, if the caller has it) plus each block's
    effects gathered to the rows."""
    if fixed_rows is None:
        fixed_rows = fixed_parts(structure, arrays, params[PARAMS.fixed], _shapes(params.get(PARAMS.effects, {})))[0]
    return _add_effects(fixed_rows + arrays["offset"], _mean_blocks(structure), params, arrays)


def _mean_blocks(structure: Structure) -> tuple:
    return tuple(block for block in structure.blocks if block.dpar == "mu")


def _add_effects(eta, blocks, params, arrays):
    """eta plus each block's effects gathered to the rows by the integer group index."""
    for block in blocks:
        b, Z, index = params[PARAMS.effects][block.name], arrays["Z"][block.name], arrays["index"][block.name]
        # column by column: XLA's CPU gather of whole (n, q) rows, and its transposed scatter,
        # cost half again as much as q gathers of one column (bernoulli, 100,000 rows, q = 2)
        for k in range(block.num_terms):
            eta = eta + Z[:, k] * b[:, k][index]
    return eta


def dpar_linear_predictors(structure: Structure, params, arrays) -> dict:
    """{dpar: eta (n,)} for each parameter with a formula, on its link's scale."""
    out = {}
    for name, _ in structure.predictors:
        eta = arrays["dpar_X"][name] @ params[PARAMS.formula_fixed][name] + arrays["dpar_offset"][name]
        out[name] = _add_effects(eta, tuple(b for b in structure.blocks if b.dpar == name), params, arrays)
    return out


def pointwise_loglik(structure: Structure, params, arrays, fixed_rows=None):
    """log p(y_i | parameters) per row, normalising constant included (from ``arrays`` where
    :func:`model_arrays` computed it); ``fixed_rows`` as in :func:`linear_predictor`."""
    eta = linear_predictor(structure, params, arrays, fixed_rows)
    family_values = family_params(structure, params, eta, arrays)
    kernel = structure.family.log_kernel(arrays["y"], family_values, arrays["aux"])
    constant = arrays["log_constant"] if "log_constant" in arrays else structure.family.log_constant(arrays["y"],
                                                                                                       arrays["aux"])
    if structure.incomplete:
        return incomplete_loglik(structure.family, kernel + constant, arrays["y"], family_values, arrays["aux"],
                                 arrays)
    return kernel + constant


def family_params(structure: Structure, params, eta, arrays) -> dict:
    """The family's parameters by name, as its functions take them: the mean's linear predictor
    with its link, the scalar parameters' values, those with a formula from their linear
    predictors, and those the data fix (se())."""
    predicted = {name: LINKS[link].inverse(eta_d)
                 for (name, link), eta_d in zip(structure.predictors, dpar_linear_predictors(structure, params,
                                                                                             arrays).values())}
    ordinal = {PARAMS.thresholds: params[PARAMS.thresholds]} if PARAMS.thresholds in params else {}
    return with_known({"mu": Mu(eta, structure.link), **{name: params[name] for name, _ in structure.scalars},
                       **predicted, **ordinal}, arrays["known"])


def aux_arrays(spec: ModelSpec) -> dict:
    """The family's data besides the response (binomial trials) as JAX arrays."""
    return {k: jnp.asarray(v, dtype=float) for k, v in spec.family_aux().items()}


def family_params_of(spec: ModelSpec, params: dict, eta) -> dict:
    """The family's parameters by name (:func:`family_params`) from constrained ``params`` and the
    linear predictor ``eta``, for the spec's own rows."""
    return family_params(structure_of(spec), params, eta, model_arrays(spec))


def make_constrain(spec: ModelSpec):
    """Build ``constrain(position, centring=None) -> (params, log_jacobian)``.

    ``params`` holds ``beta``, ``sigma`` (if any) and per block ``sd``, ``cor_chol`` (identity
    when independent) and ``b`` (levels, q): the quantities a user reads. ``centring`` holds the
    per-level weights (default: :func:`default_centering`).
    """
    default, structure, arrays = default_centering(spec), structure_of(spec), model_arrays(spec)

    def constrain(position, centring=None):
        return constrain_params(structure, position, default if centring is None else centring, arrays)

    return constrain


def make_linear_predictor(spec: ModelSpec):
    """Build ``eta(params) -> (n,)``: fixed part plus each block's gathered effects."""
    structure, arrays = structure_of(spec), model_arrays(spec)
    return lambda params: linear_predictor(structure, params, arrays)


def make_pointwise_loglik(spec: ModelSpec):
    """Build ``loglik(params, y=None) -> (n,)``, the log density of each observation.

    ``y`` replaces the spec's response (same length): simulated data for simulation-based
    calibration, without recompiling.
    """
    structure, arrays = structure_of(spec), model_arrays(spec)

    def loglik(params, y=None):
        if y is None:
            return pointwise_loglik(structure, params, arrays)
        others = {k: v for k, v in arrays.items() if k != "log_constant"}     # the constant is the old y's
        return pointwise_loglik(structure, params, {**others, "y": y})

    return loglik


def hyper_priors(spec: ModelSpec) -> dict:
    """The priors of everything but the group effects, as a pytree (priors are pytrees of their
    numbers, ``hierax.model.priors``): a runtime argument of a density, so that new data with
    data-scaled default priors need no recompilation."""
    priors = {PARAMS.fixed: tuple(spec.fixed_priors)}
    if spec.dpar_predictors:
        priors["fixed_dpars"] = {p.dpar: tuple(p.fixed_priors) for p in spec.dpar_predictors}
    if spec.scalar_dpars:
        priors[POSITION.scalars] = {d.name: spec.dpar_priors[d.name] for d in spec.scalar_dpars}
    if spec.thresholds:
        priors[PARAMS.thresholds] = tuple(spec.threshold_priors)
    if spec.all_blocks:
        priors[PARAMS.sd] = {b.name: tuple(b.sd_priors) for b in spec.all_blocks}
        priors["cor"] = {b.name: b.cor_prior for b in spec.all_blocks if b.has_cor}
    return priors


def log_prior_hyper(priors: dict, params: dict):
    """log p(beta) + log p(sigma) + log p(sds) + log p(correlations), from :func:`hyper_priors`."""
    beta = params[PARAMS.fixed]
    total = sum((prior.logpdf(beta[j]) for j, prior in enumerate(priors[PARAMS.fixed])), 0.0)
    for name, fixed_priors in priors.get("fixed_dpars", {}).items():
        total += sum((prior.logpdf(params[PARAMS.formula_fixed][name][j]) for j, prior in enumerate(fixed_priors)), 0.0)
    for name, prior in priors.get(POSITION.scalars, {}).items():
        total += prior.logpdf(params[name])
    for k, prior in enumerate(priors.get(PARAMS.thresholds, ())):
        total += prior.logpdf(params[PARAMS.thresholds][k])
    for name, sd_priors in priors.get(PARAMS.sd, {}).items():
        sd = params[PARAMS.sd][name]
        total += sum(prior.logpdf(sd[k]) for k, prior in enumerate(sd_priors))
    for name, cor_prior in priors.get("cor", {}).items():
        total += cor_prior.logpdf_cholesky(params[PARAMS.cor_chol][name])
    return total


def log_prior(structure: Structure, params, position, centring, priors):
    total = log_prior_hyper(priors, params)
    for block in structure.blocks:
        sd, L = params[PARAMS.sd][block.name], params[PARAMS.cor_chol][block.name]
        if block.parameterisation == "noncentered":
            v = position[POSITION.effects][block.name]
            total += -0.5 * jnp.sum(v**2) - 0.5 * v.size * _LOG_2PI
        else:
            weight = jnp.asarray(centring[block.name])
            total += _random_effects_logpdf(params[PARAMS.effects][block.name], jnp.log(sd), L, weight, block.has_cor)
    return total


def make_log_prior(spec: ModelSpec):
    """Build ``log_prior(params, position, centring) -> scalar`` (random-effect densities included)."""
    structure, priors = structure_of(spec), hyper_priors(spec)
    return lambda params, position, centring: log_prior(structure, params, position, centring, priors)


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
    total = jnp.sum(-0.5 * scaled**2 - weight * log_sd)          # one reduction over the levels
    if has_cor:
        diag_L = jnp.diagonal(L)
        total += jnp.sum(jnp.log((1.0 - weight) * diag_L + weight)) - b.shape[0] * jnp.sum(jnp.log(diag_L))
    return total - 0.5 * b.size * _LOG_2PI


@program_cache(maxsize=32)
def full_logdensity(structure: Structure):
    """``logdensity(position, aux) -> scalar`` with ``aux`` = {"centring": weights, "data":
    :func:`model_arrays` (with ``weight``, per row, multiplying its log-likelihood, if given),
    "priors": :func:`hyper_priors`}: everything but the structure at run time. Cached by
    structure, so that models of one structure share the function and its compiled sampler."""

    def logdensity(position, aux):
        data = aux["data"]
        # the fixed parts once: computed in each of the two, their gradients' products stayed two
        fixed = fixed_parts(structure, data, position[PARAMS.fixed], _shapes(position.get(POSITION.effects, {})))
        params, log_jac = constrain_params(structure, position, aux["centring"], data, fixed)
        pointwise = pointwise_loglik(structure, params, data, fixed[0])
        if "weight" in data:
            pointwise = data["weight"] * pointwise
        return jnp.sum(pointwise) + log_prior(structure, params, position, aux["centring"], aux["priors"]) + log_jac

    return logdensity


def make_logdensity(spec: ModelSpec):
    """Build ``logdensity(position, centring=None, data=None) -> scalar``: log posterior up to a constant.

    The position is unconstrained; ``centring`` holds the per-level weights (default: the spec's).
    ``data`` may hold ``y`` (a response of the same length) and ``weight`` (per row, multiplying
    its log-likelihood: 0 leaves a row out). A sampler uses :func:`full_logdensity` instead, with
    all the data at run time.

    Examples
    --------
    >>> logdensity = make_logdensity(spec)                        # doctest: +SKIP
    >>> logdensity(initial_position(jax.random.key(0), spec))     # doctest: +SKIP
    """
    density, arrays = full_logdensity(structure_of(spec)), model_arrays(spec)
    default, priors = default_centering(spec), hyper_priors(spec)

    def logdensity(position, centring=None, data=None):
        data = {k: v for k, v in (data or {}).items() if v is not None}
        base = {k: v for k, v in arrays.items() if not ("y" in data and k == "log_constant")}  # stale for a new y
        aux = {"centring": default if centring is None else centring, "data": {**base, **data}, "priors": priors}
        return density(position, aux)

    return logdensity
