"""The embedded Laplace approximation: NUTS over a GLMM's hyperparameters with the group effects
integrated out approximately (``hx.fit(..., collapse="laplace")``).

A non-gaussian family has no closed-form integral over the group effects, but the Laplace
engine's (``hierax.engines.laplace``) approximation to it,

    log p(y | theta, beta, phi) ~= -D(theta, beta, phi) / 2,   D = g(u^) + log|A(u^)|,

comes with an exact gradient (the implicit function theorem at the conditional mode u^), which is
all NUTS needs (Margossian et al. 2020, "Hamiltonian Monte Carlo using an adjoint-differentiated
Laplace approximation"; Stan's embedded Laplace, 2025). NUTS then moves in the few dimensions of
the fixed effects, the family's parameters, the sds and the correlations, with neither a funnel
nor thousands of coordinates, as for the exact gaussian collapse (``hierax.density.collapsed``);
each gradient costs a few Newton steps over the rows instead of one pass.

theta is lme4's relative covariance factor for a GLMM, which has no residual sd to be relative
to: T_k = diag(sd_k) L_k per block (b = T_k u, u ~ N(0, I)), its lower-triangular entries in
``theta_entries`` order. The priors and the Jacobian of the unconstrained position are the full
density's (``log_prior_hyper``, ``constrain_hyper``), so the two densities differ only in how
the effects leave the model.

It is an approximation, and the result says how good: each draw's effects are drawn from the
Laplace approximation to their conditional, u ~ N(u^, A^-1), b = T u, and weighed against the
exact joint density by the log importance ratio

    log w = log p(y, u | ...) - log p_LA(y | ...) - log N(u; u^, A^-1) = -(g(u) - g(u^) - z'z) / 2

(u = u^ + M z with M M' = A^-1, so (u - u^)' A (u - u^) = z'z). PSIS's Pareto k of these ratios
(``hierax.results.diagnostics``) says whether the approximate joint posterior can stand for the
exact one: below 0.7 the draws may be trusted (or reweighted), above it they may not, and the fit
says so and names ``collapse=False``. With one grouping factor the hyperparameters are checked
instead, and adaptive quadrature's correction to the approximation is part of the density
(``aux["correction"]``, a quadratic: ``hierax.density.embedded_correction``).

The mode is found by the Laplace engine's damped Newton steps from :func:`newton_start`: zero at
first, then the mode at the hyperparameters' posterior mode moved along its slope there
(:func:`settled`), within O(|x - x0|^2) of the mode anywhere in the posterior, so that each
gradient takes two or three steps.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from hierax._programs import program_cache
from hierax.density.likelihood import family_likelihood, row_data
from hierax.density.logdensity import (
    combined_weights, constrain_hyper, hyper_layout, hyper_priors, log_prior_hyper, scalar_links,
)
from hierax.engines import laplace_blocks as blocked
from hierax.engines import laplace_one as one
from hierax.engines.laplace import (
    conditional_mode, engine_data, evaluate, factor_at, penalised_deviance, structure_of,
)
from hierax.engines.quick import quick_jit
from hierax.linalg.pls import theta_entries
from hierax.model.layout import PARAMS, POSITION
from hierax.model.spec import ModelSpec

LOG_WEIGHT = "laplace_log_weight"       # the per-draw log importance ratio, beside the parameters


class EmbeddedStructure(NamedTuple):
    """What the embedded density's code depends on: hashable."""

    laplace: object          # the Laplace engine's structure (blocks in the user's order)
    scalars: tuple           # (name, link) of each scalar dpar: the position's and phi's order
    layout: tuple            # (name, q, has_cor) per block, coarse to fine (constrain_hyper's)
    names: tuple             # the blocks' names in the user's order (the Laplace engine's)
    formulas: tuple          # the dpars with a formula, in phi's order
    thresholds: bool         # an ordinal model's thresholds, last in phi


def why_not_embeddable(spec: ModelSpec) -> str | None:
    """None when the embedded Laplace approximation applies to ``spec``, else the reason."""
    if not spec.blocks:
        return "there are no group terms to integrate out"
    if spec.se is not None or spec.known_dpars():
        return "a known measurement sd (se()) is not part of the Laplace engine's likelihood"
    if spec.incomplete:
        return "censored or truncated rows are not part of the Laplace engine's likelihood"
    with_groups = [p.dpar for p in spec.dpar_predictors if p.blocks]
    if with_groups:
        return f"the formula for {', '.join(with_groups)} has group terms, which the Laplace engine cannot integrate out"
    with_offset = [p.dpar for p in spec.dpar_predictors if p.offset is not None]
    if with_offset:
        return f"the formula for {', '.join(with_offset)} has an offset, which the Laplace engine does not read"
    return None


# Newton stops after an exact full step below this (relative): the mode is then within about its
# square, 1e-8, which moves a gradient far less than NUTS's own integration error
NEWTON_STOP = 1e-4


