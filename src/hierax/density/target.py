"""What a sampler samples: the model side of a NUTS fit, apart from the engine that runs it.

A :class:`Target` is one model's posterior as an engine needs it: the log density of an
unconstrained position, the runtime data it takes, the chains' starting positions, and the way
back from positions to the constrained parameters a user reads (group effects included). An
engine (``hierax.sampler`` runs BlackJAX's NUTS on it) sees no model beyond this; a new engine
is one file that takes a Target.

Two densities, chosen by :func:`choose_target`:

* **Collapsed** (gaussian response, identity link, ``sigma`` without a formula): the group
  effects are integrated out (``hierax.density.collapsed``; several grouping factors through the
  REML engine's blocked factor, ``hierax.density.collapsed_blocked``). The runtime data are the
  data's statistics and the priors, and the density is shared by every model of the same
  structure, so a refit to new data compiles nothing (with several factors, a new pattern of
  left-out rows changes the statistics' sparsity, and compiles). The effects are drawn
  afterwards from their exact conditional, one key per draw.
* **Full**: every effect is a coordinate, centred or not per level (``hierax.density.centering``,
  whose retune moves levels between the two during warm-up).

Both take the response and the row weights as runtime data (``runtime({"y": ..., "weight":
...})``), so one Target serves many data sets of one model (SBC, leave-one-group-out).
"""

from __future__ import annotations

import os
import threading

import jax
import jax.numpy as jnp
import numpy as np

from hierax._programs import program_cache
from hierax.density.centering import describe_centering, make_retune
from hierax.density.collapsed import (
    collapsed_statistics, collapsed_structure, draw_all_effects, make_collapsed_logdensity, runtime_data,
    why_not_collapsible,
)
from hierax.density import embedded
from hierax.density.effect_chunks import (
    chunk_statistics, chunk_width, draw_all, effect_chunks, effect_sampler, hyperparameters,
)
from hierax.density.embedded import why_not_embeddable
from hierax.density.embedded_correction import (
    CHECK_NODES, check_log_ratio, correction_nodes, fitted_correction, warm_correction,
)
from hierax.density.init import conditional_coordinates, coordinate_groups, curvature_fallback, initial_positions
from hierax.density.logdensity import (
    constrain_hyper, constrain_params, default_centering, full_logdensity, hyper_priors, model_arrays, structure_of,
)
from hierax.engines.devices import device_layout, parallel
from hierax.engines.mode import Unravel
from hierax.errors import HieraxError
from hierax.model.layout import PARAMS
from hierax.model.spec import ModelSpec

COLLAPSE_CHOICES = (None, True, False, "laplace")
_BATCH = 500                       # draws per call when constraining or drawing effects
_EFFECTS_PER_CALL = 2_000_000      # draws x levels x q per call of the effect sampler
# A parameter whose draws hold more values than this (100,000 groups x 2 effects x 4,000 draws:
# 800 million) is kept in float32: half the memory (3.2 GB there, not 6.4), and its rounding,
# 6e-8 relative, is far below its Monte Carlo error (about 1/sqrt(ESS), 1e-2 relative).
KEPT_IN_FLOAT64_UP_TO = 100_000_000
_CHEAP_GRADIENT = 1000
_ROWS_PER_CALL = 2_000_000         # draws x rows per call of the embedded Laplace's effect draws
_CHECK_DRAWS = 400                 # draws at which the embedded Laplace's quadrature check runs


