"""A gaussian outcome with imputed predictors, with its group effects and the missing values
both integrated out: the joint model's counterpart of ``hierax.density.collapsed``.

The model (``hierax.missing_predictor``): y_i ~ N(X_i(x) beta + Z_i b_g[i], sigma^2) with one
grouping factor, and each imputed predictor x_k ~ N(W_k gamma_k, s_k^2) with fixed effects only.
Where x_k enters the outcome's design as one column times a constant (``y ~ mi(x) + z``: B_k =
b_k e_j, no interaction), a missing x_ki integrates out of row i exactly (``hierax.density.latent``):
the row's mean gains c_k W_ki gamma_k (c_k = b_k beta_j) and its variance c_k^2 s_k^2. So every
row's mean is linear in one coefficient vector,

    mean_i = D_i v,   D_i = [X_i with the missing x's at 0, mis_1i W_1i, ..., mis_Ki W_Ki],
    v = [beta, c_1 gamma_1, ..., c_K gamma_K],

and its variance is sigma^2 / w_i, w_i = sigma^2 / (sigma^2 + sum over the x's missing there of
c_k^2 s_k^2), one weight per pattern of missingness. The group effects then integrate out as in
``hierax.density.collapsed`` with row weights W: its per-level statistics are linear in W, so
they are computed once per pattern and combined with each evaluation's weights, and its formula
holds for any W once the noise's log-determinant gets + 1/2 sum_i log w_i (the collapsed
module's n log sigma^2 is sum_i log(sigma^2 / w_i) here). Each x's model reads its observed rows
only, by its own statistics. An evaluation costs O(levels q^3 + patterns), whatever the rows;
NUTS moves in the few dimensions of beta, sigma, the sds and each x model's gamma and s.

Afterwards, for every draw, the group effects are drawn from their exact conditional (the
collapsed module's, with that draw's weights) and then the missing x's from theirs given y and
the effects (``hierax.density.latent``'s Matheron rule): a draw of the same joint posterior as
the sampler of every latent value gives (checked in ``tests/test_missing_predictor_posteriors.py``).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hierax._programs import program_cache
from hierax.density.collapsed import (
    Collapsed, GroupStats, collapsed_loglik, collapsed_structure, draw_effects, least_squares, level_stats, padded,
    why_not_collapsible,
)
from hierax.density.latent import conditional_draw, model_means
from hierax.density.logdensity import Structure, constrain_hyper, hyper_priors, log_prior_hyper, scalar_links
from hierax.model.layout import PARAMS, RESIDUAL_SD

_LOG_2PI = float(np.log(2.0 * np.pi))


class JointCollapsed(NamedTuple):
    """What the density depends on besides its runtime data (hashable): the outcome's collapsed
    structure, each x model's (name, scalar links), the outcome's column each x moves, and the
    patterns of missingness (per pattern, whether each x is missing)."""

    outcome: Collapsed
    models: tuple
    columns: tuple
    patterns: tuple


class FixedStats(NamedTuple):
    """A gaussian model's statistics without group terms, around ``ref``: X'X, X'y, y'y, n."""

    XtX: np.ndarray
    Xty: np.ndarray
    yty: np.ndarray
    n: np.ndarray
    ref: np.ndarray


def why_not_joint_collapsible(outcome, models: dict, B: dict) -> str | None:
    """None where the group effects and the missing values integrate out together (``outcome``
    and ``models``: the sampled specs; ``B``: {x: B_x} in the outcome's units), else why not."""
    reason = why_not_collapsible(outcome)
    if reason is None and len(outcome.blocks) != 1:
        reason = "the outcome has more than one grouping factor"
    if reason is None and (outcome.weights is not None or outcome.offset is not None):
        reason = "the outcome has weights or an offset"
    for name, model in models.items():
        if reason is None and (model.blocks or model.offset is not None or model.weights is not None):
            reason = f"the model of {name!r} has group terms, an offset or weights"
        if reason is None and _moved_column(B[name]) is None:
            reason = f"{name!r} enters the outcome's design other than as one column (an interaction)"
    return reason


def _moved_column(B: np.ndarray):
    """(j, b) where B = b e_j on every row (x enters as one column, times a constant), else None."""
    columns = np.flatnonzero(np.any(B != 0.0, axis=0))
    if len(columns) != 1:
        return None
    values = B[:, columns[0]]
    return (int(columns[0]), float(values[0])) if np.allclose(values, values[0], rtol=1e-12, atol=0.0) else None


def joint_structure(outcome, models: dict, B: dict, missing: dict, weight) -> JointCollapsed:
    names = tuple(models)
    return JointCollapsed(collapsed_structure(outcome), tuple((k, scalar_links(models[k])) for k in names),
                          tuple(_moved_column(B[k])[0] for k in names), _patterns(missing, names, weight))


def _patterns(missing: dict, names: tuple, weight) -> tuple:
    rows = np.ones(len(missing[names[0]]), bool) if weight is None else np.asarray(weight) > 0
    table = np.stack([missing[k][rows] for k in names], axis=1)
    return tuple(tuple(bool(v) for v in row) for row in np.unique(table, axis=0))


def joint_runtime(structure: JointCollapsed, outcome, A, B: dict, filled: dict, missing: dict, models: dict,
                  weight) -> dict:
    """The density's runtime data: the outcome's per-level statistics of the extended design D
    (module docstring) for each pattern, stacked (pattern first), with the rows' counts; each x
    model's statistics of its observed rows; b_k (``column_scale``); the priors."""
    names = tuple(models)
    w = np.ones(outcome.num_obs) if weight is None else np.asarray(weight, dtype=float)
    observed = A + sum(np.where(missing[k], 0.0, filled[k])[:, None] * B[k] for k in names)
    D = np.hstack([observed] + [missing[k][:, None] * models[k].X for k in names])
    ref = least_squares(D, outcome.y, w)
    block = outcome.blocks[0]
    pattern_of = np.stack([missing[k] for k in names], axis=1)
    classes, counts = [], []
    for pattern in structure.patterns:
        in_class = w * np.all(pattern_of == np.asarray(pattern), axis=1)
        classes.append(padded(level_stats(D, block.Z, block.group_index, block.num_levels, outcome.y, in_class, ref)))
        counts.append(in_class.sum())
    stats = GroupStats(*(np.stack(field) for field in zip(*classes)))
    return jax.tree_util.tree_map(jnp.asarray, {
        "classes": stats, "counts": np.asarray(counts), "ref": ref, "priors": hyper_priors(outcome),
        "column_scale": {k: _moved_column(B[k])[1] for k in names},
        "models": {k: _fixed_stats(models[k].X, filled[k], ~missing[k]) for k in names},
        "model_priors": {k: hyper_priors(models[k]) for k in names}})


def _fixed_stats(X, y, rows) -> FixedStats:
    X, y = X[rows], y[rows]
    ref = least_squares(X, y, np.ones(len(y)))
    r = y - X @ ref
    return FixedStats(X.T @ X, X.T @ r, np.asarray(r @ r), np.asarray(float(len(y))), ref)


def _fixed_loglik(gamma, s, stats: FixedStats):
    """sum over the rows of log N(y_i | X_i gamma, s^2), by the statistics."""
    delta = gamma - stats.ref
    rss = stats.yty - 2.0 * delta @ stats.Xty + delta @ stats.XtX @ delta
    return -0.5 * stats.n * (_LOG_2PI + 2.0 * jnp.log(s)) - 0.5 * rss / s ** 2


def _constrained(structure: JointCollapsed, position, aux):
    """(the outcome's parameters, each x model's, v, the combined statistics, the log density's
    terms besides the outcome's likelihood: priors, Jacobians and the x models' likelihoods)."""
    params, log_jac = constrain_hyper(position["main"], structure.outcome.scalars, structure.outcome.layout)
    total = log_prior_hyper(aux["priors"], params) + log_jac
    beta, sigma2 = params[PARAMS.fixed], params[RESIDUAL_SD] ** 2
    subs, v, spread = {}, [beta], {}
    for (k, scalars), column in zip(structure.models, structure.columns):
        sub, jac = constrain_hyper(position["sub"][k], scalars, ())
        total += log_prior_hyper(aux["model_priors"][k], sub) + jac
        total += _fixed_loglik(sub[PARAMS.fixed], sub[RESIDUAL_SD], aux["models"][k])
        c = aux["column_scale"][k] * beta[column]
        v.append(c * sub[PARAMS.fixed])
        spread[k] = (c * sub[RESIDUAL_SD]) ** 2
        subs[k] = sub
    names = [k for k, _ in structure.models]
    weights = jnp.stack([sigma2 / (sigma2 + sum((spread[k] for k, gone in zip(names, pattern) if gone), 0.0))
                         for pattern in structure.patterns])
    classes = aux["classes"]
    combined = GroupStats(*(jnp.tensordot(weights, getattr(classes, field), axes=1)
                            for field in ("ZtZ", "ZtX", "Zty", "XtX", "Xty", "yty")),
                          n=jnp.sum(aux["counts"]), beta_ref=aux["ref"])
    total += 0.5 * jnp.sum(aux["counts"] * jnp.log(weights))
    return params, subs, jnp.concatenate(v), combined, total


@program_cache(maxsize=8)
def joint_collapsed_logdensity(structure: JointCollapsed):
    """``logdensity(position, aux) -> scalar``, position {"main": the outcome's hyperparameters,
    "sub": {x: its model's}}, aux from :func:`joint_runtime`."""
    name = structure.outcome.layout[0][0]

    def logdensity(position, aux):
        params, _, v, combined, rest = _constrained(structure, position, aux)
        return collapsed_loglik({**params, PARAMS.fixed: v}, combined, name) + rest

    return logdensity


@program_cache(maxsize=8)
def joint_draws_program(structure: JointCollapsed, main: Structure, subs: tuple):
    """((positions, keys), aux) -> per draw (the outcome's parameters with its group effects drawn,
    each x model's parameters, {x: the missing values drawn}), ``aux`` {"stats": the density's
    runtime data, "rows": ``hierax.density.latent``'s row data}; ``main`` and ``subs`` the
    row-wise structures."""
    name, levels = structure.outcome.layout[0][0], main.blocks[0].num_levels
    models = dict(subs)

    def one(args, aux):
        position, key = args
        effects_key, values_key = jax.random.split(key)
        params, sub_params, v, combined, _ = _constrained(structure, position, aux["stats"])
        b = draw_effects(effects_key, {**params, PARAMS.fixed: v}, combined, name)
        outcome = {**params, PARAMS.effects: {name: b[:levels]}}      # the padded levels cut off
        rows = aux["rows"]
        xs, spreads = {}, {}
        for k, sub in sub_params.items():
            xs[k] = jnp.where(rows["mask"][k] > 0.0, model_means(models[k], sub, rows["sub"][k]["data"]),
                              rows["observed"][k])
            spreads[k] = sub[RESIDUAL_SD]
        xs = conditional_draw(main, outcome, rows, xs, spreads, values_key)
        return outcome, sub_params, {k: xs[k][rows["index"][k]] for k in xs}

    return jax.jit(lambda args, aux: jax.lax.map(lambda a: one(a, aux), args))


def joint_draws(structure: JointCollapsed, main: Structure, subs: tuple, positions, aux, seed: int) -> tuple:
    """(the outcome's parameters, {x: its model's}, {x: the missing values}), NumPy, leading chain
    and draw axes."""
    leaves = jax.tree_util.tree_leaves(positions["main"])
    chains, draws = np.shape(leaves[0])[:2]
    flat = jax.tree_util.tree_map(lambda x: np.asarray(x).reshape((chains * draws,) + np.shape(x)[2:]), positions)
    keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), 1), chains * draws)
    drawn = jax.device_get(joint_draws_program(structure, main, subs)((flat, keys), aux))
    return jax.tree_util.tree_map(lambda x: np.asarray(x).reshape((chains, draws) + np.shape(x)[1:]), drawn)
