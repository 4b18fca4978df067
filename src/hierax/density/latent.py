"""The joint log density of an outcome and its latent predictors (``hierax.missing_predictor``
builds the model; this is its density and the way from draws to the predictors' values).

Runtime data (``aux``): ``main`` and ``sub`` (the outcome's and each predictor model's runtime
data, as ``FullTarget.runtime`` gives them; the outcome's design is A, below), ``observed`` and
``index`` (each predictor's values and the rows that are latent), ``B`` (the outcome's design is
A + sum_x x B_x on the data rows; each B_x as the columns it moves and their values) and
``measured`` (each me() predictor's measurement and its error sd), and ``mask`` (1 at the rows
where each predictor integrated out, ``collapsed``, is missing).

Integrated out (``collapsed``): with a gaussian outcome (identity link) and a gaussian model for
an imputed x, a missing x_i enters row i's mean as a_i + c_i x_i (c_i = B_i beta), and given the
parameters x_i ~ N(mu_i, s^2), so integrating it out leaves

    y_i ~ N(a_i + c_i mu_i, sigma^2 + c_i^2 s^2)        (summed over each x missing at row i)

exactly, and no coordinate for x_i in NUTS. Its values are drawn afterwards from their
conditional given y_i and each draw's parameters (:func:`latent_draws`). x's model then holds
the rows where x is observed only (its runtime weight 0 elsewhere).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from hierax._programs import program_cache
from hierax.density.logdensity import (
    Structure, constrain_params, family_params, full_logdensity, linear_predictor, pointwise_loglik, structure_of,
)
from hierax.engines.mode import Unravel
from hierax.model.layout import PARAMS, RESIDUAL_SD

LATENT = "latent"       # the position's key of the latent values


@program_cache(maxsize=8)
def joint_program(main: Structure, subs: tuple, unravel: Unravel, collapsed: tuple = ()):
    """The flat joint log density, compiled once per model shape: log p(outcome | X(x)) +
    sum_x log p(x | its model) + sum over me() predictors of log p(measured x | true x), x the
    observed values with the latent ones put in (``subs``: (name, structure) of each predictor's
    model); the predictors in ``collapsed`` integrated out where missing (the module's docstring)."""
    outcome, models = full_logdensity(main), {name: full_logdensity(structure) for name, structure in subs}
    true_values = _true_values_program(main, subs, collapsed)

    def density(position, aux):
        xs, log_jacobian, spreads = true_values(position, aux)
        beta = position["main"][PARAMS.fixed]
        data = _outcome_data(aux, xs, beta)
        if spreads:
            data = {**data, "known": {RESIDUAL_SD: _integrated_sd(aux, spreads, beta)}}
        total = outcome(position["main"], {**aux["main"], "data": data}) + log_jacobian
        for k, model in models.items():
            data = {key: v for key, v in aux["sub"][k]["data"].items() if key != "log_constant"}
            total += model(position["sub"][k], {**aux["sub"][k], "data": {**data, "y": xs[k]}})
        for k, measured in aux["measured"].items():      # me(x, sdx): x measured ~ N(true x, sdx^2)
            total += jnp.sum(jax.scipy.stats.norm.logpdf(measured["x"], xs[k], measured["error"]))
        return total

    return jax.jit(lambda flat, aux: density(unravel.unravel(flat), aux))


def _integrated_sd(aux, spreads: dict, beta):
    """Each row's sd added in quadrature to sigma by the x's integrated out there: sqrt(sum_x
    mask_x (c_x s_x)^2), through a square root whose gradient is 0, not NaN, where nothing is
    missing (``with_known`` adds it to sigma in quadrature)."""
    variance = sum(aux["mask"][k] * (_slope(aux["B"][k], beta) * s) ** 2 for k, s in spreads.items())
    positive = variance > 0.0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, variance, 1.0)), 0.0)


def _with_latent(aux, latent: dict) -> dict:
    """Each imputed predictor's values: the observed ones with the latent ones put in."""
    return {k: aux["observed"][k].at[aux["index"][k]].set(values) for k, values in latent.items()}