def choose_target(spec: ModelSpec, collapse: bool | None = None, jit=jax.jit, many_levels: int | None = None) -> Target:
    """The model's Target: collapsed wherever it applies unless ``collapse`` is False.

    ``collapse``: None (collapse where it applies), True (collapse, or fail saying why it
    cannot), False (never: sample every group effect) or "laplace" (integrate the effects out by
    the Laplace approximation: :class:`LaplaceTarget`). ``jit`` compiles the functions that
    turn draws into parameters (the engine's choice: ``hierax.engines.quick.quick_jit`` for a
    short compile). ``many_levels``: with ``collapse=None``, the levels from which a model
    :func:`wants_embedded` is integrated by the corrected Laplace approximation (None: never;
    the sampler's policy, ``hierax.config.MANY_LEVELS``).
    """
    if not any(collapse is choice or (isinstance(choice, str) and collapse == choice) for choice in COLLAPSE_CHOICES):
        raise HieraxError(f"collapse must be None (automatic), True, False or 'laplace', got {collapse!r}")
    if collapse == "laplace":
        reason = why_not_embeddable(spec)
        if reason:
            raise HieraxError(f"collapse='laplace' is not possible for this model: {reason}; use collapse=None")
        return LaplaceTarget(spec, jit)
    reason = why_not_collapsible(spec)
    if collapse and reason:
        raise HieraxError(f"collapse=True is not possible for this model: {reason}; use collapse=None")
    if collapse is not False and reason is None:
        return CollapsedTarget(spec, jit)
    if collapse is None and many_levels is not None and wants_embedded(spec, many_levels):
        return LaplaceTarget(spec, jit, automatic=True)
    return FullTarget(spec, jit)


# the most effects a level for which collapse=None chooses the corrected embedded Laplace
# (the correction's quadrature has 3 ** 3 = 27 points a level there, its check 64)
EMBEDDED_MAX_TERMS = 3


def wants_embedded(spec: ModelSpec, many_levels: int) -> bool:
    """Whether ``collapse=None`` integrates the effects out by the embedded Laplace approximation
    with adaptive quadrature's correction (``hierax.density.embedded_correction``), rather than
    sampling every effect.

    Where: one grouping factor, of at least ``many_levels`` levels, with at most
    ``EMBEDDED_MAX_TERMS`` effects a level and the parameterisation left to hierax ("auto"), in a
    model the Laplace engine takes. Why there: full NUTS then samples thousands of effects in a
    funnel, with 30 or more gradients a draw, while the corrected density has a handful of
    coordinates and needs about 5; and with one factor the correction and its check (a finer
    quadrature) apply. The sampler falls back to every effect where the check fails
    (``hierax.api``)."""
    if why_not_embeddable(spec) is not None or len(spec.blocks) != 1:
        return False
    block = spec.blocks[0]
    return block.num_terms <= EMBEDDED_MAX_TERMS and block.num_levels >= many_levels \
        and block.parameterisation == "auto"


