"""NUTS for a model with latent predictors (``hierax.missing_predictor`` builds the model), by one
of two routes, the faster where it applies:

- **collapsed** (``hierax.density.latent_collapsed``): a gaussian outcome with one grouping
  factor, every latent predictor imputed (mi()) by a model with fixed effects only and entering
  the outcome as one column. The group effects and the missing values are integrated out
  exactly; NUTS samples the few hyperparameters; the effects and the missing values are drawn
  afterwards from their conditionals. ``fit.parameterisation`` says "collapsed" for the group
  term and "integrated out" for the missing values.
- **latent** (``hierax.density.latent``): every other model. The outcome's and the predictor
  models' parameters, their group effects and the latent values are sampled jointly, except
  that a missing x with a gaussian outcome is integrated out row by row where that is exact.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hierax.config import NUTSConfig, automatic_for_collapsed
from hierax.density.init import initial_positions
from hierax.density.latent import LATENT, joint_program, latent_draws
from hierax.density.latent_collapsed import (
    joint_collapsed_logdensity, joint_draws, joint_runtime, joint_structure, why_not_joint_collapsible,
)
from hierax.density.logdensity import structure_of
from hierax.engines.keys import seed_key, split_keys
from hierax.engines.mode import Unravel


@dataclasses.dataclass(frozen=True)
class JointProblem:
    """The joint model, built: the outcome's target (``main``, a FullTarget of the unit-scaled
    spec) and each latent predictor's model's (``targets``); the outcome's design A + sum_x x B_x
    in the sampled units; each predictor's values (``filled``: the missing ones filled in, for the
    designs only) and missing rows (``missing``, the outcome's response's too where it has mi());
    the me() predictors' measurements and error sds; ``weight``: 1 where the outcome's response
    is observed (None: everywhere)."""

    main: object
    targets: dict
    A: np.ndarray
    B: dict
    filled: dict
    missing: dict
    measurements: dict
    weight: np.ndarray | None
    imputed: tuple
    measured: tuple


class JointDraws(NamedTuple):
    """What the result is built from: the sampler's output, the outcome's parameters of every
    draw (sampled units, group effects in), each predictor model's, the latent values, the row
    data (``hierax.density.latent``'s ``aux``), how each group term was sampled (as
    ``fit.parameterisation``), the predictors whose missing values were integrated out, and the
    config used."""

    output: object
    params: dict
    sub_params: dict
    latent: dict
    rows: dict
    described: dict
    integrated: tuple
    config: NUTSConfig


def sample_joint(problem: JointProblem, config: NUTSConfig, seed: int, rng, run) -> JointDraws:
    """NUTS on ``problem`` by the collapsed route where it applies, else the latent one (module
    docstring); ``run(key, density, flat positions, config, aux, retune)`` runs the sampler (with the
    caller's progress bar) and returns its output."""
    collapsed = integrable(problem)
    rows = _row_data(problem, collapsed)
    models = {k: problem.targets[k].spec for k in collapsed}
    if collapsed and collapsed == problem.imputed and \
            why_not_joint_collapsible(problem.main.spec, models, problem.B) is None:
        return _sample_collapsed(problem, automatic_for_collapsed(config), seed, rows, run)
    return _sample_latent(problem, config, seed, rng, rows, collapsed, run)


def integrable(problem: JointProblem) -> tuple:
    """The imputed predictors whose missing values the density integrates out exactly
    (``hierax.density.latent``): all of them where the outcome is gaussian with the identity link,
    one sd for every row (no formula or known sd for sigma), complete and unweighted, and each
    x's model unweighted (x's models are gaussian, with one sd); none beside an me() predictor,
    whose true values are centred on a conditional that reads the others' values."""
    outcome = problem.main.spec
    gaussian = outcome.family.name == "gaussian" and outcome.link.name == "identity" and not outcome.dpar_predictors \
        and outcome.se is None and not outcome.incomplete and outcome.weights is None
    if not gaussian or problem.measured:
        return ()
    models = {k: t.spec for k, t in problem.targets.items()}
    return tuple(k for k in problem.imputed if models[k].weights is None and not models[k].dpar_predictors)


def _row_data(problem: JointProblem, collapsed: tuple) -> dict:
    """``hierax.density.latent``'s runtime data (its module docstring), the outcome's design A."""
    outcome = problem.main.runtime({"weight": problem.weight})
    design_rows = outcome["data"]["fixed_design"]
    outcome["data"] = {**outcome["data"],
                       "fixed_design": jnp.concatenate([jnp.asarray(problem.A), design_rows[len(problem.A):]])}
    missing, names = problem.missing, problem.imputed + problem.measured
    return {"main": outcome,
            "sub": {k: t.runtime({"weight": (~missing[k]).astype(float) if k in collapsed else None})
                    for k, t in problem.targets.items()},
            "observed": {k: jnp.asarray(problem.filled[k]) for k in names},
            "index": {k: jnp.asarray(np.flatnonzero(missing[k]), jnp.int32) for k in names},
            "B": {k: _moving_columns(b) for k, b in problem.B.items()},
            "measured": {k: {"x": jnp.asarray(x), "error": jnp.asarray(sd)}
                         for k, (x, sd) in problem.measurements.items()},
            "mask": {k: jnp.asarray(missing[k], float) for k in collapsed}}


def _moving_columns(B: np.ndarray) -> dict:
    """B_x as the columns where it is not zero and their values (see ``density.latent._slope``)."""
    cols = np.flatnonzero(np.any(B != 0.0, axis=0))
    return {"cols": jnp.asarray(cols, jnp.int32), "values": jnp.asarray(B[:, cols])}


def _sample_collapsed(problem: JointProblem, config: NUTSConfig, seed: int, rows: dict, run) -> JointDraws:
    main, targets, names = problem.main, problem.targets, problem.imputed
    models = {k: targets[k].spec for k in names}
    structure = joint_structure(main.spec, models, problem.B, problem.missing, problem.weight)
    aux = joint_runtime(structure, main.spec, problem.A, problem.B, problem.filled, problem.missing, models,
                        problem.weight)
    init_key, run_key = split_keys(seed_key(seed), 2)
    keys = split_keys(init_key, 1 + len(names))
    positions = {"main": initial_positions(keys[0], main.spec, config.chains, effects=False),
                 "sub": {k: initial_positions(keys[1 + i], models[k], config.chains, effects=False)
                         for i, k in enumerate(names)}}
    unravel = Unravel.of(jax.tree_util.tree_map(lambda x: np.asarray(x[0]), positions))
    density = joint_collapsed_logdensity(structure)
    output = run(run_key, _flat(density, unravel), Unravel.ravel_rows(positions), config, aux, None)
    output = output._replace(positions=unravel.unravel(output.positions))
    subs = tuple((k, structure_of(targets[k].spec)) for k in names)
    params, sub_params, latent = joint_draws(structure, structure_of(main.spec), subs, output.positions,
                                             {"stats": output.aux, "rows": rows}, seed)
    described = {block.name: {"choice": "collapsed", "mean_weight": None, "centered": 0, "noncentered": 0}
                 for block in main.spec.blocks}
    return JointDraws(output, params, sub_params, latent, rows, described, names, config)


def _flat(density, unravel: Unravel):
    return jax.jit(lambda flat, aux: density(unravel.unravel(flat), aux))


def _sample_latent(problem: JointProblem, config: NUTSConfig, seed: int, rng, rows: dict, collapsed: tuple,
                   run) -> JointDraws:
    main, targets = problem.main, problem.targets
    names = problem.imputed + problem.measured
    init_key, run_key = split_keys(seed_key(seed), 2)
    keys = split_keys(init_key, 1 + len(names))
    chains = config.chains
    positions = {"main": main.initial(keys[0], chains),
                 "sub": {k: t.initial(keys[1 + i], chains) for i, (k, t) in enumerate(targets.items())},
                 LATENT: {k: (0.1 * rng.standard_normal((chains, len(problem.filled[k]))) if k in problem.measured
                              else _latent_start(problem.filled[k], problem.missing[k], chains, rng))
                          for k in names if k not in collapsed}}
    unravel = Unravel.of(jax.tree_util.tree_map(lambda x: np.asarray(x[0]), positions))
    structures = tuple((k, structure_of(t.spec)) for k, t in targets.items())
    density = joint_program(structure_of(main.spec), structures, unravel, collapsed)
    output = run(run_key, density, Unravel.ravel_rows(positions), config, rows, _joint_retune(main, positions, unravel))
    output = output._replace(positions=unravel.unravel(output.positions))
    rows = output.aux
    chains_, draws = output.diverging.shape
    effect_keys = split_keys(split_keys(seed_key(seed), 1, 1)[0], chains_ * draws)
    params = main.params(output.positions["main"], rows["main"], effect_keys)
    sub_params = {k: t.params(output.positions["sub"][k], rows["sub"][k], effect_keys) for k, t in targets.items()}
    latent = latent_draws(output.positions, rows, structure_of(main.spec), structures, collapsed, seed)
    described = dict(main.describe(rows["main"]))
    for k, target in targets.items():
        described.update({f"{k}: {name}": value for name, value in target.describe(rows["sub"][k]).items()})
    return JointDraws(output, params, sub_params, latent, rows, described, collapsed, config)


def _latent_start(filled: np.ndarray, missing: np.ndarray, chains: int, rng) -> np.ndarray:
    """Each chain's start of the latent values: the drawn fill values, jittered by a tenth of the
    observed values' sd."""
    values = filled[missing]
    spread = 0.1 * np.std(filled[~missing]) if (~missing).sum() > 1 else 0.1
    return values[None, :] + spread * rng.standard_normal((chains, len(values)))


def _joint_retune(main, positions: dict, unravel: Unravel):
    """The outcome's centring retune (``hierax.density.centering``: each level of an "auto" group
    term moved between centred and non-centred coordinates in warm-up, as a plain NUTS fit does),
    on the joint flat position, whose outcome part is one slice (``ravel_pytree`` orders the
    position's keys: latent, main, sub); None where the outcome has no such group term."""
    if main.retune is None:
        return None
    first = jax.tree_util.tree_map(lambda x: np.asarray(x[0]), positions)
    start = Unravel.ravel(first[LATENT]).size if first[LATENT] else 0
    stop = start + Unravel.ravel(first["main"]).size

    def retune(flat, inverse_mass_matrix, aux):
        position = unravel.unravel(np.asarray(flat))
        moved, part, outcome = main.retune(position["main"], np.asarray(inverse_mass_matrix)[:, start:stop],
                                           aux["main"])
        matrix = np.array(inverse_mass_matrix, dtype=float)
        matrix[:, start:stop] = part
        return Unravel.ravel_rows({**position, "main": moved}), matrix, {**aux, "main": outcome}

    return retune
