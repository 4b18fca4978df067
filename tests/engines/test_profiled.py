"""The hand-written gradient of the profiled deviance against automatic differentiation.

``hierax.linalg.pls.factorise`` computes the same deviance another way (the blocked Cholesky of
Lambda'Z'Z Lambda + I, then R_X and the penalised residual, lme4's order); differentiating it with
JAX gives an independent reference for ``hierax.engines.profiled``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

from hierax.engines import profiled
from hierax.linalg import pls
from hierax.design.block import Block


def _reference(theta, data, shape, reml):
    return jax.value_and_grad(
        lambda t: pls.profiled_deviance(pls.factorise(t, data, shape), shape.n, shape.p, reml))(theta)


def _problem(structure, seed=0):
    """Crossed grouping factors with the given (levels, effects, correlated) per block."""
    X, y, blocks, theta = problem_inputs(structure, seed)
    shape, data = pls.prepare(X, y, blocks)
    return jnp.asarray(theta), data, shape


def problem_inputs(structure, seed=0):
    """X, y, the blocks and a theta inside the parameter space, for ``_problem``."""
    rng = np.random.default_rng(seed)
    n = 500
    x, z = rng.normal(size=n), rng.normal(size=n)
    columns = [np.ones(n), x, z]
    X = np.column_stack(columns)
    blocks, y = [], 1.0 + x + rng.normal(size=n)
    for levels, effects, correlated in structure:
        group = rng.integers(0, levels, n)
        group[:levels] = np.arange(levels)                      # every level observed
        Z = np.column_stack(columns[:effects])
        y = y + np.sum(Z * rng.normal(size=(levels, effects))[group], axis=1)
        blocks.append(Block.from_index(Z, group, levels, correlated))
    lower = pls.theta_lower(pls.theta_entries(blocks))
    theta = np.where(lower == 0, rng.uniform(0.2, 1.5, len(lower)), rng.uniform(-0.5, 0.5, len(lower)))
    return X, y, blocks, theta


STRUCTURES = {
    "one scalar block": [(30, 1, False)],
    "one correlated block": [(30, 3, True)],
    "crossed scalar blocks": [(40, 1, False), (15, 1, False), (6, 1, False)],
    "vector first, vector rest": [(40, 2, True), (12, 3, True), (5, 1, False)],
    "scalar first, vector rest": [(40, 1, False), (15, 2, True)],
    "uncorrelated vector rest": [(40, 2, False), (15, 2, False)],
}


@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
@pytest.mark.parametrize("name", list(STRUCTURES))
def test_gradient_matches_automatic_differentiation(name, reml):
    theta, data, shape = _problem(STRUCTURES[name])
    value, grad = profiled.deviance_and_gradient(theta, data, shape, reml)
    expected_value, expected_grad = _reference(theta, data, shape, reml)
    assert float(value) == pytest.approx(float(expected_value), rel=1e-12)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(expected_grad), rtol=1e-9,
                               atol=1e-9 * float(jnp.max(jnp.abs(expected_grad))))


def test_schur_terms_give_the_dense_product():
    """G = C21 blockdiag(M_l) C12, with levels sharing M_l where their D11 blocks are equal."""
    theta, data, shape = _problem([(40, 2, True), (12, 2, True)], seed=3)
    L1, q1 = shape.levels[0], shape.terms[0]
    M = jnp.asarray(np.random.default_rng(4).normal(size=(L1, q1, q1)))
    M = M + jnp.swapaxes(M, 1, 2)
    classes = np.unique(np.asarray(data.D11).reshape(L1, -1), axis=0, return_inverse=True)[1].ravel()
    M = M[np.asarray(data.schur.class_level)[classes]]           # equal D11, equal M (as in the model)
    C21 = np.asarray(data.C21.todense())
    blockdiag = sp.block_diag(list(np.asarray(M))).toarray()
    np.testing.assert_allclose(np.asarray(pls.schur_middle(M, data.schur, shape.rest_width)),
                               C21 @ blockdiag @ C21.T, rtol=1e-12, atol=1e-12)


def test_inverse_from_cholesky():
    A = np.random.default_rng(5).normal(size=(50, 50))
    A = A @ A.T + 50 * np.eye(50)
    inverse = profiled.inverse_from_cholesky(jnp.linalg.cholesky(jnp.asarray(A)))
    np.testing.assert_allclose(np.asarray(inverse), np.linalg.inv(A), rtol=1e-10, atol=1e-14)


def _known_scale_reference(theta, data, shape, reml):
    """The criterion with the residual variance fixed at 1 (``known_scale``), by factorise."""
    def value(t):
        f = pls.factorise(t, data, shape)
        dof = shape.n - shape.p if reml else shape.n
        return f.log_det_L + (f.log_det_RX if reml else 0.0) + f.r2 + dof * np.log(2.0 * np.pi)
    return jax.value_and_grad(value)(theta)


@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
@pytest.mark.parametrize("name", ["one scalar block", "vector first, vector rest", "scalar first, vector rest"])
def test_known_scale_gradient_matches_automatic_differentiation(name, reml):
    """The residual variance held at 1 (rows divided by known sds): r2 enters the deviance
    itself, not through log(r2 / dof)."""
    theta, data, shape = _problem(STRUCTURES[name])
    value, grad = profiled.deviance_and_gradient(theta, data, shape, reml, known_scale=True)
    expected_value, expected_grad = _known_scale_reference(theta, data, shape, reml)
    assert float(value) == pytest.approx(float(expected_value), rel=1e-12)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(expected_grad), rtol=1e-9,
                               atol=1e-9 * float(jnp.max(jnp.abs(expected_grad))))