def _true_values_program(main: Structure, subs: tuple, collapsed: tuple = ()):
    """(position, aux) -> ({x: its values}, log Jacobian, {x integrated out: its model's sd}): an
    mi() predictor's observed values with its latent ones put in, or, where it is integrated out,
    its model's mean; an me() predictor's true values from standardised coordinates z.

    Why z for me(): with reliability near 0.5 a true value is as much its population's as its
    measurement's (and, with a small residual sd, the outcome's); sampled as itself it forms
    funnels with those sds (R-hat 1.4 to 1.9 in short runs). Its conditional given everything
    else is normal where the outcome is gaussian with the identity link: x_i enters eta_i as
    a_i + c_i x_i, and with its model's mean mu_i and sd s, the measurement x_obs_i with sd
    e_i and the residual sd sigma,

        precision_i = 1/e_i^2 + 1/s^2 + w_i c_i^2/sigma^2,
        mean_i = (x_obs_i/e_i^2 + mu_i/s^2 + w_i c_i (y_i - a_i)/sigma^2) / precision_i

    (w_i: 0 for a row whose response is imputed). x_true = mean + z / sqrt(precision) makes z
    N(0, 1) given the rest, whatever the sds are (for another outcome the outcome's term is
    left out, which still centres each value as far as its measurement informs it). The map is
    triangular (mean and precision read no z of their own), so its log Jacobian is the sum of
    -log sqrt(precision)."""
    structures = dict(subs)
    gaussian = main.family.name == "gaussian" and main.link == "identity" and not main.predictors \
        and not main.known and not main.incomplete

    def values(position, aux):
        latent = dict(position[LATENT])
        for k in aux["measured"]:                       # stand-ins until each is computed
            latent[k] = aux["observed"][k][aux["index"][k]]
        log_jacobian = 0.0
        for k, measured in aux["measured"].items():
            data = aux["sub"][k]["data"]
            params, _ = constrain_params(structures[k], position["sub"][k], aux["sub"][k]["centring"], data)
            mu = linear_predictor(structures[k], params, data)
            precision = 1.0 / measured["error"] ** 2 + 1.0 / params[RESIDUAL_SD] ** 2
            shift = measured["x"] / measured["error"] ** 2 + mu / params[RESIDUAL_SD] ** 2
            if gaussian:
                without = _with_latent(aux, {**latent, k: jnp.zeros_like(latent[k])})
                beta = position["main"][PARAMS.fixed]
                outcome_data = _outcome_data(aux, without, beta)
                outcome, _ = constrain_params(main, position["main"], aux["main"]["centring"], outcome_data)
                a = linear_predictor(main, outcome, outcome_data)
                c = _slope(aux["B"][k], beta)
                weight = outcome_data["weight"] if "weight" in outcome_data else 1.0
                precision = precision + weight * c ** 2 / outcome[RESIDUAL_SD] ** 2
                shift = shift + weight * c * (outcome_data["y"] - a) / outcome[RESIDUAL_SD] ** 2
            latent[k] = shift / precision + position[LATENT][k] / jnp.sqrt(precision)
            log_jacobian = log_jacobian - 0.5 * jnp.sum(jnp.log(precision))
        xs, spreads = _with_latent(aux, latent), {}
        for k in collapsed:
            data = aux["sub"][k]["data"]
            params, _ = constrain_params(structures[k], position["sub"][k], aux["sub"][k]["centring"], data)
            xs[k] = jnp.where(aux["mask"][k] > 0.0, model_means(structures[k], params, data), aux["observed"][k])
            spreads[k] = params[RESIDUAL_SD]
        return xs, log_jacobian, spreads

    return values


def _outcome_data(aux, xs: dict, beta) -> dict:
    """The outcome's runtime data at x for the fixed effects ``beta``: its design X(x) = A + sum_x
    x B_x enters as A (the runtime data's design: the level-mean rows below it read no column
    that moves with x) and sum_x x (B_x beta) added to the offset, so that no n x p matrix is
    formed in an evaluation: B_x beta reads only the columns with x in them."""
    data = aux["main"]["data"]
    moved = sum(xs[k] * _slope(aux["B"][k], beta) for k in xs)
    return {**data, "offset": data["offset"] + moved}


def _slope(B: dict, beta):
    """B_x beta per row: the columns of the design that move with x (``B["cols"]``) times theirs."""
    return B["values"] @ beta[B["cols"]]


def latent_draws(positions, aux, main: Structure, subs: tuple, collapsed: tuple = (), seed: int = 0) -> dict:
    """{x: (chains, draws, latent values)}: the latent values of every draw in the data's units
    (an me() predictor's from its coordinates z, :func:`_true_values_program`; one integrated out
    drawn from its conditional given the draw, :func:`_conditional_draw`, with keys from ``seed``)."""
    chains, draws = np.shape(jax.tree_util.tree_leaves(positions["main"])[0])[:2]
    flat = jax.tree_util.tree_map(lambda x: np.asarray(x).reshape((chains * draws,) + np.shape(x)[2:]), positions)
    keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), 1), chains * draws)  # not outcome_draws's
    xs = _latent_program(main, subs, collapsed)((flat, keys), aux)
    return {k: np.asarray(x).reshape(chains, draws, -1) for k, x in xs.items()}


