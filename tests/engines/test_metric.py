"""Warmup's first metric from the curvature at the starts: exact on a gaussian, and the grouping of
coordinates it relies on (effects of one term of one factor never interact) checked against the
full Hessian of a GLMM's log density, centred levels included."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.flatten_util import ravel_pytree

from hierax.density.init import coordinate_groups, curvature_fallback, initial_positions
from hierax.density.logdensity import default_centering, full_logdensity, hyper_priors, model_arrays, structure_of
from hierax.design import build_design
from hierax.engines.metric import LARGEST, curvature_metric, probes_from_labels
from hierax.formula import parse_formula
from hierax.model import specify


def test_curvature_metric_is_the_inverse_diagonal_precision_of_a_gaussian():
    # log p = -x' P x / 2 with P block diagonal: coordinates 0-2 do not interact with each other,
    # 3 and 4 interact; probing {0, 1, 2} together and 3, 4 alone recovers 1 / P_jj exactly
    precision = np.diag([4.0, 0.25, 100.0, 2.0, 3.0])
    precision[3, 4] = precision[4, 3] = 1.0
    starts = np.random.default_rng(0).normal(size=(3, 5))
    probes = probes_from_labels(np.array([0, 0, 0, 1, 2]))
    imm = curvature_metric(lambda x: -x @ precision, starts, probes)
    np.testing.assert_allclose(imm, np.tile(1.0 / np.diag(precision), (3, 1)), rtol=1e-6)


def test_curvature_metric_falls_back_to_the_unit_metric():
    # a convex direction (curvature negative), a coordinate in no group, and a flat direction
    starts = np.zeros((2, 3))
    imm = curvature_metric(lambda x: np.stack([x[:, 0], -1e-9 * x[:, 1], 0 * x[:, 2]], axis=1), starts,
                           probes_from_labels(np.array([0, 1, -1])))
    np.testing.assert_allclose(imm[:, 0], 1.0)
    np.testing.assert_allclose(imm[:, 1], LARGEST)
    np.testing.assert_allclose(imm[:, 2], 1.0)


def test_curvature_metric_falls_back_per_coordinate_where_given():
    starts = np.zeros((2, 3))
    imm = curvature_metric(lambda x: np.stack([x[:, 0], x[:, 1], -4.0 * x[:, 2]], axis=1), starts,
                           probes_from_labels(np.array([0, 1, 2])), fallback=np.array([0.5, 1e-3, 7.0]))
    np.testing.assert_allclose(imm, np.tile([0.5, 1e-3, 0.25], (2, 1)))      # the concave one by its curvature


def test_curvature_fallback_is_one_over_twice_the_levels_for_log_sds_and_one_elsewhere():
    rng = np.random.default_rng(1)
    data = pd.DataFrame({"x": rng.normal(size=60), "site": rng.integers(0, 5, 60).astype(str),
                         "plot": np.arange(60).astype(str)})
    data["y"] = rng.poisson(2.0, 60)
    spec = specify(build_design(parse_formula("y ~ x + (1 + x | site) + (1 | plot)"), data), "poisson")
    start = jax.tree_util.tree_map(lambda x: np.asarray(x[0]), initial_positions(jax.random.PRNGKey(0), spec, 1))
    fallback = ravel_pytree(start)[1](curvature_fallback(spec))
    np.testing.assert_allclose(fallback["log_sd"]["site"], [0.1, 0.1])
    np.testing.assert_allclose(fallback["log_sd"]["plot"], [1.0 / 120])
    others = jax.tree_util.tree_leaves({k: v for k, v in fallback.items() if k != "log_sd"})
    assert others and all(np.all(np.asarray(x) == 1.0) for x in others)


def test_coordinates_sharing_a_label_never_interact_in_a_glmm():
    rng = np.random.default_rng(3)
    n = 80
    data = pd.DataFrame({"x": rng.normal(size=n), "site": rng.integers(0, 5, n).astype(str),
                         "plot": rng.integers(0, 12, n).astype(str)})
    data["y"] = rng.poisson(np.exp(0.5 + 0.3 * data["x"]))
    spec = specify(build_design(parse_formula("y ~ x + (1 + x | site) + (1 | plot)"), data), "poisson")
    structure, arrays = structure_of(spec), model_arrays(spec)
    centring = default_centering(spec)
    centring["plot"][::2] = 1.0                     # some levels centred, as warmup's retune makes them
    aux = {"centring": centring, "data": arrays, "priors": hyper_priors(spec)}
    start = jax.tree_util.tree_map(lambda x: jnp.asarray(x[0]), initial_positions(jax.random.PRNGKey(0), spec, 1))
    flat, unravel = ravel_pytree(start)
    flat = flat + 0.3 * rng.normal(size=flat.shape)
    hessian = np.asarray(jax.hessian(lambda x: full_logdensity(structure)(unravel(x), aux))(flat))
    labels = coordinate_groups(spec)
    assert labels.shape == flat.shape
    same = (labels[:, None] == labels[None, :]) & ~np.eye(len(labels), dtype=bool)
    assert same.sum() > 0
    np.testing.assert_array_equal(hessian[same], 0.0)
    # and the probes recover the Hessian's diagonal
    gradient = jax.vmap(jax.grad(lambda x: full_logdensity(structure)(unravel(x), aux)))
    imm = curvature_metric(lambda x: np.asarray(gradient(jnp.asarray(x))), flat[None], probes_from_labels(labels))
    curvature = -np.diag(hessian)
    positive = curvature > 0
    np.testing.assert_allclose(imm[0][positive], 1.0 / curvature[positive], rtol=1e-4)