def embedded_structure(spec: ModelSpec) -> EmbeddedStructure:
    blocks = list(spec.blocks)
    num_phi = len(spec.scalar_dpars) + sum(p.num_fixed for p in spec.dpar_predictors) + spec.thresholds
    laplace = structure_of(blocks, family_likelihood(spec), num_phi, 1)._replace(quadratic_stop=NEWTON_STOP)
    return EmbeddedStructure(laplace, scalar_links(spec), hyper_layout(spec), tuple(b.name for b in blocks),
                             tuple(p.dpar for p in spec.dpar_predictors), bool(spec.thresholds))


def runtime_data(spec: ModelSpec, y=None, weight=None) -> dict:
    """The density's runtime argument: the Laplace engine's data (response ``y`` and row
    ``weight`` replacing the spec's), the priors and Newton's start (:func:`newton_start`: u0,
    its slope and the point x0 it was taken at; zero until :func:`settled` moves them)."""
    y = spec.y if y is None else np.asarray(y, dtype=float)
    weights = combined_weights(spec, None if weight is None else np.asarray(weight, dtype=float))
    data = engine_data(spec.X, y, row_data(spec, weights), list(spec.blocks), spec.offset,
                       by_level=len(spec.blocks) == 1)     # the quadrature's correction and check
    width = sum(b.width for b in spec.blocks)
    num_x = len(theta_entries(list(spec.blocks))) + spec.X.shape[1] + len(spec.scalar_dpars) \
        + sum(p.num_fixed for p in spec.dpar_predictors) + spec.thresholds
    aux = {"data": data, "priors": hyper_priors(spec), "u0": jnp.zeros(width), "slope": jnp.zeros((width, num_x)),
           "x0": jnp.zeros(num_x), "correction": no_correction(num_x)}
    if len(spec.blocks) == 1:          # the one-factor kernel's rows (``hierax.engines.laplace_one``)
        aux["rows"] = one.one_factor_rows(data)
    return aux


def no_correction(size: int) -> dict:
    """A zero quadratic correction over flat positions of ``size`` (as many as x has entries:
    one per free entry of each T_k, fixed effect and family parameter)."""
    return {"at": jnp.zeros(size), "value": jnp.zeros(()), "gradient": jnp.zeros(size),
            "hessian": jnp.zeros((size, size)), "whiten": jnp.eye(size), "centre": jnp.zeros(size)}


# how far the quadratic correction holds, in posterior sds from the corrected posterior's mode:
# beyond it, the value on this sphere in the same direction (a quadratic extrapolated far out
# could outweigh the density)
TRUST_RADIUS = 6.0


def quadratic(flat, correction: dict, xp=jnp):
    """A quadratic correction to the log density at a flat position
    (``hierax.density.embedded_correction``), held within ``TRUST_RADIUS`` posterior sds of the
    corrected posterior's mode ``centre``: a point further out (in the whitened coordinates
    ``whiten @ (flat - centre)``) gets the value at the sphere's point in its direction, so the
    correction stays bounded and the density proper.

    Why about the corrected mode, not the point ``at`` where the quadratic was fitted: the
    correction moves the posterior (on ``benchmarks/nuts_scale.py``'s model by 1.7 posterior sds),
    and a sphere about ``at`` cut into the sampled posterior's tail on that side, 4.5 of its own sds
    out: a run of 1,000 draws had two draws past it, where the held value missed the quadrature by
    up to 1.2 and its check failed (Pareto k 0.70).

    ``xp``: the array module; NumPy for a correction of NumPy arrays evaluated on the host (its
    validation), with nothing to compile."""
    offset = flat - correction["centre"]
    radius = xp.sqrt(xp.sum((correction["whiten"] @ offset) ** 2))
    d = correction["centre"] + offset * xp.minimum(1.0, TRUST_RADIUS / xp.maximum(radius, TRUST_RADIUS)) \
        - correction["at"]
    return correction["value"] + xp.vdot(correction["gradient"], d) + 0.5 * d @ correction["hessian"] @ d


def _factors(params, structure: EmbeddedStructure) -> dict:
    """T_k = diag(sd_k) L_k per block: b = T_k u."""
    return {name: params[PARAMS.sd][name][:, None] * params[PARAMS.cor_chol][name] for name in structure.names}


def laplace_point(position, params, structure: EmbeddedStructure):
    """x = (theta, beta, phi), the Laplace engine's argument, from the position and its
    constrained hyperparameters."""
    T = _factors(params, structure)
    theta = jnp.stack([T[structure.names[k]][i, j] for k, i, j in structure.laplace.entries])
    phi = [jnp.reshape(position[POSITION.scalars][name], (1,)) for name, _ in structure.scalars]
    phi += [position[PARAMS.formula_fixed][dpar] for dpar in structure.formulas]
    if structure.thresholds:
        phi.append(position[PARAMS.thresholds])
    return jnp.concatenate([theta, position[PARAMS.fixed]] + phi)


def newton_start(x, aux):
    """Where Newton starts at x: the mode at the settled point x0 moved along its slope,
    u0 + (du^/dx)(x - x0), within O(|x - x0|^2) of the mode at x."""
    return aux["u0"] + aux["slope"] @ (x - aux["x0"])


