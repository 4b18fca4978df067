"""Chains' starts moved to the conditional mode of the fixed and group effects, the variance
parameters held: exact on a gaussian, and the coordinates a GLMM moves."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from hierax.density.init import conditional_coordinates
from hierax.design import build_design
from hierax.engines.metric import probes_from_labels
from hierax.engines.mode import conditional_modes
from hierax.formula import parse_formula
from hierax.model import specify


def test_conditional_modes_of_a_gaussian_are_exact_and_hold_the_rest():
    rng = np.random.default_rng(1)
    root = rng.normal(size=(4, 4))
    precision = root @ root.T + np.diag([100.0, 1.0, 0.01, 2.0])    # badly scaled, correlated
    mean = np.array([1.0, -2.0, 30.0, 0.5])
    value_and_grad = jax.jit(jax.value_and_grad(lambda x, aux: -0.5 * (x - aux) @ jnp.asarray(precision) @ (x - aux)))
    free = np.array([True, True, True, False])
    starts = rng.normal(size=(3, 4))
    moved = conditional_modes(value_and_grad, starts, free, jnp.asarray(mean), probes_from_labels(np.arange(4)),
                              max_iterations=200)
    np.testing.assert_array_equal(moved[:, 3], starts[:, 3])
    for start, x in zip(starts, moved):
        # x_f = mean_f - P_ff^-1 P_fh (x_h - mean_h)
        expected = mean[:3] - np.linalg.solve(precision[:3, :3], precision[:3, 3] * (start[3] - mean[3]))
        np.testing.assert_allclose(x[:3], expected, rtol=1e-5, atol=1e-5)


def test_a_failed_search_keeps_the_start():
    value_and_grad = jax.jit(jax.value_and_grad(lambda x, aux: jnp.where(jnp.all(x == 0.0), 0.0, jnp.nan) + 0 * x[0]))
    starts = np.zeros((2, 2))
    moved = conditional_modes(value_and_grad, starts, np.array([True, True]), None, probes_from_labels(np.arange(2)))
    np.testing.assert_array_equal(moved, starts)


def test_a_glmm_moves_its_fixed_and_group_effects_only():
    rng = np.random.default_rng(2)
    data = pd.DataFrame({"x": rng.normal(size=50), "g": rng.integers(0, 7, 50).astype(str)})
    data["y"] = rng.poisson(2.0, size=50)
    spec = specify(build_design(parse_formula("y ~ x + (1 + x | g)"), data), "poisson")
    free = conditional_coordinates(spec)
    # beta (2), log_sd (2), cor_raw (1), z (7 x 2), in ravel order: beta, cor_raw, log_sd, z
    assert free.dtype == bool and free.shape == (2 + 2 + 1 + 14,)
    np.testing.assert_array_equal(free, [True] * 2 + [False] * 3 + [True] * 14)
