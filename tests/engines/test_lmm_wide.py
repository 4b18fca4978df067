"""A whole REML/ML fit by the host route (products formed per evaluation, a subsample's start,
Newton steps) against the listed-products route on the same ratings-shaped data."""

from __future__ import annotations

import numpy as np
import pytest

from hierax._threads import blas_limit
from hierax.design.block import Block
from hierax.engines import lmm, lmm_newton, lmm_start, profiled_wide
from hierax.linalg import wide


def _ratings(users=2000, items=900, seed=0, item_sd=0.7):
    """Crossed users x items with power-law activity (every item rated at least once)."""
    rng = np.random.default_rng(seed)
    per_user = np.minimum(3 + np.floor(rng.pareto(1.5, users) * 6).astype(int), items)
    user = np.repeat(np.arange(users), per_user)
    popularity = rng.pareto(1.0, items) + 1.0
    item = np.concatenate([rng.choice(items, k, replace=False, p=popularity / popularity.sum()) for k in per_user])
    seen = np.unique(item)
    item = np.searchsorted(seen, item)
    x = rng.normal(size=len(user))
    y = (3.0 + 0.3 * x + rng.normal(0, 0.5, users)[user] + rng.normal(0, item_sd, len(seen))[item]
         + rng.normal(size=len(user)))
    X = np.column_stack([np.ones(len(user)), x])
    blocks = [Block.from_index(np.ones((len(user), 1)), user, users, False, "user"),
              Block.from_index(np.ones((len(user), 1)), item, len(seen), False, "item")]
    return X, y, blocks


@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
def test_host_route_fit_equals_the_listed_route(reml, monkeypatch):
    X, y, blocks = _ratings()
    assert blocks[0].num_levels > blocks[1].num_levels > 2 * lmm_start.LEVELS_KEPT   # a subsample start
    with blas_limit():                   # as hx.fit runs it (two BLAS threads per xdist worker crawl)
        listed = lmm.fit_lmm(X, y, blocks, reml=reml)
        monkeypatch.setattr(lmm, "LISTED_PRODUCTS_UP_TO", 0)
        hessians, from_values = [], lmm_newton._hessian_from_values
        monkeypatch.setattr(lmm_newton, "_hessian_from_values", lambda *a: hessians.append(from_values(*a)) or hessians[-1])
        host = lmm.fit_lmm(X, y, blocks, reml=reml)
    assert len(hessians) == 1 and hessians[0] is not None          # the start Hessian came from values
    assert host.optimisation.optimiser.startswith("Newton")
    assert host.optimisation.converged
    assert not np.allclose(host.optimisation.start, 1.0)              # started from the subsample
    assert host.objective == pytest.approx(listed.objective, abs=1e-6)
    np.testing.assert_allclose(host.theta, listed.theta, rtol=1e-4)
    np.testing.assert_allclose(host.beta, listed.beta, rtol=1e-6)
    assert host.sigma == pytest.approx(listed.sigma, rel=1e-6)
    for got, want in zip(host.random_effects, listed.random_effects):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    for got, want in zip(host.random_variances(), listed.random_variances()):
        np.testing.assert_allclose(got, want, rtol=1e-4)


def test_newton_flips_negative_diagonals_to_lme4s_convention():
    entries = ((0, 0, 0), (0, 1, 0), (0, 1, 1), (1, 0, 0))
    theta = np.array([-0.5, 0.2, 0.3, -0.7])
    np.testing.assert_array_equal(lmm_newton._positive_diagonals(theta, entries), [0.5, -0.2, 0.3, 0.7])


def test_newton_gives_up_on_a_hessian_that_is_not_positive_definite():
    def saddle(theta):
        return float(theta[0] ** 2 - theta[1] ** 2), np.array([2 * theta[0], -2 * theta[1]])
    assert lmm_newton.minimise(saddle, np.array([0.3, 0.2]), ((0, 0, 0), (1, 0, 0))) is None


def test_host_route_finds_a_variance_near_zero_as_the_listed_route_does(monkeypatch):
    """Items with no variance of their own: the optimum is at or near the boundary (here 0.024)."""
    X, y, blocks = _ratings(item_sd=0.0, seed=2)
    with blas_limit():
        listed = lmm.fit_lmm(X, y, blocks)
        monkeypatch.setattr(lmm, "LISTED_PRODUCTS_UP_TO", 0)
        host = lmm.fit_lmm(X, y, blocks)
    assert host.objective == pytest.approx(listed.objective, abs=1e-6)
    assert host.objective <= listed.objective + 1e-6
    np.testing.assert_allclose(host.theta, listed.theta, atol=2e-3)
    assert np.all(host.theta >= 0)


def _cubic(theta):
    """A smooth test function: a quadratic with a cubic term, value and exact gradient."""
    a, b = theta
    value = 3.0 * a * a + 2.0 * a * b + 5.0 * b * b + 0.4 * a ** 3
    return value, np.array([6.0 * a + 2.0 * b + 1.2 * a * a, 2.0 * a + 10.0 * b])


def test_the_hessian_from_values_is_the_hessian_to_the_steps_order():
    theta = np.array([0.5, 0.3])
    value, grad = _cubic(theta)
    calls = []

    def values(point):
        calls.append(point.copy())
        return _cubic(point)[0]

    H = lmm_newton._hessian_from_values(values, theta, value, grad, slow=[0])
    exact = np.array([[6.0 + 2.4 * theta[0], 2.0], [2.0, 10.0]])
    np.testing.assert_allclose(H, exact, rtol=1e-3)
    assert not np.allclose(H, exact, rtol=1e-9)                 # a difference, not the derivative itself
    # the slow theta (0) is stepped after the other, and the cross term follows its step
    assert [tuple(np.round(c - theta, 12) != 0) for c in calls] == [(False, True), (True, False), (True, True)]


def test_newton_from_values_reaches_the_minimum_of_a_smooth_function():
    result = lmm_newton.minimise(_cubic, np.array([0.4, -0.2]), ((0, 0, 0), (1, 0, 0)),
                                 value=lambda t: _cubic(t)[0])
    assert result is not None and result.decrement < lmm_newton.DECREMENT
    assert result.fun < 1e-8                                     # the minimum is 0, at (0, 0)
    np.testing.assert_allclose(result.x, [0.0, 0.0], atol=1e-4)


def test_newton_differences_gradients_where_the_values_give_no_positive_definite_hessian():
    """Values that say nothing of the curvature (a constant): the gradients' differences serve."""
    result = lmm_newton.minimise(_cubic, np.array([0.4, -0.2]), ((0, 0, 0), (1, 0, 0)), value=lambda t: 0.0)
    assert result is not None and result.fun < 1e-8
    assert result.nfev == 1 + 3 + 2 + result.nit                 # the start, three values, two gradients, steps


def test_the_values_hessian_forms_one_new_middle_term(monkeypatch):
    """The user's (first block's) step last: the item's step reuses the start's middle term and
    the cross term the user's step's, so three values form one new middle term."""
    X, y, blocks = _ratings(users=600, items=300)
    shape, data = wide.prepare(X, y, blocks)
    theta = np.array([0.5, 0.6])
    value, grad = profiled_wide.deviance_and_gradient(theta, data, shape, True)
    first = [t for t, (k, _, _) in enumerate(shape.entries) if k == shape.order[0]]
    formed, middle = [], wide._middle
    monkeypatch.setattr(wide, "_middle", lambda *a: formed.append(1) or middle(*a))
    H = lmm_newton._hessian_from_values(lambda t: profiled_wide.deviance(t, data, shape, True), theta, value,
                                        grad, first)
    assert H is not None and len(formed) == 1
