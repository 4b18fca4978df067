"""The host route for ratings-sized crossed models against the listed-products route.

``hierax.engines.profiled_wide`` forms the Schur complement's middle term at each evaluation
(``hierax.linalg.wide``) instead of listing its products; value, gradient and estimates must be
those of ``hierax.engines.profiled`` and ``hierax.linalg.pls``, whichever first-block levels are
held dense.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from hierax.engines import profiled, profiled_wide
from hierax.linalg import pls, wide
from tests.engines.test_profiled import STRUCTURES, problem_inputs

CROSSED = [name for name, structure in STRUCTURES.items() if len(structure) > 1]
SPLITS = {"all sparse": 2.0, "all dense": -1.0, "some dense": 0.5}


def _both(name, share, monkeypatch):
    monkeypatch.setattr(wide, "HEAVY_SHARE", share)
    X, y, blocks, theta = problem_inputs(STRUCTURES[name])
    shape, data = pls.prepare(X, y, blocks)
    wide_shape, wide_data = wide.prepare(X, y, blocks)
    assert wide_shape == shape
    return theta, (data, shape), wide_data


@pytest.mark.parametrize("known_scale", [False, True], ids=["profiled", "known scale"])
@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
@pytest.mark.parametrize("split", list(SPLITS))
@pytest.mark.parametrize("name", CROSSED)
def test_value_and_gradient_equal_the_listed_route(name, split, reml, known_scale, monkeypatch):
    theta, (data, shape), wide_data = _both(name, SPLITS[split], monkeypatch)
    value, grad = profiled.deviance_and_gradient(jnp.asarray(theta), data, shape, reml, known_scale)
    wide_value, wide_grad = profiled_wide.deviance_and_gradient(theta, wide_data, shape, reml, known_scale)
    assert wide_value == pytest.approx(float(value), rel=1e-12)
    np.testing.assert_allclose(wide_grad, np.asarray(grad), rtol=1e-9, atol=1e-9 * float(np.max(np.abs(grad))))


@pytest.mark.parametrize("name", CROSSED)
def test_estimates_equal_the_listed_route(name, monkeypatch):
    theta, (data, shape), wide_data = _both(name, SPLITS["some dense"], monkeypatch)
    assert np.any(wide_data.order != np.arange(shape.rest_width))       # rows held in another order
    f, u = pls.solution(jnp.asarray(theta), data, shape)
    wide_f, wide_u = wide.factorisation(theta, wide_data, shape)
    for field in ("beta", "r2", "log_det_L", "log_det_RX"):
        np.testing.assert_allclose(getattr(wide_f, field), np.asarray(getattr(f, field)), rtol=1e-10, atol=1e-10)
    # the host route holds the later blocks' rows in another order (``wide.popularity_order``): its
    # factor's cu and RZX differ, their products (r' S^-1 r and the like) do not
    for name, product in {"cu'cu": lambda g: g.cu @ g.cu, "RZX'RZX": lambda g: g.RZX.T @ g.RZX,
                          "RZX'cu": lambda g: g.RZX.T @ g.cu}.items():
        np.testing.assert_allclose(product(wide_f), np.asarray(product(f)), rtol=1e-10, atol=1e-10, err_msg=name)
    np.testing.assert_allclose(wide_u, np.asarray(u), rtol=1e-9, atol=1e-10)
    sigma2 = float(f.r2) / (shape.n - shape.p)
    expected = pls.conditional_variances(f, theta, sigma2, data, shape)
    for got, want in zip(wide.conditional_variances(wide_f, theta, sigma2, wide_data, shape), expected):
        np.testing.assert_allclose(got, want, rtol=1e-9)


def test_pair_chunks_do_not_change_the_quadratic_forms(monkeypatch):
    X, y, blocks, theta = problem_inputs(STRUCTURES["vector first, vector rest"])
    shape, data = wide.prepare(X, y, blocks)
    C21, L1, q1 = data.cross.C21, shape.levels[0], shape.terms[0]
    P = np.random.default_rng(1).normal(size=(C21.shape[0],) * 2)
    whole = wide.first_block_quadratic(P, C21, L1, q1)
    monkeypatch.setattr(wide, "PAIR_CHUNK", 7)
    np.testing.assert_allclose(wide.first_block_quadratic(P, C21, L1, q1), whole, rtol=1e-12)
    dense = C21.toarray()
    expected = np.stack([dense[:, l * q1:(l + 1) * q1].T @ P @ dense[:, l * q1:(l + 1) * q1] for l in range(L1)])
    np.testing.assert_allclose(whole, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["crossed scalar blocks", "scalar first, vector rest", "vector first, vector rest"])
def test_negative_diagonals_give_the_listed_routes_gradient(name, monkeypatch):
    """Newton steps may cross zero (the deviance depends on a column's sign only through T T'):
    a negative first-block diagonal makes every dM_l negative, a product of -F F'."""
    theta, (data, shape), wide_data = _both(name, SPLITS["some dense"], monkeypatch)
    theta = theta * np.array([-1.0 if i == j else 1.0 for _, i, j in shape.entries])
    value, grad = profiled.deviance_and_gradient(jnp.asarray(theta), data, shape, True)
    wide_value, wide_grad = profiled_wide.deviance_and_gradient(theta, wide_data, shape, True)
    assert wide_value == pytest.approx(float(value), rel=1e-12)
    np.testing.assert_allclose(wide_grad, np.asarray(grad), rtol=1e-9, atol=1e-9 * float(np.max(np.abs(grad))))


