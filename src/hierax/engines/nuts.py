"""NUTS with Stan's windowed adaptation, over BlackJAX.

BlackJAX provides the NUTS transition (``blackjax.nuts.build_kernel``), the step-size dual
averaging and the Welford mass-matrix estimator; this module only drives them: Stan's warmup
schedule (a fast window, doubling slow windows, a final fast window), chains spread over the
CPU devices with ``pmap`` (and ``vmap`` within a device when chains outnumber devices), and the
work cut into chunks so a progress bar can move between them. Each chunk is one compiled call.

The engine sees only a log density over a pytree and arrays of initial positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from blackjax.adaptation.mass_matrix import mass_matrix_adaptation
from blackjax.adaptation.step_size import dual_averaging_adaptation
from blackjax.adaptation.window_adaptation import build_schedule
from blackjax.mcmc import hmc, nuts


@dataclass(frozen=True)
class NUTSConfig:
    """Options of the sampler (validated by ``hierax.config``)."""

    chains: int = 4
    warmup: int = 1000
    draws: int = 1000
    target_accept: float = 0.8
    max_tree_depth: int = 10
    chunk: int = 100


class AdaptState(NamedTuple):
    """Per-chain warmup state: the chain's state plus the adaptation's."""

    chain: hmc.HMCState
    step_size_state: object
    mass_state: object
    step_size: jax.Array
    inverse_mass_matrix: jax.Array


class NUTSOutput(NamedTuple):
    """Draws with leading (chain, draw) axes and the sampler's per-draw statistics."""

    positions: object
    diverging: np.ndarray
    tree_depth: np.ndarray
    num_steps: np.ndarray
    energy: np.ndarray
    acceptance_rate: np.ndarray
    logdensity: np.ndarray
    step_size: np.ndarray
    inverse_mass_matrix: np.ndarray


def sample_nuts(rng_key, logdensity_fn: Callable, initial_positions, config: NUTSConfig,
                progress: Callable | None = None) -> NUTSOutput:
    """Run warmup then sampling for ``config.chains`` chains.

    Parameters
    ----------
    rng_key : a JAX PRNG key.
    logdensity_fn : log density of one position (a pytree).
    initial_positions : pytree with a leading axis of length ``chains``.
    config : NUTSConfig
    progress : optional ``progress(phase, steps_done)`` called after each chunk.
    """
    kernel = nuts.build_kernel()
    mm_init, mm_update, mm_final = mass_matrix_adaptation(True)
    da_init, da_update, da_final = dual_averaging_adaptation(config.target_accept)
    layout = _device_layout(config.chains)
    max_doublings = config.max_tree_depth

    def adapt_init(position):
        flat, _ = jax.flatten_util.ravel_pytree(position)
        state = hmc.init(position, logdensity_fn)
        mm_state = mm_init(flat.shape[0])
        return _strong(AdaptState(state, da_init(1.0), mm_state, jnp.asarray(1.0), mm_state.inverse_mass_matrix))

    def end_window(da_state, mm_state):
        mm_state = mm_final(mm_state)
        da_state = da_init(jnp.exp(da_state.log_step_size))
        return da_state, mm_state, jnp.exp(da_state.log_step_size), mm_state.inverse_mass_matrix

    def adapt_update(adapt: AdaptState, state, acceptance_rate, window, window_end):
        da_state = da_update(adapt.step_size_state, acceptance_rate)
        mm_state = jax.lax.cond(window == 1, lambda m: mm_update(m, state.position), lambda m: m, adapt.mass_state)
        da_state, mm_state, step_size, imm = jax.lax.cond(
            window_end, end_window,
            lambda d, m: (d, m, jnp.exp(d.log_step_size), adapt.inverse_mass_matrix), da_state, mm_state)
        return AdaptState(state, da_state, mm_state, step_size, imm)

    def one_step(adapt: AdaptState, xs):
        """One NUTS transition; stage 0/1 adapt (fast/slow window), stage 2 is frozen sampling."""
        key, (stage, window_end) = xs
        state, info = kernel(key, adapt.chain, logdensity_fn, adapt.step_size, adapt.inverse_mass_matrix,
                             max_num_doublings=max_doublings)
        adapt = jax.lax.cond(
            stage < 2, lambda a: adapt_update(a, state, info.acceptance_rate, stage, window_end),
            lambda a: a._replace(chain=state), adapt)
        stats = (info.is_divergent, info.num_trajectory_expansions, info.num_integration_steps, info.energy,
                 info.acceptance_rate, state.logdensity)
        return adapt, (state.position, stats)

    def run_chunk(adapt, keys, schedule):
        return jax.lax.scan(one_step, adapt, (keys, schedule))

    def freeze(adapt: AdaptState):
        """End of warmup: Stan keeps the averaged step size of the last window."""
        step_size = jnp.exp(adapt.step_size_state.log_step_size_avg) if config.warmup else adapt.step_size
        return adapt._replace(step_size=step_size)

    p_init = _parallel(adapt_init)
    p_chunk = _parallel(run_chunk, broadcast=(False, False, True))
    p_freeze = _parallel(freeze)

    warm_key, sample_key = jax.random.split(rng_key)
    adapt = p_init(_split_chains(initial_positions, layout))
    schedule = jnp.asarray(build_schedule(config.warmup)).astype(jnp.int32) if config.warmup else None
    adapt, _ = _run_phase(p_chunk, adapt, warm_key, schedule, config, layout, progress, "warmup", keep=False)
    adapt = p_freeze(adapt)
    frozen = jnp.tile(jnp.asarray([[2, 0]], dtype=jnp.int32), (config.draws, 1))
    adapt, chunks = _run_phase(p_chunk, adapt, sample_key, frozen, config, layout, progress, "sampling", keep=True)
    return _collect(chunks, jax.device_get(adapt.step_size), jax.device_get(adapt.inverse_mass_matrix))


