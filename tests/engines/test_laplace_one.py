"""The one-factor Laplace kernel (``hierax.engines.laplace_one``) against the blocked engine
(``hierax.engines.laplace``, whose gradient ``test_laplace.py`` checks by central differences):
the same D, gradient, mode and effect draws, for families with and without parameters of their
own, a likelihood that is not log-concave, an ordinal model's thresholds and a parameter with a
formula."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from hierax.density import embedded
from hierax.engines import laplace, laplace_one
from hierax.model.build import build_model

RNG = np.random.default_rng(11)
N, LEVELS = 240, 30
X = RNG.normal(size=N)
W = RNG.normal(size=N)
G = RNG.integers(0, LEVELS, N)           # unsorted, unequal levels
ETA = -0.2 + 0.6 * X + RNG.normal(0, 0.8, LEVELS)[G] + RNG.normal(0, 0.4, LEVELS)[G] * X
DATA = pd.DataFrame({
    "x": X, "w": W, "g": np.char.add("g", G.astype(str)),
    "hit": (RNG.random(N) < 1 / (1 + np.exp(-ETA))).astype(int),
    "count": RNG.poisson(np.exp(0.5 + 0.4 * ETA)),
    "size": RNG.integers(1, 6, N),
    "y": ETA + 0.6 * RNG.standard_t(3, N),
    "rating": np.digitize(ETA + RNG.logistic(size=N), [-1.0, 0.0, 1.0]) + 1,
    "share": 1 / (1 + np.exp(-(0.3 * ETA + RNG.normal(0, 0.3, N)))),
})
DATA["wins"] = RNG.binomial(DATA["size"], 1 / (1 + np.exp(-ETA)))

MODELS = {
    "bernoulli, two effects": ("hit ~ x + (1 + x | g)", "bernoulli"),
    "binomial with trials": ("wins | trials(size) ~ x + (1 | g)", "binomial"),
    "poisson, three effects": ("count ~ x + (1 + x + w | g)", "poisson"),
    "negbinomial's shape": ("count ~ x + (1 | g)", "negbinomial"),
    "student (not log-concave)": ("y ~ x + (1 + x | g)", "student"),
    "ordinal thresholds": ("rating ~ x + (1 | g)", "cumulative"),
    "beta": ("share ~ x + (1 | g)", "beta"),
}


def _problem(formula, family):
    spec = build_model(formula, DATA, family)[1]
    structure = embedded.embedded_structure(spec)
    aux = embedded.runtime_data(spec)
    return structure.laplace, aux["data"], aux["rows"]


def _point(structure, data, seed):
    """x = (theta, beta, phi) with theta's diagonal positive and the rest moderate."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.3, structure.num_theta + data.X.shape[1] + structure.num_phi)
    for t, (_, i, j) in enumerate(structure.entries):
        if i == j:
            x[t] = 0.5 + abs(x[t])
    if structure.likelihood.thresholds:
        x[-structure.likelihood.thresholds:] = [-1.0, 0.0, 0.0][:structure.likelihood.thresholds]
    return jnp.asarray(x)


@pytest.mark.parametrize("name", list(MODELS))
def test_value_gradient_and_mode_equal_the_blocked_engines(name):
    structure, data, rows = _problem(*MODELS[name])
    assert laplace_one.applies(structure)
    for seed in (0, 1):
        x = _point(structure, data, seed)
        u0 = jnp.zeros(structure.width)
        value, grad, mode = laplace.evaluate(x, u0, data, structure)
        value_one, grad_one, mode_one = laplace_one.evaluate(x, u0, rows, structure)
        # the kernel stops where the next Newton step is below 1e-6 (relative) without taking it,
        # so its mode is within that and D moves by about log|A|'s gradient times it (first order)
        np.testing.assert_allclose(np.asarray(mode_one), np.asarray(mode), atol=2e-6 * (1 + float(jnp.max(jnp.abs(mode)))))
        np.testing.assert_allclose(float(value_one), float(value), rtol=1e-8)
        np.testing.assert_allclose(np.asarray(grad_one), np.asarray(grad), rtol=1e-5, atol=1e-5)


def test_from_near_the_mode_it_stops_before_a_step_it_does_not_need():
    """Started at the exact mode, the first step is below the stop: D and its gradient come from
    the start itself and equal the blocked engine's to rounding."""
    structure, data, rows = _problem(*MODELS["bernoulli, two effects"])
    x = _point(structure, data, 3)
    value, grad, mode = laplace.evaluate(x, jnp.zeros(structure.width), data, structure)
    value_one, grad_one, mode_one = laplace_one.evaluate(x, mode, rows, structure)
    np.testing.assert_array_equal(np.asarray(mode_one), np.asarray(mode))
    np.testing.assert_allclose(float(value_one), float(value), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(grad_one), np.asarray(grad), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["bernoulli, two effects", "poisson, three effects"])
def test_draws_equal_the_blocked_engines(name):
    """u = u^ + L'^-1 z level by level, and the log importance ratio, as the blocked factor's
    ``draw_offset`` and penalised deviance give them for the same z."""
    structure, data, rows = _problem(*MODELS[name])
    x = _point(structure, data, 4)
    q = structure.blocks[0].num_terms
    z = jax.random.normal(jax.random.PRNGKey(0), (structure.width,))
    u, log_weight = laplace_one.draw(x, jnp.zeros(structure.width), z.reshape(-1, q), rows, structure)
    mode = laplace.evaluate(x, jnp.zeros(structure.width), data, structure)[2]
    F = laplace.factor_at(x, mode, data, structure)
    expected = mode + laplace.blocked.draw_offset(F, z, data.pattern, structure.layout)
    expected_weight = -0.5 * (laplace.penalised_deviance(x, expected, data, structure)
                              - laplace.penalised_deviance(x, mode, data, structure) - z @ z)
    np.testing.assert_allclose(np.asarray(u), np.asarray(expected), atol=1e-5)
    np.testing.assert_allclose(float(log_weight), float(expected_weight), atol=1e-4)
    unweighed, no_weight = laplace_one.draw(x, jnp.zeros(structure.width), z.reshape(-1, q), rows, structure, weigh=False)
    np.testing.assert_array_equal(np.asarray(unweighed), np.asarray(u))
    assert np.isnan(float(no_weight))