def test_reused_middle_terms_and_pieces_give_fresh_results(monkeypatch):
    """``wide.Memo`` reuses the middle term across a step in another block's theta, and the last
    pieces: results must equal a fresh evaluation's, whatever the order."""
    theta, (data, shape), wide_data = _both("scalar first, vector rest", SPLITS["some dense"], monkeypatch)
    other = theta.copy()
    other[-1] += 0.1                              # an entry of the second block: the middle term is reused
    for point in (theta, other, theta, other):
        _, _, fresh = _both("scalar first, vector rest", SPLITS["some dense"], monkeypatch)
        expected = profiled_wide.deviance_and_gradient(point, fresh, shape, True)
        value, grad = profiled_wide.deviance_and_gradient(point, wide_data, shape, True)
        assert value == expected[0]
        np.testing.assert_array_equal(grad, expected[1])
    assert len(wide_data.memo.middles) == 2


def test_scalar_blocks_take_the_gradient_from_the_inverse_factor_alone(monkeypatch):
    """Every block scalar: no derivative's middle term is formed (``_scalar_gradient``), and the
    gradient is the general route's."""
    theta, (_, shape), wide_data = _both("crossed scalar blocks", SPLITS["some dense"], monkeypatch)
    middles = []
    original = wide._middle
    monkeypatch.setattr(wide, "_middle", lambda *args: middles.append(args[0]) or original(*args))
    value, grad = profiled_wide.deviance_and_gradient(theta, wide_data, shape, True)
    assert len(middles) == 1                                      # M's, for the value
    _, _, general = _both("crossed scalar blocks", SPLITS["some dense"], monkeypatch)
    monkeypatch.setattr(profiled_wide, "_all_scalar", lambda P, shape: False)
    general_value, general_grad = profiled_wide.deviance_and_gradient(theta, general, shape, True)
    assert len(middles) == 3                                      # M's and dM's
    assert value == general_value
    np.testing.assert_allclose(grad, general_grad, rtol=1e-10)


@pytest.mark.parametrize("near", [0.0, 1e-6])
def test_a_later_scalar_block_near_zero_takes_the_general_route(near, monkeypatch):
    """(2 / t_k) (L_k - tr) needs t_k != 0 and loses eps L_k / t_k to cancellation: near 0 the
    general route gives the gradient."""
    theta, (data, shape), wide_data = _both("crossed scalar blocks", SPLITS["some dense"], monkeypatch)
    later = [t for t, (k, _, _) in enumerate(shape.entries) if k != shape.order[0]]
    theta = theta.copy()
    theta[later[0]] = near
    value, grad = profiled.deviance_and_gradient(jnp.asarray(theta), data, shape, True)
    wide_value, wide_grad = profiled_wide.deviance_and_gradient(theta, wide_data, shape, True)
    assert wide_value == pytest.approx(float(value), rel=1e-12)
    np.testing.assert_allclose(wide_grad, np.asarray(grad), rtol=1e-9, atol=1e-9 * float(np.max(np.abs(grad))))


@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
@pytest.mark.parametrize("order", [(1, 2, 0), (2, 0, 1)])
def test_scalar_blocks_given_smallest_first_equal_the_listed_route(order, reml, monkeypatch):
    """The user's block order is not the shape's (widest first): entries and blocks must still pair."""
    monkeypatch.setattr(wide, "HEAVY_SHARE", 0.5)
    structure = [STRUCTURES["crossed scalar blocks"][k] for k in order]
    X, y, blocks, theta = problem_inputs(structure)
    shape, data = pls.prepare(X, y, blocks)
    _, wide_data = wide.prepare(X, y, blocks)
    assert shape.order != tuple(range(len(order)))
    value, grad = profiled.deviance_and_gradient(jnp.asarray(theta), data, shape, reml)
    wide_value, wide_grad = profiled_wide.deviance_and_gradient(theta, wide_data, shape, reml)
    assert profiled_wide._all_scalar(wide.pieces(theta, wide_data, shape), shape)
    assert wide_value == pytest.approx(float(value), rel=1e-12)
    np.testing.assert_allclose(wide_grad, np.asarray(grad), rtol=1e-9, atol=1e-9 * float(np.max(np.abs(grad))))


def test_popularity_order_sorts_each_later_blocks_levels_and_keeps_their_rows_together():
    X, y, blocks, _ = problem_inputs(STRUCTURES["vector first, vector rest"])
    shape, data = wide.prepare(X, y, blocks)
    order, per_row = data.order, np.bincount(pls.cross_products(X, y, blocks)[1].C21.indices, minlength=len(data.order))
    start = 0
    for L, q in zip(shape.levels[1:], shape.terms[1:]):
        held = order[start:start + L * q].reshape(L, q)
        assert np.all((held[:, 0] - start) % q == 0) and np.all(held - held[:, :1] == np.arange(q))   # a level's rows in turn
        assert set(held.ravel()) == set(range(start, start + L * q))                       # within its block
        counts = per_row[held].sum(axis=1)
        assert np.all(np.diff(counts) >= 0)                                                 # fewest first
        start += L * q
