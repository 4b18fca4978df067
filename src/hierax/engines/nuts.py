"""NUTS with Stan's windowed adaptation, over BlackJAX.

BlackJAX provides the NUTS transition (``blackjax.nuts.build_kernel``), the step-size dual
averaging and the Welford mass-matrix estimator; this module only drives them: Stan's warmup
schedule (a fast window, doubling slow windows, a final fast window), chains spread over the
CPU devices (jit of shard_map, one chain per device, with ``vmap`` within a device only when
chains outnumber devices), and the work cut into chunks so a progress bar can move between them
(and Ctrl-C in sampling can keep the chunks drawn, ``keep_interrupted``).
Each chunk is one compiled call (:mod:`hierax.engines.steps`); it also starts the adaptation,
and a small ``start`` program (or the caller) gives the chains' first gradients.

The engine sees only a log density over a pytree and arrays of initial positions.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from blackjax.mcmc import hmc

from hierax.engines.devices import device_layout, merge, on_devices, split_chains
from hierax.engines.settings import NUTSConfig
from hierax.engines.keys import split_keys
from hierax.engines.interrupts import interrupts_deferred
from hierax.engines.metric import curvature_metric
from hierax.engines.mode import Unravel
from hierax.engines.schedule import (
    fast_schedule, last_slow_window, pieces, retune_points, slow_window_ends, warmup_schedule,
)
from hierax.engines.steps import SKIP, build_steps


class NUTSOutput(NamedTuple):
    """Draws with leading (chain, draw) axes and the sampler's per-draw statistics.

    ``aux`` is the density's auxiliary argument as it was while sampling (after any retune).
    ``interrupted``: sampling was stopped by a KeyboardInterrupt (Ctrl-C) and these are the draws
    completed before it, the same number in every chain (``keep_interrupted`` in
    :func:`sample_nuts`); fewer than ``config.draws``, unless the interrupt came as a finished
    run was checked for divergences.
    """

    positions: object
    diverging: np.ndarray
    tree_depth: np.ndarray
    num_steps: np.ndarray
    energy: np.ndarray
    acceptance_rate: np.ndarray
    logdensity: np.ndarray
    step_size: np.ndarray
    inverse_mass_matrix: np.ndarray
    aux: object = None
    target_accept: float = 0.8
    escalations: tuple = ()
    interrupted: bool = False


class WarmStart(NamedTuple):
    """Adapted settings of an earlier run to start from (see ``warm`` in :func:`sample_nuts`):
    an inverse mass matrix (chains, dim), or (chains, dim, dim) for a dense metric, and a step
    size (chains,)."""

    inverse_mass_matrix: np.ndarray
    step_size: np.ndarray


WARMUP_ALLOWANCE = 0.005  # divergent transitions per transition tolerated late in warmup (see _Driver)
EARLY_TARGET = 0.8  # the acceptance rate warmup aims at before its last slow window (see _Driver)


def sample_nuts(rng_key, logdensity_fn: Callable, initial_positions, config: NUTSConfig,
                progress: Callable | None = None, aux=None, retune: Callable | None = None,
                dense_mass: bool = False, gradient: Callable | None = None, quick_compile: bool = False,
                while_compiling: Callable | None = None, metric_probes=None,
                warm: WarmStart | None = None, keep_interrupted: bool = False, metric_fallback=None) -> NUTSOutput:
    """Run warmup then sampling for ``config.chains`` chains.

    Parameters
    ----------
    rng_key : a JAX PRNG key.
    logdensity_fn : ``logdensity_fn(position, aux)``, the log density of one position (a pytree).
    initial_positions : pytree with a leading axis of length ``chains``.
    config : NUTSConfig
    progress : optional ``progress(phase, steps_done)`` called after each chunk.
    aux : pytree of arrays shared by all chains and passed to the density (None if unused). It
        is an argument of the compiled chunk, so changing it costs no recompilation.
    retune : optional host callback ``retune(positions, inverse_mass_matrix, aux) -> (positions,
        inverse_mass_matrix, aux)``, called at the end of one or two early slow warmup windows
        (:func:`hierax.engines.schedule.retune_points`), with a leading chain axis on every
        array. It may move the chains to new coordinates of the same distribution (e.g. centre
        some random effects); warmup then adapts to them. It needs the diagonal mass matrix.
    dense_mass : adapt a dense mass matrix (Stan's ``metric = dense_e``) rather than a diagonal
        one: worth it when the posterior has few dimensions that are correlated (a collapsed
        model's fixed effects and variance parameters), where it costs little.
    gradient : optional host function ``gradient(positions, aux) -> (log densities, gradients)``
        at positions with a leading chain axis (the gradients a pytree like them), from a caller
        that has a compiled gradient already. The engine uses it wherever it needs a chain's
        state outside its steps (the first state, the curvature probes, after a retune). Without
        it the engine compiles a program of its own for that, on this thread while the steps
        compile on another: on two cores the two compiles then slow each other.
    quick_compile : compile for a short compile rather than a fast run (see :func:`build_steps`):
        for posteriors that are cheap to sample, where compiling is most of the time.
    while_compiling : optional callable run on this thread while the steps compile on another
        the caller's chance to compile what it needs later.
    metric_probes : optional (groups, dim) 0/1 array over the coordinates in ``ravel_pytree``
        order: warmup's first diagonal metric then comes from the curvature at the chains'
        starts, each group's coordinates probed together (they must not interact; see
        :mod:`hierax.engines.metric`), instead of the unit metric. Diagonal metric only.
    metric_fallback : optional (dim,) entries of that first metric where a coordinate's curvature
        at a start is not positive (``fallback`` of :func:`hierax.engines.metric.curvature_metric`;
        None: 1).
    warm : optional :class:`WarmStart`: start from an earlier run's metric and step size, and
        make warmup one fast window (:func:`hierax.engines.schedule.fast_schedule`) that adapts
        the step size alone, starting from the given one; the metric stays as given. For refits
        to data like the earlier run's (bootstrap, cross-validation), whose posterior has nearly
        the same shape: a short warmup then serves. No retune or metric probes with it.
    keep_interrupted : on a KeyboardInterrupt (Ctrl-C) during sampling, return the draws completed
        so far, marked ``interrupted``, instead of letting it propagate: for a caller that hands
        the draws to a person (``hierax.fit``), who may stop a long run and still want what it
        drew. A loop of refits (SBC) leaves it False, so that Ctrl-C stops the loop. Before the
        first chunk of draws (in compiling or warmup) there is nothing to keep, and the
        interrupt propagates either way. Draws come in chunks of ``config.chunk`` iterations,
        every chain in each, so the chains keep the same number of draws; the chunk in flight is
        abandoned.

    Warmup's rules (escalation of the target, the early target, pooling) are :class:`_Driver`'s.

    Returns
    -------
    NUTSOutput
        With the target acceptance rate finally used and, in ``escalations``, a (phase, target,
        divergent transitions) record of each run that made it rise; ``interrupted`` if Ctrl-C
        cut sampling short (with ``keep_interrupted``).
    """
    if dense_mass and retune is not None:
        raise ValueError("retune maps a diagonal mass matrix; use dense_mass=False with it")
    if metric_probes is not None and dense_mass:
        raise ValueError("metric_probes needs the diagonal metric")
    if warm is not None and (retune is not None or metric_probes is not None):
        raise ValueError("a warm start keeps its metric and coordinates: no retune or metric_probes with it")
    layout = device_layout(config.chains)
    run = _Run(build_steps(logdensity_fn, config.max_tree_depth, dense_mass, layout, quick_compile), config,
               layout, progress)
    pending = prefetch(logdensity_fn, initial_positions, config, aux, dense_mass, quick_compile)
    adapt = _started(run, initial_positions, aux, dense_mass, gradient, metric_probes, warm, metric_fallback)
    if while_compiling is not None:
        while_compiling()
    pending.result()
    driver = _Driver(run, rng_key, aux, retune, gradient, warm is not None, keep_interrupted)
    return driver.sample(driver.warmup(adapt))


class _Driver:
    """One run of :func:`sample_nuts` after the start: warm-up in pieces, sampling, and the
    escalation of the target acceptance rate between them (its rules below).

    Holds what changes along the way: the target and the rates left, the record of escalations,
    ``aux`` (a retune changes it) and whether the next chunk starts the adaptation afresh.

    Escalation. While ``config.escalate`` has rates left, divergent transitions raise the target
    acceptance rate to the next one: if more than five in a thousand of the transitions in the
    second half of warmup's last slow window diverge, that window runs again; if any appears in
    sampling, the draws are discarded, the last slow and final fast windows run again at the new
    target, and sampling starts over. (The first half of a window is not counted: each window
    restarts the step-size search at ten times the last step size, and its first trials diverge
    on easy posteriors too. In the second half the step size still moves: on grouseticks one or
    two of its thousand transitions diverged in four seeds of six, and none of sampling's at the
    same target in all six, while raising the target doubled the trees. Sampling's own
    divergences remain the test: every one of them counts.)
    Warmup may adapt in any way; the draws returned come from one run with fixed settings. A warm
    start's warmup is one fast window, which plays the part of the last slow window; each rerun
    of it starts the step size's search afresh from the step size reached.

    Interrupts (``keep_interrupted``). A KeyboardInterrupt during a sampling run ends it with the
    chunks it completed. One that comes before the first chunk of a restarted run (in the rerun
    of warm-up, or in that chunk) keeps the run it was to replace: whole, at the lower target,
    its divergent transitions and all, and reported as they would be without escalation. Warm-up
    has no draws to keep.

    Adaptation. Before the last slow window the step size aims at an acceptance rate of
    ``EARLY_TARGET`` (or the target, if lower): those windows estimate the metric and move the
    chains into the typical set, for which a larger step serves as well, with shorter trees
    (grouseticks' first windows took a third less time). Each slow window's metric is the mean
    of the chains' (:func:`_pooled`), the final fast window adapts the step size to the last one
    at the target, and sampling uses the chains' pooled step size.
    """

    def __init__(self, run: "_Run", rng_key, aux, retune, gradient, warm: bool = False,
                 keep_interrupted: bool = False):
        config = run.config
        self.run, self.aux, self.retune, self.gradient, self.warm = run, aux, retune, gradient, warm
        self.keep_interrupted = keep_interrupted
        self.warm_key, self.sample_key = split_keys(rng_key, 2)
        self.schedule = fast_schedule(config.warmup) if warm else warmup_schedule(config.warmup)
        self.cuts = retune_points(self.schedule) if retune is not None else ()
        self.slow_ends = set(slow_window_ends(self.schedule))
        self.last = ((0, config.warmup) if config.warmup else None) if warm else last_slow_window(self.schedule)
        self.pieces = pieces(len(self.schedule), self.cuts + tuple(self.slow_ends), self.last)
        self.target, self.rates, self.history = config.target_accept, list(config.escalate), []
        self.fresh = True                   # the first chunk run starts the chains and the adaptation

    def warmup(self, adapt):
        """All of warm-up; the last slow window runs again at a higher target while too many of
        its late transitions diverge."""
        last, config = self.last, self.run.config
        for part, (lo, hi) in enumerate(self.pieces):
            adapt, found = self._warm(adapt, part, lo, hi)
            while (lo, hi) == last and found > WARMUP_ALLOWANCE * config.chains * (hi - lo) / 2 and self.rates:
                self._escalate("warmup", found)
                adapt, found = self._warm(adapt, part, lo, hi)
            if hi in self.slow_ends or (last and hi == last[1]):
                adapt = _pooled(self.run, adapt, "metric")
            if hi in self.cuts:
                adapt, self.aux = _apply_retune(self.run, self.retune, adapt, self.aux, self.gradient)
        return adapt

    def sample(self, adapt) -> NUTSOutput:
        """Sampling; on a divergent transition (with rates left) the draws are discarded, warm-up
        from its last slow window on runs again at the next target, and sampling starts over.
        Interrupted, the draws of the run under way, or of the one it replaces (see the class)."""
        finished = None                     # the last run that drew every draw
        try:
            while True:
                adapt, output = self._draw(adapt)
                if output.interrupted:
                    return output
                finished = output
                found = int(output.diverging.sum())
                if not (found and self.rates and self.last):
                    return output
                self._escalate("sampling", found)
                adapt = self._warm_again(adapt)
        except KeyboardInterrupt:
            if finished is None or not self.keep_interrupted:
                raise
            return finished._replace(interrupted=True)

    def _draw(self, adapt):
        """One sampling run at the current target: the final state and the run's output, or, if
        interrupted after its first chunk (with ``keep_interrupted``), the state and the draws of
        the chunks completed (``interrupted``).

        Why the state of the last chunk taken serves: sampling's step size and metric are fixed
        from the first chunk on (``freeze`` applies the averaged step size in it)."""
        config = self.run.config
        adapt = _pooled(self.run, adapt, "step size")
        frozen = np.tile(np.asarray([[2, 0]], dtype=np.int32), (config.draws, 1))
        key = split_keys(self.sample_key, 1, len(self.history))[0]
        chunks, interrupted = [], False
        try:
            for adapt, out in _run_phase(self.run, adapt, key, frozen, self.aux, self.target, "sampling",
                                         freeze=config.warmup > 0, fresh=self.fresh):
                chunks.append(jax.device_get(out))
        except KeyboardInterrupt:
            if not (chunks and self.keep_interrupted):
                raise
            interrupted = True
        self.fresh = False
        output = _collect(chunks, config.draws, jax.device_get(adapt.step_size),
                          jax.device_get(adapt.inverse_mass_matrix), self.aux)
        return adapt, output._replace(target_accept=self.target, escalations=tuple(self.history),
                                      interrupted=interrupted)

    def _warm_again(self, adapt):
        """Warm-up from its last slow window on, again (at a raised target), before sampling anew."""
        for part, (lo, hi) in enumerate(self.pieces):
            if lo >= self.last[0]:
                adapt, _ = self._warm(adapt, part, lo, hi)
            if hi == self.last[1]:
                adapt = _pooled(self.run, adapt, "metric")
        return adapt

    def _escalate(self, phase: str, found: int) -> None:
        self.history.append((phase, self.target, found))
        self.target = self.rates.pop(0)
        self.fresh = self.warm           # a warm start's one window restarts from the step size reached

    def _warm(self, adapt, part: int, lo: int, hi: int):
        """Warm-up rows [lo, hi); returns the state and the divergent transitions of the second half."""
        key = split_keys(self.warm_key, 1, len(self.history), part)[0]
        early = self.last is not None and hi <= self.last[0]
        rate = min(self.target, EARLY_TARGET) if early else self.target
        chunks = _run_phase(self.run, adapt, key, self.schedule[lo:hi], self.aux, rate, "warmup", fresh=self.fresh)
        out = _count_divergent(chunks, adapt, self.run.config.chunk, (hi - lo) // 2)
        self.fresh = False
        return out


_PREFETCH = ThreadPoolExecutor(1, thread_name_prefix="hierax-prefetch")


def prefetch(logdensity_fn: Callable, initial_positions, config: NUTSConfig, aux=None, dense_mass: bool = False,
             quick_compile: bool = False):
    """Compile the sampler's steps for positions and ``aux`` of these shapes in a background thread,
    returning a Future; :func:`sample_nuts` with the same shapes then finds them compiled.

    Why: compiling the NUTS chunk takes seconds on a first fit, during which the caller may have
    other work for the main thread (finding a starting point). The steps are run once each, on a
    chunk of padding steps that move nothing, so that JAX's own caches hold them, exactly as the
    later call will look them up (same argument types and placement).
    """
    def work():
        layout = device_layout(config.chains)
        steps = build_steps(logdensity_fn, config.max_tree_depth, dense_mass, layout, quick_compile)
        adapt = _template_state(steps, initial_positions, config, dense_mass, layout)
        keys = np.zeros((config.chains, config.chunk, 2), dtype=np.uint32)
        padding = np.tile(np.asarray([[SKIP, 0]], dtype=np.int32), (config.chunk, 1))
        jax.block_until_ready(steps.chunk(adapt, split_chains(keys, layout), jnp.asarray(padding), aux,
                                          jnp.asarray(config.target_accept), jnp.asarray(False), jnp.asarray(True)))

    return _PREFETCH.submit(work)


def _template_state(steps, initial_positions, config: NUTSConfig, dense_mass: bool, layout):
    """The chains' first state, built on the host: the positions, a unit metric, and zeros in
    every other field. The chain's log density and gradient are then filled in by the caller;
    the adaptation's state by the first chunk (called with ``fresh``).

    Why not a compiled ``init`` of the whole state: it was a program of its own to trace and
    compile on a first fit, on the critical path; the adaptation's part needs no density.
    """
    first = jax.tree_util.tree_map(lambda x: np.asarray(x[0]), initial_positions)
    dim = jax.flatten_util.ravel_pytree(first)[0].shape[0]
    unit = np.eye(dim) if dense_mass else np.ones(dim)
    template = jax.eval_shape(steps.reset, hmc.HMCState(first, np.zeros(()), first), unit, np.ones(()))
    chains = config.chains
    state = jax.tree_util.tree_map(lambda t: np.zeros((chains,) + t.shape, t.dtype), template)
    state = state._replace(chain=state.chain._replace(position=jax.tree_util.tree_map(np.asarray, initial_positions)),
                           inverse_mass_matrix=np.tile(unit, (chains,) + (1,) * unit.ndim), step_size=np.ones(chains))
    return on_devices(split_chains(state, layout), layout)


def _started(run: "_Run", initial_positions, aux, dense_mass: bool, gradient=None, metric_probes=None,
             warm: WarmStart | None = None, metric_fallback=None):
    """The chains' first state on the devices (while the steps compile on the other thread): the
    template, the chains' log density and gradient, and the first metric (unit, from the
    curvature with ``metric_probes``, or a warm start's, with its step size)."""
    adapt = _template_state(run.steps, initial_positions, run.config, dense_mass, run.layout)
    adapt = adapt._replace(chain=_chain_state(run, initial_positions, aux, gradient))
    if warm is not None:
        def placed(x):
            return on_devices(split_chains(np.asarray(x, dtype=float), run.layout), run.layout)

        adapt = adapt._replace(inverse_mass_matrix=placed(warm.inverse_mass_matrix), step_size=placed(warm.step_size))
    if metric_probes is not None:
        adapt = _with_curvature_metric(run, adapt, aux, metric_probes, gradient, metric_fallback)
    return adapt


def _chain_state(run: "_Run", positions, aux, gradient=None):
    """The chains' HMC state at host ``positions`` (leading chain axis), on the devices: by the
    caller's ``gradient``, or by the compiled ``start``."""
    def placed(tree):
        return on_devices(split_chains(tree, run.layout), run.layout)

    if gradient is None:
        return run.steps.start(placed(positions), aux)
    values, gradients = gradient(positions, aux)
    return placed(hmc.HMCState(positions, np.asarray(values, dtype=float), gradients))


def _with_curvature_metric(run: "_Run", adapt, aux, probes, gradient=None, fallback=None):
    """The first metric from the curvature at the chains' starts (:func:`curvature_metric`), while
    the chunk compiles on the other thread."""
    positions = jax.tree_util.tree_map(merge, jax.device_get(adapt.chain.position))
    unravel = Unravel.of(jax.tree_util.tree_map(lambda x: x[0], positions)).unravel

    def rows(x):
        state = _chain_state(run, unravel(x), aux, gradient)
        return Unravel.ravel_rows(jax.tree_util.tree_map(merge, jax.device_get(state.logdensity_grad)))

    imm = curvature_metric(rows, Unravel.ravel_rows(positions), probes, 1.0 if fallback is None else fallback)
    return adapt._replace(inverse_mass_matrix=on_devices(split_chains(imm, run.layout), run.layout))


class _Run(NamedTuple):
    steps: object
    config: NUTSConfig
    layout: tuple
    progress: Callable | None


def _apply_retune(run: _Run, retune, adapt, aux, gradient=None):
    """Hand the chains to ``retune`` on the host and restart them in its coordinates."""
    positions = jax.tree_util.tree_map(merge, jax.device_get(adapt.chain.position))
    imm = merge(jax.device_get(adapt.inverse_mass_matrix))
    positions, imm, aux = retune(positions, imm, aux)
    # the chain state is recomputed in the new coordinates (its outputs are laid out over the
    # devices as the chunks expect); the step size's adaptation is kept, and the mass matrix is
    # the one retune mapped
    chain = _chain_state(run, positions, aux, gradient)
    return adapt._replace(chain=chain, inverse_mass_matrix=on_devices(split_chains(imm, run.layout), run.layout)), aux


def _pooled(run: _Run, adapt, what: str):
    """Every chain given the chains' common metric (``what="metric"``: the mean of their inverse
    mass matrices, at the end of each slow window) or step size (``"step size"``: the geometric
    mean of their averaged step sizes, taken when warmup ends).

    Why: each chain's estimate is noisy, and the sampling cost of a chain jumps by a factor of two
    when its step size falls below a threshold (the trees double): on grouseticks one chain in four
    often drew at 127 steps where the others took 63. The pooled metric is estimated from all the
    chains' draws, and the step size adapted to it in the final fast window is pooled in turn.
    Early windows too: the first slow windows give a chain 25 and 50 draws, and on the 5
    hyperparameters of ``benchmarks/nuts_scale.py``'s model one chain's estimate had eigenvalues
    from 0.15 to 1.96 where the pooled one's were 0.56 to 1.10; the next window's step size,
    tuned to the poor metric, diverged three times late in the last slow window and raised the
    target to 0.95 (twice the run's time); pooled, none did.
    Sampling is unchanged: every chain still runs one fixed kernel, now the same one, so R-hat
    compares chains as it should. With one chain, nothing changes.
    """
    if what == "metric":
        imm = merge(jax.device_get(adapt.inverse_mass_matrix))
        pooled = np.broadcast_to(imm.mean(axis=0), imm.shape)
        with interrupts_deferred():                            # placing on devices compares shardings
            return adapt._replace(inverse_mass_matrix=on_devices(split_chains(pooled, run.layout), run.layout))
    state = jax.device_get(adapt.step_size_state)          # only what is pooled comes to the host
    average = np.asarray(state.log_step_size_avg)
    pooled = np.full_like(average, average.mean())
    with interrupts_deferred():
        return adapt._replace(step_size_state=on_devices(state._replace(log_step_size_avg=pooled), run.layout))


def _run_phase(run: _Run, adapt, rng_key, schedule, aux, target, phase, freeze=False, fresh=False):
    """Run ``schedule`` in chunks of ``config.chunk`` steps (the last padded with SKIP steps),
    yielding the state and the chunk's output (draws and statistics, on the devices) after each.

    Why a generator: the caller holds each chunk's draws before the next chunk starts, so that a
    sampling run stopped by Ctrl-C keeps the chunks it completed (:meth:`_Driver._draw`).
    ``run.progress`` is told of a chunk once the caller has taken it.
    """
    config = run.config
    total = schedule.shape[0]
    if total == 0:
        return
    padded = -(-total // config.chunk) * config.chunk
    schedule = np.concatenate([schedule, np.tile([[SKIP, 0]], (padded - total, 1)).astype(np.int32)])
    chain_keys = split_keys(rng_key, config.chains)
    for start in range(0, padded, config.chunk):
        stop = start + config.chunk
        keys = np.stack([split_keys(k, config.chunk, start) for k in chain_keys])
        with interrupts_deferred():         # a Ctrl-C in JAX's dispatch would come out as a ValueError
            adapt, out = run.steps.chunk(adapt, split_chains(keys, run.layout), jnp.asarray(schedule[start:stop]),
                                         aux, jnp.asarray(target), jnp.asarray(freeze and start == 0),
                                         jnp.asarray(fresh))
        fresh = False
        yield adapt, out
        if run.progress:
            run.progress(phase, min(stop, total) - start)


def _count_divergent(chunks, adapt, chunk: int, count_from: int):
    """The final state of a warm-up phase's ``chunks`` (:func:`_run_phase`; ``adapt`` if none)
    and the divergent transitions met from step ``count_from`` on (SKIP steps report none)."""
    divergent = 0
    for start, (adapt, out) in zip(itertools.count(0, chunk), chunks):
        diverging = np.asarray(jax.device_get(out[1][0]))          # (devices, chains, steps)
        divergent += int(diverging[..., max(count_from - start, 0):].sum())
    return adapt, divergent


def _collect(chunks, draws, step_size, imm, aux) -> NUTSOutput:
    """Join chunks along the draw axis, drop padding, flatten (device, chain) into one chain axis."""
    positions = jax.tree_util.tree_map(lambda *xs: np.concatenate([merge(x) for x in xs], axis=1)[:, :draws],
                                       *[c[0] for c in chunks])
    stats = [np.concatenate([merge(c[1][i]) for c in chunks], axis=1)[:, :draws] for i in range(6)]
    diverging, expansions, steps, energy, accept, logdensity = stats
    return NUTSOutput(positions, diverging.astype(bool), expansions.astype(int), steps.astype(int), energy,
                      accept, logdensity, merge(step_size), merge(imm), aux)