class Target:
    """One model's posterior for an engine (see the module docstring).

    Attributes
    ----------
    spec : the model.
    collapsed : whether the group effects are integrated out of ``logdensity``.
    logdensity : ``(position, aux) -> log density`` (a pytree position; ``aux`` from :meth:`runtime`).
    retune : None, or the full density's warm-up retune ``(positions, inverse_mass_matrix, aux)
        -> (positions, inverse_mass_matrix, aux)`` (per-level centring).
    quick_compile : whether the collapsed sampler's steps are compiled for a short compile
        (``hierax.engines.quick``): true where a step is cheap and a first fit mostly compiles.
    """

    collapsed: bool
    retune = None
    quick_compile = True

    def __init__(self, spec: ModelSpec, jit=jax.jit):
        self.spec, self._jit = spec, jit

    @property
    def parameterisation(self) -> dict:
        """The parameterisation asked for, by block (what a warm start must match)."""
        return {block.name: block.parameterisation for block in self.spec.blocks}

    @property
    def cheap_gradient(self) -> bool:
        """Whether the gradient is cheap enough that compiling, not sampling, is most of a fit's
        time: rows x (fixed + group coefficients) + group effects at most 1,000 (cbpp's 56 rows
        and 15 herds: 295; grouseticks: about 3,000, where the faster-running code wins)."""
        spec = self.spec
        coefficients = spec.X.shape[1] + sum(block.num_terms for block in spec.blocks)
        effects = sum(block.num_levels * block.num_terms for block in spec.blocks)
        return spec.num_obs * coefficients + effects <= _CHEAP_GRADIENT

    def initial(self, rng_key, chains: int) -> dict:
        """Dispersed starting positions, a leading chain axis on every leaf."""
        raise NotImplementedError

    def runtime(self, data: dict | None = None) -> dict:
        """The density's runtime argument for ``data`` (``y`` and/or ``weight``; None: the spec's)."""
        raise NotImplementedError

    def settle(self, aux, position, scale=None) -> dict:
        """``aux`` made ready for chains near ``position`` (one draw, a pytree, the mode where
        ``scale``, a Cholesky factor of the posterior covariance there in flat coordinates, is
        given): unchanged here; the embedded Laplace's Newton start and correction move there."""
        return aux

    def compile_settle(self, positions, aux) -> None:
        """Compile what :meth:`settle` runs, for ``positions`` (with a chain axis) and ``aux`` of
        these types; nothing here."""

    def batch_size(self, total: int) -> int:
        """Draws per call of the constraining function, at most ``total``."""
        return max(1, min(_BATCH, total))

    def constrainer(self):
        """The compiled ``(positions, keys, aux) -> params`` for a batch of draws (a leading axis
        on positions and keys; ``aux`` as :meth:`runtime` gave it)."""
        raise NotImplementedError

    def compile_constrainer(self, positions, aux, batch: int):
        """:meth:`constrainer` compiled for ``batch`` draws from the shapes of ``positions``
        (one draw per chain) and ``aux``: for compiling it while something else runs."""
        def shaped(x):
            return jax.ShapeDtypeStruct((batch,) + x.shape[1:], x.dtype)

        part = jax.tree_util.tree_map(shaped, positions)
        keys = jax.ShapeDtypeStruct((batch, 2), np.uint32)
        return self.constrainer().lower(part, keys, aux).compile()

    def params(self, positions, aux, keys, constrain=None, batch: int | None = None) -> dict:
        """Constrained parameters of every draw (NumPy, leading chain and draw axes), the group
        effects included (a collapsed model's drawn with ``keys``, one (2,) uint32 key per draw in
        chain-major order). ``constrain``: a compiled :meth:`constrainer`, if the caller has one,
        for ``batch`` draws a call (default :meth:`batch_size` of the draws given; fewer draws
        than a batch, as from an interrupted run, are padded to it)."""
        flat, chains, draws = _flatten_draws(positions)
        total = chains * draws
        batch = batch or self.batch_size(total)
        keys = np.asarray(keys)
        constrain = constrain or self.constrainer()
        out = None
        for start in range(0, total, batch):
            # the last batch is padded to full size (repeating the first draws), so one compiled
            # function serves every batch; the padding is cut off below
            rows = np.arange(start, start + batch) % total
            part = jax.tree_util.tree_map(lambda x: x[rows], flat)
            params = self._finish(jax.device_get(constrain(part, keys[rows], aux)))
            if out is None:                          # filled in place: no second copy of every draw
                out = jax.tree_util.tree_map(lambda x: np.empty((total,) + x.shape[1:], _kept(x.dtype, total, x.shape[1:])),
                                             params)
            stop = min(start + batch, total)
            jax.tree_util.tree_map(lambda o, x: o.__setitem__(slice(start, stop), x[:stop - start]), out, params)
        return jax.tree_util.tree_map(lambda x: x.reshape((chains, draws) + x.shape[1:]), out)

    def describe(self, aux) -> dict:
        """Per block, how its effects were sampled (``fit.parameterisation``)."""
        raise NotImplementedError

    def _finish(self, params: dict) -> dict:
        return params


def _kept(dtype, draws: int, shape: tuple):
    """The dtype a parameter's ``draws`` of ``shape`` are kept in (``KEPT_IN_FLOAT64_UP_TO``)."""
    if dtype == np.float64 and draws * int(np.prod(shape)) > KEPT_IN_FLOAT64_UP_TO:
        return np.float32
    return dtype


