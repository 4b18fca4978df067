"""NUTS on a model: BlackJAX's sampler run on a :class:`hierax.density.target.Target`.

The Target (``hierax.density.target``) is the model side: which density (collapsed where it
applies), its runtime data, the chains' starts and the way from draws to parameters. This module
is the engine side of a NUTS fit: how that density is handed to the engine (whitened by the
Laplace approximation for a collapsed density, one flat vector with a conditional-mode start for
the full one), what compiles while what runs, and warm starts. :class:`SpecSampler` serves
``hierax.fit`` and the refitting workflows (SBC, leave-one-group-out) alike: the response and the
row weights are runtime data, so one instance samples many data sets of one model with one
compilation.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import NamedTuple

import jax
import numpy as np

from hierax._programs import program_cache
from hierax.config import MANY_LEVELS, automatic_for_collapsed, relaxed_target
from hierax.density.estimate_start import at_estimates, laplace_estimates
from hierax.density.target import Target, choose_target
from hierax.engines import sample_nuts
from hierax.engines.nuts import WarmStart, prefetch
from hierax.engines.keys import split_keys
from hierax.engines.metric import probes_from_labels
from hierax.engines.mode import Unravel, conditional_modes, flat_value_and_grad, laplace_start
from hierax.engines.quick import quick_jit
from hierax.errors import HieraxError
from hierax.model.spec import ModelSpec
from hierax.results.diagnostics import laplace_check
from hierax.results.idata import pointwise_loglik_draws

_BACKGROUND = ThreadPoolExecutor(1, thread_name_prefix="hierax-compile")
_SETTLING = ThreadPoolExecutor(1, thread_name_prefix="hierax-settle")     # Target.compile_settle


class SamplerState(NamedTuple):
    """What a warm start (``hierax.fit(..., warm_start=fit)``) takes from a fit.

    Whether it sampled the collapsed density; the inverse mass matrix and step size it sampled
    with, in the sampler's coordinates (for a collapsed model, those whitened by the data's
    Laplace approximation, where every data set's posterior is near N(0, I)); for the full
    density, the chains' last draws (flat, ``ravel_pytree`` order) and the centring weights
    they are drawn under; and the parameterisation asked for, by group.
    """

    collapsed: bool
    inverse_mass_matrix: np.ndarray
    step_size: float
    parameterisation: dict
    positions: np.ndarray | None = None
    centring: dict | None = None


class SpecSampler:
    """NUTS for one :class:`~hierax.model.spec.ModelSpec` and one configuration.

    Parameters
    ----------
    spec : the model.
    config : :class:`~hierax.engines.nuts.NUTSConfig`.
    collapse : None (default: collapse wherever it applies), True (collapse, or fail saying
        why it cannot) or False (never: sample every group effect).
    """

    def __init__(self, spec: ModelSpec, config, collapse: bool | None = None):
        self.target: Target = choose_target(spec, collapse, jit=quick_jit, many_levels=MANY_LEVELS)
        self.collapsed = self.target.collapsed
        relaxed = relaxed_target(tuple(b.num_levels for b in spec.blocks), self.collapsed)
        self.spec, self.config = spec, automatic_for_collapsed(config) if relaxed else config
        self._compiled = None          # collapsed: the effect sampler, compiling in the background
        self._precompiled = False      # full: the programs after sampling compiled during the first
        self._probes = None if self.collapsed else probes_from_labels(self.target.coordinate_labels)

    def runtime(self, data: dict | None = None):
        """The density's runtime argument for ``data`` (``y`` and/or ``weight``; None: the spec's)."""
        return self.target.runtime(data)

    def sample(self, rng_key, data: dict | None = None, progress=None, warm: SamplerState | None = None,
               keep_interrupted: bool = False):
        """The engine's output: positions with a chain and a draw axis, and ``aux`` as sampled.

        ``warm``: start from an earlier fit's settings (:meth:`state`) with the engine's short
        warmup of the step size alone (``warm`` in :func:`hierax.engines.sample_nuts`); the full
        density also keeps that fit's centring and starts from its chains' last draws.
        ``keep_interrupted``: Ctrl-C during sampling returns the draws so far, marked
        ``interrupted`` (:func:`hierax.engines.sample_nuts`); :meth:`params` serves them as any
        other draws (a collapsed model's effects are drawn for the draws kept).
        """
        init_key, run_key = split_keys(rng_key, 2)
        positions = self.target.initial(init_key, self.config.chains)
        aux = self.runtime(data)
        unravel = Unravel.of(jax.tree_util.tree_map(lambda x: np.asarray(x[0]), positions))
        engine_warm = self._engine_warm(warm, sum(int(np.prod(s)) for s in unravel.shapes))
        if not self.collapsed:
            return self._sample_full(run_key, init_key, positions, aux, unravel, progress, warm, engine_warm,
                                     keep_interrupted)
        logdensity = self.target.logdensity
        density = _whitened(logdensity, unravel)
        steps = settling = None
        if self._compiled is None:
            # the first sample: compile the NUTS steps on the other core while the start is found,
            # then the effect sampler (needed only after sampling, so it waits: two cores, and the
            # steps are the critical path)
            dim = sum(int(np.prod(s)) for s in unravel.shapes)
            steps = prefetch(density, np.zeros((self.config.chains, dim)), self.config,
                             {"shift": np.zeros(dim), "scale": np.eye(dim), "inner": aux}, dense_mass=True,
                             quick_compile=self.target.quick_compile)
            self._compiled = _BACKGROUND.submit(self._compile_effects, positions, aux, steps)
            # and what settling runs, beside both: the start is found meanwhile, and settling
            # comes before the steps are needed (model (a) of benchmarks/nuts_scale.py: 4-5 s)
            settling = _SETTLING.submit(self.target.compile_settle, positions, aux)
        whitened_aux, z, at_mode = _whitened_start(logdensity, aux, positions, unravel, init_key)
        if settling is not None:
            settling.result()
        aux = self.target.settle(aux, unravel.unravel(whitened_aux["shift"]), whitened_aux["scale"] if at_mode else None)
        whitened_aux = {**whitened_aux, "inner": aux}
        if steps is not None:
            steps.result()
        output = sample_nuts(run_key, density, z, self.config, progress, aux=whitened_aux, dense_mass=True,
                             gradient=_whitened_gradient(logdensity, unravel), quick_compile=self.target.quick_compile,
                             warm=engine_warm, keep_interrupted=keep_interrupted)
        x = whitened_aux["shift"] + output.positions @ whitened_aux["scale"].T
        return output._replace(positions=unravel.unravel(x), aux=aux)

    def state(self, output) -> SamplerState:
        """The settings of ``output`` that a warm start reuses (chain 0's: warmup pools them)."""
        imm, step = np.asarray(output.inverse_mass_matrix)[0], float(np.asarray(output.step_size)[0])
        asked = self.target.parameterisation
        if self.collapsed:
            return SamplerState(True, imm, step, asked)
        last = Unravel.ravel_rows(jax.tree_util.tree_map(lambda x: np.asarray(x)[:, -1], output.positions))
        return SamplerState(False, imm, step, asked, last, output.aux["centring"])

    def _engine_warm(self, warm: SamplerState | None, dim: int) -> WarmStart | None:
        """The engine's warm start from ``warm``, checked against this model."""
        if warm is None:
            return None
        kinds = {True: "collapsed", False: "full"}
        if warm.collapsed != self.collapsed:
            raise HieraxError(f"warm_start: that fit sampled the {kinds[warm.collapsed]} density and this one samples "
                              f"the {kinds[self.collapsed]} one; give the same collapse= as that fit")
        if warm.inverse_mass_matrix.shape[0] != dim:
            raise HieraxError(f"warm_start: that fit sampled {warm.inverse_mass_matrix.shape[0]} coordinates and this "
                              f"model has {dim}; a warm start needs the same formula and the same number of levels "
                              "in every grouping factor")
        asked = self.target.parameterisation
        if warm.parameterisation != asked:
            raise HieraxError(f"warm_start: that fit's parameterisation was {warm.parameterisation}, this one asks "
                              f"for {asked}; give the same parameterisation= as that fit")
        chains = self.config.chains
        imm = np.broadcast_to(warm.inverse_mass_matrix, (chains,) + warm.inverse_mass_matrix.shape)
        return WarmStart(imm, np.full(chains, warm.step_size))

    def _sample_full(self, run_key, init_key, positions, aux, unravel: Unravel, progress, warm=None,
                     engine_warm=None, keep_interrupted=False):
        """NUTS over the full position as one flat vector (``ravel_pytree`` order).

        Why flat: BlackJAX's tree building maps every operation over the position's leaves (seven
        for grouseticks: fixed effects, three sds, three factors' effects); on one vector each is
        one operation, which made the chunk's trace, compile and steps shorter.
        """
        cheap = self.target.cheap_gradient
        compile_later = None
        if cheap and not self._precompiled:
            compile_later = functools.partial(self._precompile_full, positions, aux)
        self._precompiled = True
        flat = Unravel.ravel_rows(positions)
        density = _flat_density(self.target.logdensity, unravel)
        prefetch(density, flat, self.config, aux, quick_compile=cheap)     # compiles while the starts move
        if warm is None and wants_estimate_start(self.spec, cheap):
            flat = Unravel.ravel_rows(_at_laplace_estimates(positions, self.spec, init_key))
        value_and_grad = flat_value_and_grad(self.target.logdensity, unravel)
        retune = None if self.target.retune is None else _flat_retune(self.target.retune, unravel)
        probes = self._probes
        if warm is None:
            flat = conditional_modes(value_and_grad, flat, self.target.free, aux, probes)
        else:       # the earlier fit's last draws, in its coordinates (cycled if it had fewer chains)
            flat = warm.positions[np.arange(self.config.chains) % len(warm.positions)]
            aux, retune, probes = {**aux, "centring": warm.centring}, None, None
        output = sample_nuts(run_key, density, flat, self.config, progress, aux=aux, retune=retune,
                             gradient=functools.partial(_by_rows, value_and_grad), quick_compile=cheap,
                             while_compiling=compile_later, metric_probes=probes, warm=engine_warm,
                             metric_fallback=None if probes is None else self.target.metric_fallback,
                             keep_interrupted=keep_interrupted)
        return output._replace(positions=unravel.unravel(output.positions))

    def _precompile_full(self, positions, aux):
        """Compile, while the NUTS steps compile on the other core, what the full sampler runs
        after them: the retune's programs, the constraining of draws and the pointwise
        log-likelihood, by running each once on copies of the starting positions. Only for
        models whose gradient is cheap (:func:`_cheap_gradient`), where these runs cost
        nothing and compiling them was a third of a second of a first fit."""
        if self.target.retune is not None:
            dim = sum(int(np.prod(np.shape(x)[1:])) for x in jax.tree_util.tree_leaves(positions))
            self.target.retune(jax.tree_util.tree_map(np.array, positions), np.ones((self.config.chains, dim)), aux)
        draws = jax.tree_util.tree_map(lambda x: np.repeat(np.asarray(x)[:, None], self.config.draws, axis=1), positions)
        params = self.params(SimpleNamespace(positions=draws, aux=aux), np.zeros(2, np.uint32))
        pointwise_loglik_draws(self.spec, params)

    def _compile_effects(self, positions, aux, after=None):
        """The effect sampler compiled for one batch of draws (once the future ``after`` is done)."""
        if after is not None:
            after.result()
        return self.target.compile_constrainer(positions, aux, self._batch())

    def params(self, output, rng_key, lazy=None) -> dict:
        """Constrained parameters of every draw (NumPy, leading chain and draw axes), the group
        effects included: drawn from their conditional (with ``rng_key``) when collapsed, or
        left to ``lazy`` (``CollapsedTarget.params``: an out-of-core fit's Dask array)."""
        chains, draws = jax.tree_util.tree_leaves(output.positions)[0].shape[:2]
        keys = split_keys(rng_key, chains * draws)
        compiled = self._compiled.result() if self.collapsed and self._compiled is not None else None
        if lazy is not None:
            return self.target.params(output.positions, output.aux, keys, compiled, self._batch(), lazy=lazy)
        return self.target.params(output.positions, output.aux, keys, compiled, self._batch())

    def _batch(self) -> int:
        """Draws per call of the constraining function: one size for every call of this sampler
        (the compiled effect sampler's), whatever the number of draws kept."""
        return self.target.batch_size(self.config.chains * self.config.draws)

    def describe(self, output) -> dict:
        """Per block, how its effects were sampled (``fit.parameterisation``), with the embedded
        Laplace's check where it ran (:func:`hierax.results.diagnostics.laplace_check`)."""
        described = self.target.describe(output.aux)
        inputs = getattr(self.target, "check_inputs", None)
        if inputs is None:
            return described
        check = laplace_check(inputs)
        return {name: {**choice, **check} for name, choice in described.items()}


def wants_estimate_start(spec: ModelSpec, cheap_gradient: bool) -> bool:
    """Whether a full-density start is worth a Laplace fit: the gradient is not cheap (a fit's time
    is sampling, not compiling) and some grouping factor has at least ``MANY_LEVELS`` levels (its
    sd's posterior is narrow). Models the engine does not take (known sds by ``se()``, formulas
    for other parameters) keep the crude start."""
    return (not cheap_gradient and spec.se is None and not spec.dpar_predictors
            and any(block.num_levels >= MANY_LEVELS for block in spec.blocks))


def _at_laplace_estimates(positions, spec: ModelSpec, rng_key):
    """``positions`` with the variance parameters at the Laplace engine's estimates
    (``hierax.density.estimate_start``), or as they were where the engine fails."""
    output = laplace_estimates(spec)
    if output is None:
        return positions
    rng = np.random.default_rng(np.asarray(rng_key, dtype=np.uint32).ravel().tolist() + [11])
    return at_estimates(positions, spec, output, rng)


def _whitened_start(logdensity, aux, positions, unravel: Unravel, rng_key):
    """The affine map x = shift + scale z that makes the collapsed posterior roughly N(0, I) in z,
    the chains' starts in z, and whether shift is the mode.

    shift is the mode and scale the Cholesky factor of the Laplace covariance there
    (:func:`hierax.engines.mode.laplace_start`). Why: NUTS's warm-up regularises its mass matrix
    towards 1e-3 I, as Stan does, which assumes scales near 1; with a million rows the posterior
    sds are near 1e-3, the metric comes out several times too wide in those directions, and the
    trees grow long (26 steps a draw against 5). In z every scale is near 1. Starts are drawn
    from N(0, 4 I), the Laplace approximation with its sds doubled, so that R-hat can still see
    chains that disagree. Without a positive definite curvature the map is the identity at the
    crude starts' first chain.
    """
    first = jax.tree_util.tree_map(lambda x: np.asarray(x[0]), positions)
    start = laplace_start(logdensity, aux, first)
    chains = jax.tree_util.tree_leaves(positions)[0].shape[0]
    if start is None:
        shift = Unravel.ravel(first)
        flat = np.stack([Unravel.ravel(jax.tree_util.tree_map(lambda x: np.asarray(x[c]), positions))
                         for c in range(chains)])
        return {"shift": shift, "scale": np.eye(len(shift)), "inner": aux}, flat - shift, False
    rng = np.random.default_rng(np.asarray(rng_key, dtype=np.uint32).ravel().tolist() + [7])
    z = 2.0 * rng.standard_normal((chains, len(start.mode)))
    return {"shift": start.mode, "scale": np.linalg.cholesky(start.covariance), "inner": aux}, z, True


def _by_rows(value_and_grad, positions, aux):
    """Log densities and gradients of flat positions (chains, d), one chain at a time, by a
    compiled ``value_and_grad(x, aux)``: the NUTS engine's ``gradient``."""
    pairs = [value_and_grad(row, aux) for row in np.asarray(positions)]
    return np.asarray([float(v) for v, _ in pairs]), np.stack([np.asarray(g, dtype=float) for _, g in pairs])


def _whitened_gradient(logdensity, unravel: Unravel):
    """The engine's ``gradient`` in the whitened coordinates z of :func:`_whitened_start`, by the
    gradient program the mode search compiled (dz = scale' dx). Why: NUTS then compiles no
    start program, and its steps hold the only other copy of the gradient."""
    value_and_grad = flat_value_and_grad(logdensity, unravel)

    def gradient(z, whitened_aux):
        shift, scale = whitened_aux["shift"], whitened_aux["scale"]
        values, grads = _by_rows(value_and_grad, shift + np.asarray(z) @ scale.T, whitened_aux["inner"])
        return values, grads @ scale

    return gradient


@program_cache(maxsize=16)
def _whitened(logdensity, unravel: Unravel):
    """``logdensity`` in the coordinates z of :func:`_whitened_start` (aux: shift, scale, inner);
    the Jacobian of the map is constant, so it is left out. Jitted for the reason of
    :func:`_flat_density`."""
    to_position = unravel.unravel

    def density(z, aux):
        return logdensity(to_position(aux["shift"] + aux["scale"] @ z), aux["inner"])

    return jax.jit(density)


@program_cache(maxsize=16)
def _flat_density(logdensity, unravel: Unravel):
    """``logdensity`` of the position given as one flat vector, jitted.

    Why jitted: BlackJAX's tree building traces the density three times while the NUTS chunk is
    traced (its while loops trace their bodies twice); a jitted function is traced once and its
    program reused, which took grouseticks' chunk trace from 0.93 s to 0.54 s, on the critical
    path of a first fit. XLA inlines it, so the steps run as before.
    """
    to_position = unravel.unravel
    return jax.jit(lambda x, aux: logdensity(to_position(x), aux))


def _flat_retune(retune, unravel: Unravel):
    """``retune`` of pytree positions, on flat ones (chains, dim)."""
    def flat(positions, inverse_mass_matrix, aux):
        moved, inverse_mass_matrix, aux = retune(unravel.unravel(positions), inverse_mass_matrix, aux)
        return Unravel.ravel_rows(moved), inverse_mass_matrix, aux

    return flat
