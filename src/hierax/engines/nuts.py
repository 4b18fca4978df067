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
        return AdaptState(state, da_init(1.0), mm_state, jnp.asarray(1.0), mm_state.inverse_mass_matrix)

    def warmup_step(adapt: AdaptState, xs):
        key, (window, window_end) = xs
        state, info = kernel(key, adapt.chain, logdensity_fn, adapt.step_size, adapt.inverse_mass_matrix,
                             max_num_doublings=max_doublings)
        da_state = da_update(adapt.step_size_state, info.acceptance_rate)
        mm_state = jax.lax.cond(window == 1, lambda m: mm_update(m, state.position), lambda m: m, adapt.mass_state)
        step_size = jnp.exp(da_state.log_step_size)

        def end_window(args):
            da_s, mm_s = args
            mm_s = mm_final(mm_s)
            da_s = da_init(jnp.exp(da_s.log_step_size))
            return da_s, mm_s, jnp.exp(da_s.log_step_size), mm_s.inverse_mass_matrix

        da_state, mm_state, step_size, imm = jax.lax.cond(
            window_end, end_window, lambda a: (a[0], a[1], step_size, adapt.inverse_mass_matrix), (da_state, mm_state))
        return AdaptState(state, da_state, mm_state, step_size, imm), None

    def sample_step(carry, key):
        state, step_size, imm = carry
        state, info = kernel(key, state, logdensity_fn, step_size, imm, max_num_doublings=max_doublings)
        stats = (info.is_divergent, info.num_trajectory_expansions, info.num_integration_steps, info.energy,
                 info.acceptance_rate, state.logdensity)
        return (state, step_size, imm), (state.position, stats)

    def run_warmup_chunk(adapt, keys, schedule):
        return jax.lax.scan(warmup_step, adapt, (keys, schedule))[0]

    def run_sample_chunk(carry, keys):
        return jax.lax.scan(sample_step, carry, keys)

    p_init = _parallel(adapt_init, layout)
    p_warmup = _parallel(run_warmup_chunk, layout, broadcast=(False, False, True))
    p_sample = _parallel(run_sample_chunk, layout)

    warm_key, sample_key = jax.random.split(rng_key)
    adapt = p_init(_split_chains(initial_positions, layout))
    schedule = jnp.asarray(build_schedule(config.warmup)) if config.warmup > 0 else jnp.zeros((0, 2), int)
    chain_keys = jax.random.split(warm_key, config.chains)
    for start in range(0, config.warmup, config.chunk):
        stop = min(start + config.chunk, config.warmup)
        keys = jax.vmap(lambda k: jax.random.split(jax.random.fold_in(k, start), stop - start))(chain_keys)
        adapt = p_warmup(adapt, _split_chains(keys, layout), schedule[start:stop])
        if progress:
            progress("warmup", stop - start)
    step_size = _final_step_size(adapt, da_final, config.warmup)
    carry = (adapt.chain, step_size, adapt.inverse_mass_matrix)
    chunks = []
    chain_keys = jax.random.split(sample_key, config.chains)
    for start in range(0, config.draws, config.chunk):
        stop = min(start + config.chunk, config.draws)
        keys = jax.vmap(lambda k: jax.random.split(jax.random.fold_in(k, start), stop - start))(chain_keys)
        carry, out = p_sample(carry, _split_chains(keys, layout))
        chunks.append(jax.device_get(out))
        if progress:
            progress("sampling", stop - start)
    return _collect(chunks, layout, jax.device_get(carry[1]), jax.device_get(carry[2]), max_doublings)


def _final_step_size(adapt: AdaptState, da_final, num_warmup: int):
    """The averaged step size of the last window (Stan's choice), or the current one if no warmup."""
    if num_warmup == 0:
        return adapt.step_size
    return jax.vmap(jax.vmap(lambda s: jnp.exp(s.log_step_size_avg)))(adapt.step_size_state)


def _device_layout(chains: int) -> tuple[int, int]:
    """(devices used, chains per device): as many devices as divide the chains evenly."""
    devices = min(jax.local_device_count(), chains)
    while chains % devices:
        devices -= 1
    return devices, chains // devices


def _parallel(fn, layout, broadcast=None):
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


def _collect(chunks, layout, step_size, imm, max_doublings) -> NUTSOutput:
    """Join chunks along the draw axis and flatten (device, chain) into one chain axis."""
    positions = jax.tree_util.tree_map(lambda *xs: np.concatenate([_merge(x) for x in xs], axis=1),
                                       *[c[0] for c in chunks])
    stats = [np.concatenate([_merge(c[1][i]) for c in chunks], axis=1) for i in range(6)]
    diverging, expansions, steps, energy, accept, logdensity = stats
    return NUTSOutput(positions, diverging.astype(bool), expansions.astype(int), steps.astype(int), energy,
                      accept, logdensity, _merge(step_size), _merge(imm))
