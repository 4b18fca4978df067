"""Per-level choice of centred coordinates: which levels move, and that nothing else changes."""

import jax
import numpy as np
import pandas as pd
import pytest
from jax.flatten_util import ravel_pytree

import hierax as hx
from hierax.density import initial_position, make_constrain
from hierax.density.centering import describe_centering, make_retune
from hierax.density.logdensity import default_centering
from hierax.design import build_design
from hierax.formula import parse_formula
from hierax.model import specify

RNG = np.random.default_rng(5)
DATA = pd.DataFrame({"x": RNG.normal(size=30), "g": np.repeat(list("abcde"), 6), "h": np.tile(list("pqr"), 10)})
DATA["y"] = RNG.normal(size=30)
PRIORS = {"sd": hx.HalfNormal(1), "cor": hx.LKJ(2)}
SD_PRIOR = {"sd": hx.HalfNormal(1)}
CHAINS = 3


def chains_of_positions(spec):
    keys = jax.random.split(jax.random.PRNGKey(0), CHAINS)
    positions = jax.vmap(lambda k: initial_position(k, spec))(keys)
    positions["cor_raw"]["g"] = positions["cor_raw"]["g"] + 0.5
    positions["z"]["g"] = positions["z"]["g"] + jax.random.normal(jax.random.PRNGKey(1), (CHAINS, 5, 2))
    return jax.tree_util.tree_map(np.asarray, positions)


def variances_with(positions, z_variance: dict, log_sd_variance: float = 1e-4):
    """An inverse mass matrix of ones except the given per-block (levels, q) z variances and a
    common variance of every log sd (small: the sds are well determined)."""
    ones = jax.tree_util.tree_map(np.ones_like, positions)
    for name, var in z_variance.items():
        ones["z"][name] = np.broadcast_to(var, ones["z"][name].shape).copy()
    ones["log_sd"] = {name: np.full_like(x, log_sd_variance) for name, x in positions["log_sd"].items()}
    return np.asarray(jax.vmap(lambda t: ravel_pytree(t)[0])(ones))


@pytest.fixture(scope="module")
def spec():
    design = build_design(parse_formula("y ~ x + (1 + x | g) + (1 | h)"), DATA)
    return specify(design, priors=PRIORS, parameterisation={"h": "noncentered"})


def test_levels_with_every_variance_below_one_half_are_centred(spec):
    positions = chains_of_positions(spec)
    var_g = np.array([[0.1, 0.1], [0.1, 0.7], [1.0, 1.2], [0.0, 0.3], [0.6, 0.6]])
    imm = variances_with(positions, {"g": var_g, "h": np.full((3, 1), 0.1)})
    _, _, centring = make_retune(spec)(positions, imm, default_centering(spec))
    np.testing.assert_array_equal(centring["g"], [[1, 1], [0, 0], [0, 0], [1, 1], [0, 0]])
    np.testing.assert_array_equal(centring["h"], 0.0)        # "noncentered" blocks are never touched
    described = describe_centering(spec, centring)["g"]
    assert (described["centered"], described["noncentered"]) == (2, 3)


def test_an_uncertain_sd_keeps_levels_non_centred(spec):
    """kappa = 1/0.3 - 1 = 2.3 at a typical sd, but with sd(log sd) = 0.5 it is 2.3 e^-2 = 0.3 at
    the low end, where a centred level would meet the centred form's funnel."""
    positions = chains_of_positions(spec)
    imm = variances_with(positions, {"g": np.full((5, 2), 0.3)}, log_sd_variance=0.25)
    _, _, centring = make_retune(spec)(positions, imm, default_centering(spec))
    np.testing.assert_array_equal(centring["g"], 0.0)
    imm = variances_with(positions, {"g": np.full((5, 2), 0.3)}, log_sd_variance=1e-4)
    np.testing.assert_array_equal(make_retune(spec)(positions, imm, default_centering(spec))[2]["g"], 1.0)


