"""Starting points for samplers, near the data rather than at arbitrary values.

Stan starts every parameter uniformly on (-2, 2) in unconstrained space. With a response in the
hundreds (sleepstudy) the intercept must then travel far during the first warmup window, with
long trajectories at a small step size. We start instead from a crude fit: least squares for the
gaussian family, the link of the mean response otherwise; sds at half the data's spread; and
disperse chains around that point so that R-hat can still detect chains that disagree.
"""

from __future__ import annotations

import jax
import jax.flatten_util
import numpy as np

from hierax.density.logdensity import position_shapes
from hierax.density.transforms import ordered_inverse
from hierax.model.families.ordinal import threshold_start
from hierax.model.links import LINKS
from hierax.model.spec import ModelSpec
from hierax.model.layout import PARAMS, POSITION


def crude_fit(spec: ModelSpec) -> tuple[np.ndarray, float]:
    """Fixed-effect start and a scale: least squares and the residual sd for a family whose mean
    is a location (gaussian, student; lognormal on log y), the link of the mean response otherwise."""
    spec.require_rows("a crude fit by least squares")
    X, y = spec.X, spec.y
    p = X.shape[1]
    if spec.family.location:
        target = spec.family.transform(y) - (0.0 if spec.offset is None else spec.offset)
        beta = np.linalg.lstsq(X, target, rcond=None)[0] if p else np.zeros(0)
        resid = target - X @ beta if p else target
        scale = float(np.std(resid)) if len(y) > 1 else 1.0
        return beta, scale if scale > 0 else 1.0
    beta = np.zeros(p)
    if p and np.allclose(X[:, 0], 1.0):
        beta[0] = _link_of_mean(spec)
    return beta, 1.0


def _link_of_mean(spec: ModelSpec) -> float:
    """The link of the mean response (of the success rate, for trials), kept off the link's edges."""
    total = np.sum(spec.trials) if spec.trials is not None else len(spec.y)
    mean = float(np.sum(spec.y) / total) if total else 0.5
    if spec.link.name in ("logit", "probit", "cloglog"):
        rate = float(np.clip(mean, 0.02, 0.98))
        return float(np.log(rate / (1 - rate))) if spec.link.name == "logit" else 0.0
    if spec.link.name == "log":
        return float(np.log(max(mean, 0.1)))
    return mean


def initial_position(rng_key, spec: ModelSpec):
    """One dispersed starting position (a dict pytree matching ``position_shapes``), from a JAX
    key (traceable: it may be vmapped over keys)."""
    keys = iter(jax.random.split(rng_key, 8))
    return _dispersed(spec, lambda shape, width: jax.random.uniform(next(keys), shape, minval=-width, maxval=width))


def initial_positions(rng_key, spec: ModelSpec, chains: int, effects: bool = True, crude=None) -> dict:
    """Dispersed starts for ``chains`` chains (leading axis), as :func:`initial_position` makes
    them, in NumPy from a raw uint32 key: nothing to compile and nothing of the data in a compiled
    program. ``effects=False`` leaves out the group effects (a collapsed model has none).
    ``crude``: (beta, residual sd, each column's sd) in place of :func:`crude_fit`'s (the
    collapsed sampler's, from its exact sums: ``hierax.density.collapsed_sums.Crude``)."""
    rng = np.random.default_rng(np.asarray(rng_key, dtype=np.uint32).ravel().tolist())
    return _dispersed(spec, lambda shape, width: rng.uniform(-width, width, (chains,) + tuple(shape)), effects, crude)


def _dispersed(spec: ModelSpec, jitter, effects: bool = True, crude=None) -> dict:
    """The crude fit's point, each coordinate moved by ``jitter(shape, half_width)`` (uniform)."""
    if crude is None:
        beta, scale = crude_fit(spec)
        x_sd = np.std(spec.X, axis=0) if spec.X.shape[1] else np.zeros(0)
    else:
        beta, scale, x_sd = crude.beta, (crude.scale if crude.scale > 0 else 1.0), crude.x_sd
    shapes = position_shapes(spec)
    position = {PARAMS.fixed: beta + jitter(beta.shape, 1.0) * (0.1 * scale / np.where(x_sd > 0, x_sd, 1.0))}
    if spec.scalar_dpars:
        position[POSITION.scalars] = {d.name: LINKS[d.link].forward(d.start(spec.y, scale)) + jitter((), 0.5)
                               for d in spec.scalar_dpars}
    if spec.all_blocks:
        mean_sd = 0.5 * (scale if spec.family.location else 1.0)
        sd_start = {b.name: mean_sd for b in spec.blocks} | {b.name: 0.5 for p in spec.dpar_predictors for b in p.blocks}
        position[POSITION.log_sd] = {n: np.log(sd_start[n]) + jitter(s, 0.5) for n, s in shapes[POSITION.log_sd].items()}
        if POSITION.cor_raw in shapes:
            position[POSITION.cor_raw] = {n: jitter(s, 0.2) for n, s in shapes[POSITION.cor_raw].items()}
        if effects:
            position[POSITION.effects] = {b.name: jitter(shapes[POSITION.effects][b.name], 0.2) + _centred_start(b, beta) for b in spec.all_blocks}
    if spec.dpar_predictors:
        position[PARAMS.formula_fixed] = {p.dpar: _dpar_start(spec, p, scale) + jitter((p.num_fixed,), 0.1)
                                  for p in spec.dpar_predictors}
    if spec.thresholds:         # at the cumulative proportions' link, without predictors
        position[PARAMS.thresholds] = ordered_inverse(threshold_start(spec.y, spec.link.name)) + jitter((spec.thresholds,), 0.1)
    return position