def _deviance(x, aux, laplace):
    """D(x), differentiable in x by the Laplace engine's exact gradient: its value plus
    grad . (x - x) with the gradient held fixed, so that reverse mode returns that gradient
    without differentiating through the Newton iterations. With one grouping factor, by the
    kernel written out for it (``hierax.engines.laplace_one``: the same D, 2-3 times faster)."""
    fixed = jax.lax.stop_gradient(x)
    if one.applies(laplace):
        value, grad, _ = one.evaluate(fixed, newton_start(fixed, aux), aux["rows"], laplace)
    else:
        value, grad, _ = evaluate(fixed, newton_start(fixed, aux), aux["data"], laplace)
    return value + jnp.vdot(jax.lax.stop_gradient(grad), x - fixed)


@program_cache(maxsize=16)
def embedded_logdensity(structure: EmbeddedStructure):
    """``logdensity(position, aux)`` of the hyperparameters with the effects integrated out by the
    Laplace approximation (``aux`` from :func:`runtime_data`). Cached by structure."""
    def logdensity(position, aux):
        params, log_jac = constrain_hyper(position, structure.scalars, structure.layout)
        x = laplace_point(position, params, structure)
        flat = jax.flatten_util.ravel_pytree(position)[0]
        return -0.5 * _deviance(x, aux, structure.laplace) + quadratic(flat, aux["correction"]) \
            + log_prior_hyper(aux["priors"], params) + log_jac

    return logdensity


def settled(position, aux, structure: EmbeddedStructure) -> dict:
    """``aux`` with Newton's start moved to one position x0 (the hyperparameters' mode): the mode
    u^ there and its slope du^/dx = -A^-1 (d2g / du dx) / 2 (the implicit function theorem, one
    solve with A's factor per coordinate of x), so that :func:`newton_start` is within
    O(|x - x0|^2) of the mode anywhere near x0: two Newton steps instead of four."""
    return {**aux, **settle_program()(position, aux, structure)}


@program_cache(maxsize=1)
def settle_program():
    """:func:`_settled_start` compiled as one program, for a short compile (it runs once a fit:
    1.4 s to compile at 100,000 rows, against 2.0 s for a fast run, ``hierax.engines.quick``); made
    on first use, so that importing hierax compiles nothing."""
    return quick_jit(_settled_start, static_argnames=("structure",))


def _settled_start(position, aux, structure: EmbeddedStructure) -> dict:
    """:func:`settled`'s new entries: run op by op, its constraining and gathering compiled some
    sixty small programs (3 s of a first fit at 100,000 rows, beside the NUTS steps compiling)."""
    params, _ = constrain_hyper(position, structure.scalars, structure.layout)
    x = laplace_point(position, params, structure)
    if one.applies(structure.laplace):        # a smaller program, the one-factor kernel's: 1.4 s to compile, not 4.2
        mode, slope = one.mode_and_slope(x, newton_start(x, aux), aux["rows"], structure.laplace)
        return {"u0": mode, "slope": slope, "x0": x}
    return _settle(x, newton_start(x, aux), aux["data"], structure.laplace)


@functools.partial(jax.jit, static_argnames=("laplace",))
def _settle(x, u0, data, laplace):
    mode = evaluate(x, u0, data, laplace)[2]
    F = factor_at(x, mode, data, laplace)
    cross = jax.jacfwd(lambda z: jax.grad(penalised_deviance, argnums=1)(z, mode, data, laplace))(x)   # (Q, len(x))
    slope = -0.5 * jax.vmap(lambda column: blocked.solve(F, column, data.pattern, laplace.layout),
                            in_axes=1, out_axes=1)(cross)
    return {"u0": mode, "slope": slope, "x0": x}


def draw_effects(position, key, aux, structure: EmbeddedStructure, weigh: bool = True):
    """The constrained parameters of one draw with its effects b drawn from the Laplace
    approximation to their conditional, and the draw's log importance ratio (module docstring;
    with one grouping factor, NaN unless ``weigh``: its check weighs the hyperparameters instead)."""
    params, _ = constrain_hyper(position, structure.scalars, structure.layout)
    x = laplace_point(position, params, structure)
    data, laplace = aux["data"], structure.laplace
    z = jax.random.normal(key, (laplace.width,))
    if one.applies(laplace):
        u, log_weight = one.draw(x, newton_start(x, aux), z.reshape(-1, laplace.blocks[0].num_terms), aux["rows"],
                                 laplace, weigh)
    else:
        mode = conditional_mode(x, newton_start(x, aux), data, laplace)
        F = factor_at(x, mode, data, laplace)
        u = mode + blocked.draw_offset(F, z, data.pattern, laplace.layout)
        log_weight = -0.5 * (penalised_deviance(x, u, data, laplace) - penalised_deviance(x, mode, data, laplace)
                             - z @ z)
    T, effects, start = _factors(params, structure), {}, 0
    for name, shape in zip(structure.names, laplace.blocks):
        part = u[start:start + shape.width].reshape(shape.num_levels, shape.num_terms)
        effects[name] = part @ T[name].T
        start += shape.width
    params[PARAMS.effects] = effects
    params[LOG_WEIGHT] = log_weight
    return params
