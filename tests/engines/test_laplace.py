"""The Laplace engine's gradient (implicit function theorem, no differentiation through Newton)
against central differences of its own value, with the mode re-found at every point."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from hierax.engines import laplace
from hierax.design.block import Block
from hierax.density.likelihood import FamilyLikelihood
from hierax.model.families import get_family


def _poisson_problem(seed=0):
    rng = np.random.default_rng(seed)
    n = 300
    x = rng.normal(size=n)
    g1, g2 = rng.integers(0, 20, n), rng.integers(0, 7, n)
    eta = 0.5 + 0.3 * x + rng.normal(0, 0.5, 20)[g1] + rng.normal(0, 0.3, 20)[g1] * x + rng.normal(0, 0.4, 7)[g2]
    y = rng.poisson(np.exp(eta)).astype(float)
    X = np.column_stack([np.ones(n), x])
    blocks = [Block.from_index(np.column_stack([np.ones(n), x]), g1, 20, True), Block.from_index(np.ones((n, 1)), g2, 7, False)]
    family, link = get_family("poisson")
    structure = laplace.structure_of(blocks, FamilyLikelihood(family, link.name))
    return laplace.engine_data(X, y, None, blocks, None), structure


def test_gradient_matches_central_differences():
    data, structure = _poisson_problem()
    x = jnp.asarray([0.6, 0.1, 0.4, 0.5, 0.45, 0.25])     # theta (3 + 1), then beta (2)
    u0 = jnp.zeros(structure.width)
    _, grad, u = laplace.evaluate(x, u0, data, structure)

    def value(z):
        return float(laplace.evaluate(jnp.asarray(z), u, data, structure)[0])

    # h = 3e-4: truncation error (h^2) about 2e-5 here, falling 11-fold from h = 1e-3 as it should;
    # below 1e-4 the Newton tolerance's noise in the value dominates. Leaving out the mode's
    # dependence on x would be wrong by 0.6 to 37 in these components.
    h = 3e-4
    numeric = [(value(x + h * e) - value(x - h * e)) / (2 * h) for e in np.eye(len(x))]
    np.testing.assert_allclose(np.asarray(grad), numeric, rtol=0, atol=1e-4)


def test_mode_is_stationary():
    """At the mode the penalised log-likelihood's gradient in u vanishes (Newton ran to convergence)."""
    import jax

    data, structure = _poisson_problem(1)
    x = jnp.asarray([0.8, -0.2, 0.3, 0.6, 0.4, 0.2])
    _, _, u = laplace.evaluate(x, jnp.zeros(structure.width), data, structure)
    def gradient_size(v):
        return float(jnp.max(jnp.abs(jax.grad(laplace.penalised_deviance, argnums=1)(x, v, data, structure))))

    assert gradient_size(u) < 1e-8 * gradient_size(jnp.zeros_like(u))
    assert float(jnp.max(jnp.abs(u))) > 0.1          # and the mode is not trivially zero


def test_a_model_of_the_same_shape_reuses_the_compiled_objective():
    """New data of the same shape (a refit, a simulation) must not compile again."""
    family, link = get_family("poisson")
    rng = np.random.default_rng(2)
    n = 120
    X, group = np.ones((n, 1)), np.repeat(np.arange(12), 10)
    blocks = [Block.from_index(np.ones((n, 1)), group, 12, False)]
    sizes = []
    for _ in range(2):
        y = rng.poisson(np.exp(1.0 + rng.normal(0, 0.5, 12)[group])).astype(float)
        laplace.fit_glmm(X, y, blocks, FamilyLikelihood(family, link.name))
        sizes.append(laplace.evaluate._cache_size())
    assert sizes[1] == sizes[0]