@program_cache(maxsize=8)
def _latent_program(main: Structure, subs: tuple, collapsed: tuple):
    values = _true_values_program(main, subs, collapsed)

    def one(args, aux):
        position, key = args
        xs, _, spreads = values(position, aux)
        if spreads:
            params, _ = constrain_params(main, position["main"], aux["main"]["centring"], aux["main"]["data"])
            xs = conditional_draw(main, params, aux, xs, spreads, key)
        return {k: x[aux["index"][k]] for k, x in xs.items()}    # the latent rows only: draws x rows is large

    return jax.jit(lambda args, aux: jax.lax.map(lambda a: one(a, aux), args))


def model_means(structure: Structure, params, data):
    """A predictor model's mean at every row (its linear predictor: its models are gaussian)."""
    return linear_predictor(structure, params, data)


def conditional_draw(main: Structure, params, aux, xs: dict, spreads: dict, key) -> dict:
    """The x's integrated out drawn from their conditional given y and the parameters, by
    Matheron's rule: draw each x_k from its model, x_k ~ N(mu_k, s_k^2), and the outcome's noise
    e ~ N(0, sigma^2); then

        x_k <- x_k + w s_k^2 c_k (y - eta(x) - e) / (sigma^2 + w sum_j s_j^2 c_j^2)

    at each row (the sums over the x's missing there; w 0 where the response is missing too), an
    exact draw of the x's jointly given y_i, whatever their number, with no matrix to factor.
    ``params``: the outcome's, constrained, its group effects in; ``xs``: each x with its model's
    mean where missing; ``spreads``: {x: its model's sd}."""
    beta = params[PARAMS.fixed]
    keys = jax.random.split(key, len(spreads) + 1)
    prior = {k: xs[k] + aux["mask"][k] * s * jax.random.normal(keys[i], xs[k].shape)
             for i, (k, s) in enumerate(spreads.items())}
    data = _outcome_data(aux, {**xs, **prior}, beta)
    sigma = params[RESIDUAL_SD]
    weight = data["weight"] if "weight" in data else 1.0
    gains = {k: weight * aux["mask"][k] * s ** 2 * _slope(aux["B"][k], beta) for k, s in spreads.items()}
    spread = sigma ** 2 + sum(gain * _slope(aux["B"][k], beta) for k, gain in gains.items())
    residual = data["y"] - linear_predictor(main, params, data) - sigma * jax.random.normal(keys[-1], data["y"].shape)
    return {**xs, **{k: prior[k] + gains[k] * residual / spread for k in spreads}}


def outcome_draws(spec, params, aux, latent: dict, seed: int) -> tuple:
    """(log-likelihood of every row, a response drawn at every row) at each draw, with that
    draw's x (the outcome's design moves with the latent values). ``spec`` and ``params`` are
    the sampled ones (columns on unit scale), as ``aux``'s design pieces."""
    shape = np.shape(params[PARAMS.fixed])[:2]
    total = int(np.prod(shape))          # explicit: an x with nothing missing has (chains, draws, 0)
    flat = jax.tree_util.tree_map(lambda x: np.asarray(x).reshape((total,) + np.shape(x)[2:]), params)
    xs = {k: np.asarray(values).reshape((total,) + values.shape[2:]) for k, values in latent.items()}
    keys = jax.random.split(jax.random.PRNGKey(seed), total)
    loglik, y = _draws_program(structure_of(spec))((flat, xs, keys), aux)
    return np.asarray(loglik).reshape(shape + (spec.num_obs,)), np.asarray(y).reshape(shape + (spec.num_obs,))


@program_cache(maxsize=8)
def _draws_program(structure: Structure):
    """(draws, x, keys), aux -> the pointwise log-likelihood and a response at every draw."""
    def one(args, aux):
        draw, latent, key = args
        data = _outcome_data(aux, _with_latent(aux, latent), draw[PARAMS.fixed])
        eta = linear_predictor(structure, draw, data)
        y = structure.family.sample(key, family_params(structure, draw, eta, data), data["aux"])
        return pointwise_loglik(structure, draw, data), y

    return jax.jit(lambda args, aux: jax.lax.map(lambda a: one(a, aux), args))
