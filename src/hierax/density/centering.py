"""Centred or non-centred random effects, chosen per level from what warmup has measured.

Why per level. For one effect b_l ~ N(0, sd^2) informed by data with precision d_l (n_l / sigma^2
for a gaussian response, the Fisher information of the level's observations otherwise), let
kappa_l = d_l sd^2. Given sd, the non-centred coordinate z_l = b_l / sd has variance
1 / (1 + kappa_l) and the centred b_l has variance sd^2 / (1 + kappa_l). When kappa_l is small
the data say little, z_l is nearly independent of sd and the non-centred form has no funnel; when
kappa_l is large the data pin b_l, which is then nearly independent of sd, while z_l = b_l / sd
lies on a ridge along sd (Papaspiliopoulos, Roberts and Skold 2007, Statistical Science 22(1);
Betancourt and Girolami 2015). The two are equally good at kappa_l = 1, where Var(z_l) = 1/2.
One grouping factor often holds both kinds of level: grouseticks' observation-level effect has a
count of 0 in some rows and 40 in others; radon has counties with 1 home and with 100.

Centring means centring on the level's mean m_l: its fixed coefficient plus the effects of the
coarser groups that nest it (Gelfand, Sahu and Carlin 1995); the coordinate is then the level's
whole effect (``hierax.density.logdensity``).

How. No estimate of kappa is needed: warmup's mass-matrix adaptation has just measured the
posterior variance of every z_l in non-centred coordinates. At the end of an early slow window
(chosen by the engine) the levels whose every effect has kappa = 1 / Var(z) - 1 above 1 even at
the low end of the sd's posterior (whose spread the same adaptation measured), averaged over the
chains, are centred; the chains move to the new coordinates at their current states and warmup
goes on. At the end of a later window the centred levels are looked at again, with kappa from
their variance in centred coordinates, sd^2 / Var(b) - 1, and the spread of the sd measured over
a longer window: those no longer well informed at the sd's low end move back (see
:func:`choose_weights`). The posterior is the same distribution in other coordinates, so the
choice affects efficiency, never the answer. The variance measured is marginal (it includes the uncertainty of
the other parameters), which errs towards the non-centred form. The density also accepts
partial weights in (0, 1) (Gorinova, Moore and Hoffman 2020), but the sampler does not use them:
see :func:`choose_weights`.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

from hierax.density.logdensity import constrain_params, fixed_parts, level_means, model_arrays, structure_of
from hierax.model.spec import ModelSpec
from hierax.model.layout import PARAMS, POSITION

CENTRED_FROM = 0.5  # a level whose weights average at least this is reported as centred


def auto_blocks(spec: ModelSpec) -> tuple:
    """The blocks whose parameterisation is chosen per level during warmup."""
    return tuple(b for b in spec.blocks if b.parameterisation == "auto")


def make_retune(spec: ModelSpec):
    """Build the engine's warmup callback ``retune(positions, inverse_mass_matrix, centring)``.

    Arrays carry a leading chain axis; ``inverse_mass_matrix`` is (chains, dim) in the order of
    ``ravel_pytree``. Returns the positions and inverse mass matrices in the new coordinates and
    the new weights. Returns None when no block is "auto".
    """
    blocks = auto_blocks(spec)
    if not blocks:
        return None

    structure, arrays = structure_of(spec), model_arrays(spec)
    names = tuple(b.name for b in blocks)

    def retune(positions, inverse_mass_matrix, centring):
        effects, means, chols, variances = jax.device_get(
            _chain_state(structure, names, positions, inverse_mass_matrix, centring, arrays))
        positions = jax.tree_util.tree_map(np.array, positions)
        variances = jax.tree_util.tree_map(np.array, variances)
        centring = {name: np.array(weight, dtype=float) for name, weight in centring.items()}
        for block in blocks:
            old = centring[block.name]
            new = choose_weights(variances[POSITION.effects][block.name].mean(axis=0), variances[POSITION.log_sd][block.name].mean(axis=0),
                                 old, positions[POSITION.log_sd][block.name].mean(axis=0))
            _move_levels(block, positions, variances, old, new, effects[block.name], means[block.name],
                         chols[block.name])
            centring[block.name] = new
        return positions, np.asarray(_ravel_all(variances)), centring

    return retune


@functools.partial(jax.jit, static_argnums=(0, 1))
def _chain_state(structure, names, positions, inverse_mass_matrix, centring, arrays):
    """Per chain: the effects b, their means m, the correlation factors and the variances of the
    coordinates (one compiled call, shared by models of one structure: op by op, these dozens of
    small ops cost seconds)."""
    _, unravel = ravel_pytree(jax.tree_util.tree_map(lambda x: x[0], positions))
    params = jax.vmap(lambda p: constrain_params(structure, p, centring, arrays)[0])(positions)
    by_name = {b.name: b for b in structure.blocks}
    shapes = {name: z.shape[1:] for name, z in positions[POSITION.effects].items()}

    def chain_means(p):
        fixed = fixed_parts(structure, arrays, p[PARAMS.fixed], shapes)[1]     # one product for every block
        return {name: level_means(fixed[name], by_name[name].parents, arrays["parent_index"][name], p[PARAMS.effects])
                for name in names}

    means = jax.vmap(chain_means)(params)
    return params[PARAMS.effects], means, params[PARAMS.cor_chol], jax.vmap(unravel)(inverse_mass_matrix)


_ravel_all = jax.jit(jax.vmap(lambda tree: ravel_pytree(tree)[0]))


def choose_weights(var_v: np.ndarray, var_log_sd: np.ndarray, old: np.ndarray, log_sd: np.ndarray) -> np.ndarray:
    """New whole-level weights (levels, q) from the coordinates' variances ``var_v`` (levels, q),
    those of log sd (q,), the old weights and the chains' mean log sd (q,).

    A level is well informed when every effect's kappa stays above 1 at the low end of its sd's
    posterior. kappa holds at a typical sd; at sd exp(-2 s), s the posterior sd of log sd (a 2.5%
    quantile), it is kappa exp(-4 s). For a non-centred level, kappa = 1 / Var(z) - 1; for a
    centred one, kappa = sd^2 / Var(b) - 1 at sd = exp(mean log sd). Non-centred levels that are
    well informed are centred; centred levels that are not move back. The marginal variances
    include the other parameters' uncertainty, which errs towards the non-centred form.

    Why the low end: a centred level whose kappa falls below 1 there meets the centred form's
    own funnel as the sd shrinks: measured on radon, centring the levels with kappa > 1 at the
    typical sd gave 131 divergent draws where none were centred gave 5. Why look again: an early
    window underestimates s for a slowly mixing sd (grouseticks' LOCATION, see
    :func:`hierax.engines.schedule.retune_points`). Whole levels switch, never partial weights:
    those keep a trace of the non-centred funnel (v - w m ~ N(0, sd^w)), which on eight schools
    alone gave about 100 divergences.
    """
    variance = np.maximum(var_v, 1e-12)
    centred = old.min(axis=1) == 1.0
    kappa = np.where(centred[:, None], np.exp(2.0 * log_sd)[None, :] / variance, 1.0 / variance) - 1.0
    well_informed = (kappa * np.exp(-4.0 * np.sqrt(var_log_sd))[None, :] > 1.0).all(axis=1)
    noncentred = old.max(axis=1) == 0.0
    new = np.where((well_informed & noncentred)[:, None], 1.0, old)
    return np.where((centred & ~well_informed)[:, None], 0.0, new)


def _move_levels(block, positions: dict, variances: dict, old, new, b, mean, L) -> None:
    """Change every chain's weights from ``old`` to ``new`` (levels, q) at fixed b (in place).

    b = sd^(1 - w) (A_w v - w m), A_w = diag(1 - w) L + diag(w), so
    v_new = A_new^-1 (sd^(w_new - 1) b + w_new m). The variances follow the map v_old -> v_new at
    fixed m, A_new^-1 sd^(w_new - w_old) A_old, applied to squared entries
    (correlations between coordinates ignored, as a diagonal mass matrix ignores them).
    """
    log_sd = positions[POSITION.log_sd][block.name]                                      # (chains, q)
    q = log_sd.shape[1]
    eye = np.eye(q)
    A_old = (1.0 - old)[None, :, :, None] * L[:, None] + old[None, :, :, None] * eye  # (chains, levels, q, q)
    A_new_inv = np.linalg.inv((1.0 - new)[None, :, :, None] * L[:, None] + new[None, :, :, None] * eye)
    whole = b * np.exp((new[None] - 1.0) * log_sd[:, None, :]) + new[None] * mean  # (chains, levels, q)
    positions[POSITION.effects][block.name] = np.einsum("clij,clj->cli", A_new_inv, whole)
    scale = np.exp((new - old)[None] * log_sd[:, None, :])
    maps = np.einsum("clij,clj,cljk->clik", A_new_inv, scale, A_old)             # (chains, levels, q, q)
    variances[POSITION.effects][block.name] = np.einsum("clik,clk->cli", maps**2, variances[POSITION.effects][block.name])


def describe_centering(spec: ModelSpec, centring: dict) -> dict:
    """Per block: the choice asked for, the mean centring weight, and how many levels are mostly
    centred (mean weight >= 0.5) or mostly non-centred."""
    out = {}
    for block in spec.blocks:
        per_level = np.asarray(centring[block.name], dtype=float).mean(axis=1)
        centred = int((per_level >= CENTRED_FROM).sum())
        out[block.name] = {"choice": block.parameterisation, "mean_weight": round(float(per_level.mean()), 3),
                           "centered": centred, "noncentered": len(per_level) - centred}
    return out