class CollapsedTarget(Target):
    """The gaussian posterior with the group effects integrated out; they are drawn afterwards."""

    collapsed = True

    def __init__(self, spec: ModelSpec, jit=jax.jit):
        super().__init__(spec, jit)
        self._structure = collapsed_structure(spec)
        self.logdensity = make_collapsed_logdensity(self._structure)
        self._own = None

    def initial(self, rng_key, chains: int) -> dict:
        crude = self._statistics()[1] if len(self.spec.blocks) == 1 else None
        return initial_positions(rng_key, self.spec, chains, effects=False, crude=crude)

    def runtime(self, data: dict | None = None) -> dict:
        data = {k: v for k, v in (data or {}).items() if v is not None}
        if not data and len(self.spec.blocks) == 1:
            return runtime_data(self.spec, stats=self._statistics()[0])
        return runtime_data(self.spec, data.get("y"), data.get("weight"))

    def _statistics(self):
        """The spec's own (GroupStats, crude fit), formed once (``collapsed.collapsed_statistics``)."""
        if self._own is None:
            self._own = collapsed_statistics(self.spec)
        return self._own

    def batch_size(self, total: int) -> int:
        """Up to 500 draws, fewer for many levels, since the vectorised effect draws hold a few
        dozen intermediate arrays of draws x levels x q (1 GB at 500 draws of 10,000 levels);
        with one grouping factor, the levels of a chunk (``hierax.density.effect_chunks``)."""
        blocks = self.spec.blocks
        if len(blocks) == 1:
            effects = chunk_width(blocks[0].num_levels) * blocks[0].num_terms
        else:
            effects = sum(b.num_levels * b.num_terms for b in blocks)
        return max(1, min(_BATCH, _EFFECTS_PER_CALL // effects, total))

    def constrainer(self):
        """Several grouping factors: ``(positions, keys, aux) -> params``, effects drawn jointly;
        one: ``(positions, keys, stats) -> b`` of a chunk of levels (:meth:`params`)."""
        if len(self.spec.blocks) == 1:
            return effect_sampler(self._structure, self._jit)
        return _effect_sampler(self._structure, self._jit)

    def compile_constrainer(self, positions, aux, batch: int):
        """With one grouping factor, compiled for a chunk's statistics (its third argument)."""
        if len(self.spec.blocks) > 1:
            return super().compile_constrainer(positions, aux, batch)
        width = chunk_width(self.spec.blocks[0].num_levels)
        stats = chunk_statistics(jax.tree_util.tree_map(np.asarray, aux["stats"]), 0, 0, width)
        return super().compile_constrainer(positions, jax.tree_util.tree_map(jnp.asarray, stats), batch)

    def params(self, positions, aux, keys, constrain=None, batch: int | None = None, lazy=None) -> dict:
        """As :meth:`Target.params`; with one grouping factor the effects are drawn chunk by chunk
        of levels (``hierax.density.effect_chunks``), and ``lazy``, if given, makes them instead:
        ``lazy(chunks, chains, draws)`` of their :class:`EffectChunks` returns what the posterior
        holds (a Dask array of the chunks, for out-of-core data)."""
        if len(self.spec.blocks) > 1:
            if lazy is not None:
                raise HieraxError("lazy effect draws need a model with one grouping factor")
            return super().params(positions, aux, keys, constrain, batch)
        flat, chains, draws = _flatten_draws(positions)
        total = chains * draws
        block = self.spec.blocks[0]
        params = hyperparameters(self._structure, flat)
        dtype = _kept(np.dtype(np.float64), total, (block.num_levels, block.num_terms))
        chunks = effect_chunks(self._structure, flat, keys, aux["stats"], block.num_levels,
                               batch or self.batch_size(total), dtype, self._jit)
        params = jax.tree_util.tree_map(lambda x: x.reshape((chains, draws) + x.shape[1:]), params)
        if lazy is not None:
            params[PARAMS.effects] = {block.name: lazy(chunks, chains, draws)}
        else:
            b = draw_all(chunks, constrain)
            params[PARAMS.effects] = {block.name: b.reshape((chains, draws) + b.shape[1:])}
        return params

    def describe(self, aux) -> dict:
        return {b.name: {"choice": "collapsed", "mean_weight": None, "centered": 0, "noncentered": 0}
                for b in self.spec.blocks}

    def _finish(self, params: dict) -> dict:
        for block in self.spec.blocks:       # several factors: their effects come unpadded
            params[PARAMS.effects][block.name] = params[PARAMS.effects][block.name][:, :block.num_levels]
        return params


class FullTarget(Target):
    """The joint posterior of every parameter and group effect.

    Attributes beyond :class:`Target`'s: ``coordinate_labels`` (one integer per coordinate of the
    flat position: coordinates with one label belong together, as a level's effects and its
    sds, for the engine's metric probes), ``free`` (the coordinates a conditional-mode start
    may move: :func:`hierax.density.init.conditional_coordinates`) and ``metric_fallback`` (the
    first metric where the curvature at a start says nothing: :func:`hierax.density.init.curvature_fallback`).
    """

    collapsed = False

    def __init__(self, spec: ModelSpec, jit=jax.jit):
        super().__init__(spec, jit)
        self._structure = structure_of(spec)
        self.logdensity = full_logdensity(self._structure)
        retune = make_retune(spec)
        self.retune = None if retune is None else _retune_with_data(retune)
        self.coordinate_labels = coordinate_groups(spec)
        self.free = conditional_coordinates(spec)
        self.metric_fallback = curvature_fallback(spec)

    def initial(self, rng_key, chains: int) -> dict:
        return initial_positions(rng_key, self.spec, chains)

    def runtime(self, data: dict | None = None) -> dict:
        data = {k: v for k, v in (data or {}).items() if v is not None}
        return {"centring": default_centering(self.spec),
                "data": model_arrays(self.spec, data.get("y"), data.get("weight")),
                "priors": hyper_priors(self.spec)}

    def constrainer(self):
        return _constrainer(self._structure, self._jit)

    def describe(self, aux) -> dict:
        return describe_centering(self.spec, aux["centring"])


class LaplaceTarget(Target):
    """The hyperparameters' posterior with the group effects integrated out by the Laplace
    approximation (``hierax.density.embedded``); the effects are drawn afterwards from that
    approximation, and :meth:`describe` gives the Pareto k of their importance ratios."""

    collapsed = True
    # each leapfrog step is a Newton solve over the rows: the run outweighs the compile, and the
    # older code generators ran it a quarter slower (100,000 rows: 4.3 against 3.4 ms a step)
    quick_compile = False

    def __init__(self, spec: ModelSpec, jit=jax.jit, automatic: bool = False):
        super().__init__(spec, jit)
        self.automatic = automatic     # chosen by collapse=None (:func:`wants_embedded`), not asked for
        self._structure = embedded.embedded_structure(spec)
        self.logdensity = embedded.embedded_logdensity(self._structure)
        self.check_inputs = None       # what the check reads, of the last draws made parameters (params)
        self.correction_error = None   # the quadratic correction's error at its validation (settle), if fitted
        self.corrected = False         # whether the density sampled carries it

    def initial(self, rng_key, chains: int) -> dict:
        return initial_positions(rng_key, self.spec, chains, effects=False)

    def runtime(self, data: dict | None = None) -> dict:
        data = {k: v for k, v in (data or {}).items() if v is not None}
        return embedded.runtime_data(self.spec, data.get("y"), data.get("weight"))

    def settle(self, aux, position, scale=None) -> dict:
        """Newton starts from the conditional mode at ``position`` (the hyperparameters' mode);
        with one grouping factor and ``scale`` known, adaptive quadrature's correction is fitted
        there (``hierax.density.embedded_correction``)."""
        aux = embedded.settled(position, aux, self._structure)
        nodes = correction_nodes(self._structure)
        if nodes is None or scale is None:
            return aux
        unravel = Unravel.of(position)
        correction, self.correction_error = fitted_correction(Unravel.ravel(position), scale, aux, self._structure,
                                                              unravel, nodes)
        self.corrected = correction is not None
        return aux if correction is None else {**aux, "correction": correction}

    def compile_settle(self, positions, aux) -> None:
        """Run :meth:`settle`'s programs once, at the first chain's start, so that JAX holds them
        compiled: the settling and, with one grouping factor, the correction's quadrature. Why:
        the sampler calls this in a thread of its own while the mode is found, and the settle
        after it no longer compiles on the critical path of a first fit (4-5 s of compiling at
        100,000 rows). ``aux`` need not be settled: settling changes its values, not
        its types (``tests/density/test_embedded.py``)."""
        first = jax.tree_util.tree_map(lambda x: np.asarray(x)[0], positions)
        embedded.settled(first, aux, self._structure)
        nodes = correction_nodes(self._structure)
        if nodes is not None:
            warm_correction(Unravel.ravel(first), aux, self._structure, Unravel.of(first), nodes)

    def batch_size(self, total: int) -> int:
        """Fewer draws a call for many rows (each draw's Newton steps hold a few arrays of the
        rows), a multiple of the devices the draws are spread over (:func:`_laplace_drawer`)."""
        devices = _draw_devices()
        per_device = max(1, min(_BATCH, _ROWS_PER_CALL // max(len(self.spec.y), 1), total) // devices)
        return per_device * devices

    def constrainer(self):
        # with one grouping factor the check weighs the hyperparameters (:meth:`params`), so
        # the draws' own importance ratios are not computed
        return _laplace_drawer(self._structure, correction_nodes(self._structure, CHECK_NODES) is None)

    def compile_constrainer(self, positions, aux, batch: int):
        """The drawer compiles on its first call: it is a map over devices, not one program to lower."""
        return self.constrainer()

    def params(self, positions, aux, keys, constrain=None, batch: int | None = None) -> dict:
        """The parameters of every draw, and what the approximation's check reads
        (``check_inputs``: the sampler turns it into Pareto k and shifts,
        ``hierax.results.diagnostics.laplace_check``): with one grouping factor, the quadrature's
        log ratios at up to ``_CHECK_DRAWS`` draws spread over the run and every fixed effect and
        sd there; else the draws' own importance ratios over every effect.

        The quadrature's check runs in a thread of its own beside the effects' draws, on other
        devices where there are enough (a device runs its programs in turn): each compiles on
        one core before it runs (1.5-2 s apiece at 100,000 rows), so side by side one compiles
        while the other runs. Where the draws fail (or are interrupted), the check cannot be
        stopped: it finishes in its daemon thread, unread, and does not hold up the exit."""
        nodes = correction_nodes(self._structure, CHECK_NODES)
        checking = rows = None
        if nodes is not None:
            rows, checked = _checked_draws(positions)
            checking = _Background(_ratio_checker(self._structure, nodes, len(rows)), checked, aux)
        params = super().params(positions, aux, keys, constrain, batch)
        joint = params.pop(embedded.LOG_WEIGHT)
        if checking is None:
            self.check_inputs = {"checked": "joint", "log_ratios": np.asarray(joint).ravel(), "values": {}}
            return params
        ratios = checking.result()
        values = dict(zip(self.spec.fixed_names, _at_rows(params[PARAMS.fixed], rows).T))
        for block in self.spec.blocks:
            sd = _at_rows(params[PARAMS.sd][block.name], rows)
            values.update({f"sd[{block.name}][{term}]": sd[:, k] for k, term in enumerate(block.terms)})
        self.check_inputs = {"checked": "hyperparameters", "log_ratios": np.asarray(ratios), "values": values}
        return params

    def describe(self, aux) -> dict:
        """Per block, "laplace"; the sampler adds the check (``SpecSampler.describe``)."""
        return {b.name: {"choice": "laplace", "mean_weight": None, "centered": 0, "noncentered": 0,
                         "automatic": self.automatic, "corrected": self.corrected,
                         "correction_error": self.correction_error} for b in self.spec.blocks}


def _checked_draws(positions):
    """The draws the embedded Laplace's check runs at (chain-major rows: up to ``_CHECK_DRAWS``
    spread over the run, as many as the devices divide), and their positions."""
    flat, _, _ = _flatten_draws(positions)
    total = len(jax.tree_util.tree_leaves(flat)[0])
    rows = np.unique(np.linspace(0, total - 1, min(total, _CHECK_DRAWS)).astype(int))
    rows = rows[:len(rows) - len(rows) % _draw_devices()] if len(rows) >= _draw_devices() else rows
    return rows, jax.tree_util.tree_map(lambda x: x[rows], flat)


class _Background:
    """``fn(*args)`` in a daemon thread of its own: :meth:`result` waits for it and returns it or
    raises what it raised. A daemon, so that an abandoned run does not hold up the interpreter's
    exit (a pool's worker would be joined there)."""

    def __init__(self, fn, *args):
        self._outcome = {}

        def run():
            try:
                self._outcome["value"] = fn(*args)
            except BaseException as error:  # noqa: BLE001 - handed to the caller by result()
                self._outcome["error"] = error

        self._thread = threading.Thread(target=run, name="hierax-check", daemon=True)
        self._thread.start()

    def result(self):
        self._thread.join()
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome["value"]


def _at_rows(x, rows):
    """Draws (chains, draws, ...) flattened chain-major, at ``rows``."""
    x = np.asarray(x)
    return x.reshape((-1,) + x.shape[2:])[rows]


def _draw_devices() -> int:
    """The CPU devices the embedded Laplace's draws are spread over: one per core (each draw is a
    Newton solve over the rows, so the cores, not the memory, bound them)."""
    return max(1, min(jax.local_device_count(), os.cpu_count() or 1))


def _spread(fn, count: int, broadcast: tuple, last: bool = False):
    """``fn`` (a batch with a leading axis -> outputs with it) run on ``count`` draws split over
    :func:`_draw_devices` devices (as the chains are: ``hierax.engines.devices.parallel``), fewer
    devices where they do not divide ``count``; the last devices if ``last`` (and there are
    enough), so that it runs beside work on the first ones."""
    devices = device_layout(count)[0] if count < _draw_devices() else _draw_devices()
    while count % devices:
        devices -= 1
    spare = jax.local_device_count() - devices
    mapped = parallel(fn, broadcast, devices, first=spare if last and spare >= devices else 0)

    def run(*args):
        split = [a if b else jax.tree_util.tree_map(lambda x: np.reshape(x, (devices, 1, -1) + x.shape[1:]), a)
                 for a, b in zip(args, broadcast)]
        return jax.tree_util.tree_map(lambda x: np.asarray(x).reshape((count,) + x.shape[3:]), mapped(*split))

    return run


@program_cache(maxsize=16)
def _ratio_checker(structure, nodes: int, count: int):
    """(positions, aux) -> the quadrature's log ratio at each of ``count`` positions, one position
    at a time on each device (each holds nodes ** q arrays of the rows)."""
    def ratios(positions, aux):
        return jax.lax.map(lambda position: check_log_ratio(position, aux, structure, nodes), positions)

    return _spread(ratios, count, (False, True), last=True)


@program_cache(maxsize=16)
def _laplace_drawer(structure, weigh: bool = True):
    """(positions, keys, aux) -> params with ``b`` drawn from the Laplace approximation, one key a
    draw, one draw at a time on each device, with their log importance ratios if ``weigh``;
    compiled per batch size on first use."""
    def draws(positions, keys, aux):
        return jax.lax.map(lambda pair: embedded.draw_effects(pair[0], pair[1], aux, structure, weigh),
                           (positions, keys))

    sized = {}

    def run(positions, keys, aux):
        count = len(np.asarray(keys))
        if count not in sized:
            sized[count] = _spread(draws, count, (False, False, True))
        return sized[count](positions, keys, aux)

    return run


@program_cache(maxsize=16)
def _effect_sampler(structure, jit):
    """(positions, keys, aux) -> params with ``b`` drawn from its exact conditional, one key a
    draw (several grouping factors: their effects are drawn jointly, not by chunks)."""
    def one(position, key, stats):
        params, _ = constrain_hyper(position, structure.scalars, structure.layout)
        params[PARAMS.effects] = draw_all_effects(key, params, stats, structure)
        return params

    batched = jax.vmap(one, in_axes=(0, 0, None))
    return jit(lambda positions, keys, aux: batched(positions, keys, aux["stats"]))


@program_cache(maxsize=16)
def _constrainer(structure, jit):
    """(positions, keys, aux) -> params of the full density's draws (the keys are not used)."""
    batched = jax.vmap(lambda p, c, arrays: constrain_params(structure, p, c, arrays)[0], in_axes=(0, None, None))
    return jit(lambda positions, keys, aux: batched(positions, aux["centring"], aux["data"]))


def _retune_with_data(retune):
    """The centring retune on the runtime dict: it moves ``aux["centring"]``."""
    def wrapped(positions, inverse_mass_matrix, aux):
        positions, inverse_mass_matrix, centring = retune(positions, inverse_mass_matrix, aux["centring"])
        return positions, inverse_mass_matrix, {**aux, "centring": centring}

    return wrapped


def _flatten_draws(positions):
    leaves = jax.tree_util.tree_leaves(positions)
    chains, draws = leaves[0].shape[:2]
    return jax.tree_util.tree_map(lambda x: np.asarray(x).reshape((chains * draws,) + x.shape[2:]), positions), \
        chains, draws
