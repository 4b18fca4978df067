"""The compiled NUTS steps: one chunk of warmup or sampling as one program, parallel over devices.

BlackJAX gives the NUTS transition (``blackjax.nuts.build_kernel``), the step size's dual
averaging and the Welford mass-matrix estimator; :func:`build_steps` puts them in one scan over
a schedule of (stage, window_end) rows, so that a chunk of any phase is one compiled call
(:mod:`hierax.engines.nuts` drives the chunks).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from blackjax.adaptation.mass_matrix import mass_matrix_adaptation
from blackjax.adaptation.step_size import dual_averaging_adaptation
from blackjax.mcmc import hmc, nuts

from hierax._programs import program_cache
from hierax.engines.devices import parallel
from hierax.engines.quick import quick_options


class AdaptState(NamedTuple):
    """Per-chain warmup state: the chain's state plus the adaptation's."""

    chain: hmc.HMCState
    step_size_state: object
    mass_state: object
    step_size: jax.Array
    inverse_mass_matrix: jax.Array


SKIP = 3  # schedule stage of a padding step: nothing moves, so every chunk has one length
# per-step statistics: divergent, tree depth, leapfrog steps, energy, acceptance rate, log density
STAT_TYPES = (jnp.bool_, jnp.int32, jnp.int32, jnp.float64, jnp.float64, jnp.float64)


class Steps(NamedTuple):
    """The programs of :func:`build_steps`."""

    reset: Callable         # per chain, not compiled: (chain, imm, step size) -> fresh AdaptState (its shapes are read)
    start: Callable         # compiled: (positions, aux) -> the chains' HMCState
    chunk: Callable


@program_cache(maxsize=8)
def build_steps(logdensity_fn: Callable, max_tree_depth: int, dense_mass: bool, layout: tuple[int, int],
                quick_compile: bool) -> Steps:
    """The compiled steps, parallel over the devices of ``layout`` (:func:`hierax.engines.devices.parallel`).

    ``chunk(adapt, keys, schedule, aux, target, freeze, fresh)`` runs one scan over a schedule
    of (stage, window_end) rows: stage 0/1 adapt (fast/slow window) towards acceptance rate
    ``target``, 2 samples with frozen settings, 3 skips. ``target`` is an argument, so raising it
    costs no recompilation; only the dual averaging's gradient (target - acceptance rate) reads
    it. ``fresh`` starts the adaptation anew (step size 1, empty windows) before the first step.
    ``start(positions, aux)`` computes the chains' log density and gradient: a program apart, so
    that the chunk holds one copy of the density's gradient, not two (a q = 2 collapsed
    gradient alone takes 0.7 s to compile).

    No vmap over chains (one a device, more in turns: :func:`in_slots`): it doubled the trace, added
    half again to the compile, and its arithmetic differs from one chain's in the last bits.
    ``quick_compile``: XLA's older CPU fusion emitters, which compile in two thirds of the time and
    run up to half again slower (:mod:`hierax.engines.quick`), for fits that are mostly compiling.
    """
    kernel = nuts.build_kernel()
    mm_init, mm_update, mm_final = mass_matrix_adaptation(not dense_mass)
    da_init, _, _ = dual_averaging_adaptation(0.8)

    def start(position, aux):
        return strong(hmc.init(position, lambda p: logdensity_fn(p, aux)))

    def reset(chain, inverse_mass_matrix, step_size):
        mm_state = mm_init(inverse_mass_matrix.shape[-1])
        step_size = jnp.asarray(step_size, float)
        return strong(AdaptState(chain, da_init(step_size), mm_state, step_size, inverse_mass_matrix))

    def end_window(da_state, mm_state):
        mm_state = mm_final(mm_state)
        da_state = da_init(jnp.exp(da_state.log_step_size))
        return da_state, mm_state, jnp.exp(da_state.log_step_size), mm_state.inverse_mass_matrix

    def adapt_update(adapt: AdaptState, state, acceptance_rate, window, window_end, target):
        da_update = dual_averaging_adaptation(target)[1]
        da_state = da_update(adapt.step_size_state, acceptance_rate)
        mm_state = jax.lax.cond(window == 1, lambda m: mm_update(m, state.position), lambda m: m, adapt.mass_state)
        da_state, mm_state, step_size, imm = jax.lax.cond(
            window_end, end_window,
            lambda d, m: (d, m, jnp.exp(d.log_step_size), adapt.inverse_mass_matrix), da_state, mm_state)
        return AdaptState(state, da_state, mm_state, step_size, imm)

    def chunk(adapt, keys, schedule, aux, target, freeze, fresh):
        """``freeze`` (at the end of warmup): take the averaged step size of the last window, as
        Stan does, before the first step."""
        def logdensity(position):
            return logdensity_fn(position, aux)

        adapt = jax.tree_util.tree_map(lambda a, b: jnp.where(fresh, a, b),
                                       reset(adapt.chain, adapt.inverse_mass_matrix, adapt.step_size), adapt)
        averaged = jnp.exp(adapt.step_size_state.log_step_size_avg)
        adapt = adapt._replace(step_size=jnp.where(freeze, averaged, adapt.step_size))

        def move(adapt: AdaptState, key, stage, window_end):
            state, info = kernel(key, adapt.chain, logdensity, adapt.step_size, adapt.inverse_mass_matrix,
                                 max_num_doublings=max_tree_depth)
            adapt = jax.lax.cond(
                stage < 2, lambda a: adapt_update(a, state, info.acceptance_rate, stage, window_end, target),
                lambda a: a._replace(chain=state), adapt)
            stats = (info.is_divergent, info.num_trajectory_expansions, info.num_integration_steps, info.energy,
                     info.acceptance_rate, state.logdensity)
            return adapt, (state.position, tuple(jnp.asarray(x, d) for x, d in zip(stats, STAT_TYPES)))

        def skip(adapt: AdaptState, *_):
            zeros = tuple(jnp.zeros((), d) for d in STAT_TYPES)
            return adapt, (jax.tree_util.tree_map(jnp.zeros_like, adapt.chain.position), zeros)

        def one_step(adapt: AdaptState, xs):
            key, (stage, window_end) = xs
            return jax.lax.cond(stage == SKIP, skip, move, adapt, key, stage, window_end)

        return jax.lax.scan(one_step, adapt, (keys, schedule))

    devices, per_device = layout
    options = quick_options() if quick_compile else None
    return Steps(reset, in_slots(parallel(start, _START_SHARED, devices, options), _START_SHARED, per_device),
                 in_slots(parallel(chunk, _CHUNK_SHARED, devices, options), _CHUNK_SHARED, per_device))


# which arguments of start (positions, aux) and chunk (adapt, keys, schedule, aux, target, freeze,
# fresh) every chain shares; the others have a chain axis
_START_SHARED, _CHUNK_SHARED = (False, True), (False, False, True, True, True, True, True)


_SLOTS = ThreadPoolExecutor(8, thread_name_prefix="hierax-slot")      # :func:`in_slots`'s dispatchers


def in_slots(program, broadcast: tuple, per_device: int):
    """``program`` (one chain a device, :func:`hierax.engines.devices.parallel`) run on arguments
    holding ``per_device`` chains a device: on each slot of chains in turn, the outputs joined.

    Why not vmap over a device's chains: a chain's draws must not depend on how the chains are
    laid out over the devices (the same seed, the same draws on one device or four), and XLA
    compiles a batched program's arithmetic differently in the last bits, which NUTS's
    trajectories magnify within a few hundred iterations. Run in slots, every chain runs the
    same compiled program wherever it is. The slots are dispatched from threads of their own, so
    that slots on one device run side by side on the cores (4 chains on one device on 2 cores:
    cbpp 2.0 -> 1.5 s); slots on several devices still take turns on each (4 chains on 2
    devices: 2.1 s against 1.2 s on 4 devices, ``benchmarks/layout.py``). Arguments not marked
    in ``broadcast`` are (devices, per_device, ...)."""
    if per_device == 1:
        return program

    def slot(args, k):
        return program(*[a if shared else jax.tree_util.tree_map(lambda x: x[:, k:k + 1], a)
                         for a, shared in zip(args, broadcast)])

    def run(*args):
        outputs = list(_SLOTS.map(lambda k: slot(args, k), range(per_device)))
        return jax.tree_util.tree_map(lambda *parts: jnp.concatenate(parts, axis=1), *outputs)

    return run


def strong(tree):
    """Drop weak types so that the state's signature does not change after the first chunk."""
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype=jnp.asarray(x).dtype), tree)