def _run_phase(p_chunk, adapt, rng_key, schedule, config, layout, progress, phase, keep):
    """Run ``schedule`` in chunks of ``config.chunk`` steps; keep the draws if asked."""
    chunks = []
    if schedule is None:
        return adapt, chunks
    total = schedule.shape[0]
    chain_keys = jax.random.split(rng_key, config.chains)
    for start in range(0, total, config.chunk):
        stop = min(start + config.chunk, total)
        keys = jax.vmap(lambda k: jax.random.split(jax.random.fold_in(k, start), stop - start))(chain_keys)
        adapt, out = p_chunk(adapt, _split_chains(keys, layout), schedule[start:stop])
        if keep:
            chunks.append(jax.device_get(out))
        else:
            jax.block_until_ready(adapt)
        if progress:
            progress(phase, stop - start)
    return adapt, chunks


def _strong(tree):
    """Drop weak types so that the state's signature does not change after the first chunk."""
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype=jnp.asarray(x).dtype), tree)


def _device_layout(chains: int) -> tuple[int, int]:
    """(devices used, chains per device): as many devices as divide the chains evenly."""
    devices = min(jax.local_device_count(), chains)
    while chains % devices:
        devices -= 1
    return devices, chains // devices


def _parallel(fn, broadcast=None):
    """pmap over devices of vmap over chains; arguments marked in ``broadcast`` are shared."""
    broadcast = broadcast or ()
    in_axes = tuple(None if b else 0 for b in broadcast) if broadcast else 0
    inner = jax.vmap(fn, in_axes=in_axes)
    return jax.pmap(inner, in_axes=in_axes)


def _split_chains(tree, layout):
    devices, per_device = layout
    return jax.tree_util.tree_map(lambda x: jnp.reshape(x, (devices, per_device) + x.shape[1:]), tree)


def _merge(x):
    x = np.asarray(x)
    return x.reshape((x.shape[0] * x.shape[1],) + x.shape[2:])


def _collect(chunks, step_size, imm) -> NUTSOutput:
    """Join chunks along the draw axis and flatten (device, chain) into one chain axis."""
    positions = jax.tree_util.tree_map(lambda *xs: np.concatenate([_merge(x) for x in xs], axis=1),
                                       *[c[0] for c in chunks])
    stats = [np.concatenate([_merge(c[1][i]) for c in chunks], axis=1) for i in range(6)]
    diverging, expansions, steps, energy, accept, logdensity = stats
    return NUTSOutput(positions, diverging.astype(bool), expansions.astype(int), steps.astype(int), energy,
                      accept, logdensity, _merge(step_size), _merge(imm))