def test_moving_coordinates_leaves_the_effects_unchanged(spec):
    positions = chains_of_positions(spec)
    var_g = np.array([[0.1, 0.1], [0.1, 0.9], [1.0, 1.2], [0.0, 0.3], [0.5, 0.5]])
    imm = variances_with(positions, {"g": var_g})
    new_positions, _, centring = make_retune(spec)(positions, imm, default_centering(spec))
    constrain = make_constrain(spec)
    for c in range(CHAINS):
        before, _ = constrain(jax.tree_util.tree_map(lambda x: x[c], positions), default_centering(spec))
        after, _ = constrain(jax.tree_util.tree_map(lambda x: x[c], new_positions), centring)
        for name in ("g", "h"):
            np.testing.assert_allclose(after["b"][name], before["b"][name], rtol=1e-10, atol=1e-12)


def test_variances_of_moved_levels_follow_the_coordinate_map():
    design = build_design(parse_formula("y ~ x + (1 | g)"), DATA)
    spec = specify(design, priors=SD_PRIOR)         # no correlations here: a cor prior would match nothing
    positions = chains_of_positions_scalar(spec)
    var_g = np.array([[0.2], [0.9], [0.2], [0.6], [0.2]])
    imm = variances_with(positions, {"g": var_g})
    _, new_imm, centring = make_retune(spec)(positions, imm, default_centering(spec))
    _, unravel = ravel_pytree(jax.tree_util.tree_map(lambda x: x[0], positions))
    for c in range(CHAINS):
        sd = np.exp(positions["log_sd"]["g"][c])
        # centred levels: v_new = sd v_old + m at fixed m (scalar effect), so variances scale by sd^2
        want = np.where(var_g < 0.5, var_g * sd**2, var_g)
        np.testing.assert_allclose(unravel(new_imm[c])["z"]["g"], want, rtol=1e-10)
        np.testing.assert_allclose(unravel(new_imm[c])["beta"], 1.0)
        np.testing.assert_allclose(unravel(new_imm[c])["log_sd"]["g"], 1e-4)


def test_a_later_retune_moves_back_levels_no_longer_well_informed():
    """Centred levels are judged by kappa = sd^2 / Var(b) - 1 at sd = exp(mean log sd): with
    sd(log sd) = 0.5, a level with Var(b) = 0.05 sd^2 (kappa 19, 2.6 at the low end) stays
    centred, those with 0.3 and 0.9 sd^2 (kappa 2.3 and 0.1) move back; non-centred levels that
    are not well informed stay as they are, and the effects do not move."""
    design = build_design(parse_formula("y ~ x + (1 | g)"), DATA)
    spec = specify(design, priors=SD_PRIOR)         # no correlations here: a cor prior would match nothing
    positions = chains_of_positions_scalar(spec)
    retune = make_retune(spec)
    imm = variances_with(positions, {"g": np.array([[0.2], [0.9], [0.2], [0.6], [0.2]])})
    moved, _, centring = retune(positions, imm, default_centering(spec))
    np.testing.assert_array_equal(centring["g"][:, 0], [1, 0, 1, 0, 1])
    sd2 = np.exp(2 * moved["log_sd"]["g"].mean(axis=0))
    var_g = np.array([[0.05 * sd2[0]], [0.9], [0.3 * sd2[0]], [0.6], [0.9 * sd2[0]]])
    back, _, again = retune(moved, variances_with(moved, {"g": var_g}, log_sd_variance=0.25), centring)
    np.testing.assert_array_equal(again["g"][:, 0], [1, 0, 0, 0, 0])
    constrain = make_constrain(spec)
    for c in range(CHAINS):
        before, _ = constrain(jax.tree_util.tree_map(lambda x: x[c], positions), default_centering(spec))
        after, _ = constrain(jax.tree_util.tree_map(lambda x: x[c], back), again)
        np.testing.assert_allclose(after["b"]["g"], before["b"]["g"], rtol=1e-10, atol=1e-12)


def chains_of_positions_scalar(spec):
    keys = jax.random.split(jax.random.PRNGKey(0), CHAINS)
    positions = jax.vmap(lambda k: initial_position(k, spec))(keys)
    return jax.tree_util.tree_map(np.asarray, positions)


def test_no_retune_without_auto_blocks():
    design = build_design(parse_formula("y ~ x + (1 | g)"), DATA)
    assert make_retune(specify(design, parameterisation="noncentered")) is None
    assert make_retune(specify(design, parameterisation="centered")) is None