@pytest.mark.parametrize("name", ["bernoulli, two effects", "binomial with trials", "poisson, three effects",
                                  "negbinomial's shape"])
def test_level_log_ratios_equal_the_blocked_engines(name):
    """The quadrature's per-level log ratios from the kernel's own mode, predictor and A equal the
    blocked engine's, which makes them afresh from the same mode (the embedded Laplace's check)."""
    structure, data, rows = _problem(*MODELS[name])
    assert data.by_level is not None
    x = _point(structure, data, 5)
    u, eta, A, _ = laplace_one.conditional_mode(x, jnp.zeros(structure.width), rows, structure)
    nodes = {1: 5, 2: 3, 3: 2}[structure.blocks[0].num_terms]
    ratios = laplace_one.level_log_ratios(x, u, eta, A, rows, structure, nodes)
    expected = laplace.level_log_ratios(x, u.reshape(-1), data, structure, nodes)
    assert ratios.shape == (LEVELS,) and float(jnp.max(jnp.abs(expected))) > 1e-4
    np.testing.assert_allclose(np.asarray(ratios), np.asarray(expected), rtol=1e-9, atol=1e-12)


def test_rows_are_laid_out_level_by_level_with_the_padding_masked():
    """Every row of the data once, in its level's block, its values copied; each padding row a
    copy of its level's first row with mask 0 (the sums above equal the blocked engine's, which
    has no padding, so the mask takes it out)."""
    structure, data, rows = _problem(*MODELS["bernoulli, two effects"])
    mask, y = np.asarray(rows.mask), np.asarray(rows.y)
    assert mask.sum() == N and len(mask) > N                      # unequal levels: some padding
    level = np.asarray(data.pattern.first_index)
    seen = []
    for bucket in rows.layout.buckets:
        block, real = np.asarray(bucket.rows), np.asarray(bucket.real)
        for positions, kept, lev in zip(block, real, np.asarray(bucket.levels)):
            first = positions[0]
            assert np.all(mask[positions] == kept)
            assert np.all(y[positions[~kept]] == y[first]) and np.all(np.asarray(rows.z[1])[positions[~kept]]
                                                                      == np.asarray(rows.z[1])[first])
            seen.append(np.sort(np.asarray(rows.z[1])[positions[kept]]))
            np.testing.assert_array_equal(seen[-1], np.sort(np.asarray(data.vals)[level == lev, 1]))
    assert sum(len(v) for v in seen) == N


@pytest.mark.parametrize("name", ["bernoulli, two effects", "poisson, three effects", "negbinomial's shape"])
def test_mode_and_slope_equal_the_blocked_engines(name):
    """The Newton start's mode and slope du/dx (``embedded.settled``) by the kernel equal the
    blocked engine's (``embedded._settle``); the slope predicts the mode at a nearby x."""
    structure, data, rows = _problem(*MODELS[name])
    x = _point(structure, data, 6)
    u0 = jnp.zeros(structure.width)
    mode, slope = laplace_one.mode_and_slope(x, u0, rows, structure)
    expected = embedded._settle(x, u0, data, structure)
    scale = 1 + float(jnp.max(jnp.abs(expected["u0"])))
    np.testing.assert_allclose(np.asarray(mode), np.asarray(expected["u0"]), atol=2e-6 * scale)
    np.testing.assert_allclose(np.asarray(slope), np.asarray(expected["slope"]), atol=1e-5 * scale)
    step = 1e-3 * jnp.ones_like(x)
    moved = laplace.evaluate(x + step, mode, data, structure)[2]
    assert float(jnp.max(jnp.abs(mode + slope @ step - moved))) < 1e-2 * float(jnp.max(jnp.abs(moved - mode)))


def test_a_level_without_rows_has_no_effect_and_the_rest_are_the_blocked_engines():
    """A grouping factor's level with no rows (the last of 31 here) sits after the buckets: its
    sums are 0, its mode 0, and the other levels' values equal the blocked engine's."""
    from dataclasses import replace

    formula, family = MODELS["bernoulli, two effects"]
    spec = build_model(formula, DATA, family)[1]
    block = spec.blocks[0]
    wider = replace(spec, blocks=(replace(block, levels=tuple(block.levels) + ("unseen",)),))
    structure = embedded.embedded_structure(wider).laplace
    aux = embedded.runtime_data(wider)
    data, rows = aux["data"], aux["rows"]
    x = _point(structure, data, 7)
    u0 = jnp.zeros(structure.width)
    value, grad, mode = laplace.evaluate(x, u0, data, structure)
    value_one, grad_one, mode_one = laplace_one.evaluate(x, u0, rows, structure)
    q = block.num_terms
    assert np.all(np.asarray(mode_one)[-q:] == 0.0)
    np.testing.assert_allclose(np.asarray(mode_one), np.asarray(mode), atol=2e-6 * (1 + float(jnp.max(jnp.abs(mode)))))
    np.testing.assert_allclose(float(value_one), float(value), rtol=1e-8)
    np.testing.assert_allclose(np.asarray(grad_one), np.asarray(grad), rtol=1e-5, atol=1e-5)