def _dpar_start(spec: ModelSpec, predictor, scale: float) -> np.ndarray:
    """A formula's coefficients at the parameter's crude start: its intercept at the start's link
    value (log sd(y) for sigma), the others at 0."""
    beta = np.zeros(predictor.num_fixed)
    dpar = spec.family.dpar(predictor.dpar)
    if predictor.num_fixed and np.allclose(predictor.X[:, 0], 1.0):
        beta[0] = float(np.asarray(predictor.link.forward(dpar.start(spec.y, scale))))
    return beta


def _centred_start(block, beta: np.ndarray) -> np.ndarray:
    """Coordinates of b = 0 for levels centred by the user's choice: the level's mean (its fixed
    part; nested parents' effects start near 0). Non-centred coordinates start at 0."""
    if block.parameterisation != "centered":
        return np.zeros((block.num_levels, block.num_terms))
    return block.mean_design @ beta


def coordinate_groups(spec: ModelSpec) -> np.ndarray:
    """One integer label per coordinate of the full position (in ``ravel_pytree`` order): the
    coordinates that never interact share a label, every other coordinate has its own.

    Which never interact: the effects of one term of one grouping factor at different levels.
    Each observation belongs to one level of each factor, so two such effects never meet in one
    row's likelihood, and their priors (centred or not) couple each only to its own level's sd,
    correlations and parents. The NUTS engine probes each label's coordinates together to
    measure the curvature that sets warmup's first metric (``hierax.engines.metric``).
    """
    shapes = position_shapes(spec)
    counter = iter(range(10**9))

    def own(shape):
        return np.array([next(counter) for _ in range(int(np.prod(shape)))], dtype=int).reshape(shape)

    labels = {key: own(shape) for key, shape in shapes.items() if key == POSITION.fixed}
    if POSITION.thresholds in shapes:
        labels[POSITION.thresholds] = own(shapes[POSITION.thresholds])
    for key in (POSITION.formula_fixed, POSITION.scalars, POSITION.log_sd, POSITION.cor_raw):
        if key in shapes:
            labels[key] = {name: own(shape) for name, shape in shapes[key].items()}
    if POSITION.effects in shapes:
        labels[POSITION.effects] = {name: np.broadcast_to(own((shape[1],)), shape).copy() for name, shape in shapes[POSITION.effects].items()}
    return np.asarray(jax.flatten_util.ravel_pytree(labels)[0]).astype(int)


def curvature_fallback(spec: ModelSpec) -> np.ndarray:
    """(dim,) in ``ravel_pytree`` order: warmup's first metric where the curvature at a start says
    nothing (``fallback`` of :func:`hierax.engines.metric.curvature_metric`): 1, Stan's unit
    metric, except for the log sds, 1 / (2 J) for a block of J levels.

    Why: at a start the effects sit at their conditional mode given sds far from the posterior's,
    where the density need not be concave in a log sd (model (a) of ``benchmarks/nuts_scale.py``:
    one chain in two). The unit metric there lets the log sd, whose posterior sd is about
    0.03 with 1,000 levels, move 30 times too far per step; the step size shrinks for it and the
    first window's trees took 5 to 15 times the leapfrog steps of the later ones. 1 / (2 J) is
    the variance of a log sd whose J effects were observed exactly: the narrowest its posterior
    can be, so the metric errs on the side of small steps in that coordinate alone."""
    shapes = position_shapes(spec)
    entries = {key: jax.tree_util.tree_map(lambda shape: np.ones(shape), value, is_leaf=lambda x: isinstance(x, tuple))
               for key, value in shapes.items()}
    levels = {b.name: b.num_levels for b in spec.all_blocks}
    for name, shape in shapes.get(POSITION.log_sd, {}).items():
        entries[POSITION.log_sd][name] = np.full(shape, 1.0 / (2.0 * levels[name]))
    return np.asarray(jax.flatten_util.ravel_pytree(entries)[0], dtype=float)


def conditional_coordinates(spec: ModelSpec) -> np.ndarray:
    """(dim,) bool in ``ravel_pytree`` order: the fixed and group effects, the coordinates in
    which the full density is log-concave given the variance parameters (for canonical links),
    and which a start moves to their conditional mode (``hierax.engines.mode.conditional_modes``)."""
    shapes = position_shapes(spec)
    flags = {key: jax.tree_util.tree_map(lambda shape, key=key: np.full(shape, key in (POSITION.fixed, POSITION.effects)), value,
                                         is_leaf=lambda x: isinstance(x, tuple))
             for key, value in shapes.items()}
    for p in spec.dpar_predictors:          # a parameter's formula is not log-concave in general: left alone
        for block in p.blocks:
            flags[POSITION.effects][block.name] = np.zeros_like(flags[POSITION.effects][block.name])
    return np.asarray(jax.flatten_util.ravel_pytree(flags)[0]).astype(bool)
