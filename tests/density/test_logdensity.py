"""The log density against a direct computation with scipy, for each family and parameterisation."""

import jax
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import hierax as hx
from hierax.density import initial_position, make_constrain, make_logdensity
from hierax.design import build_design
from hierax.formula import parse_formula
from hierax.model import specify

RNG = np.random.default_rng(3)
DATA = pd.DataFrame({
    "x": RNG.normal(size=20),
    "g": np.repeat(list("abcde"), 4),
    "n": np.full(20, 6.0),
})
DATA["y"] = RNG.normal(size=20)
DATA["count"] = RNG.poisson(3, size=20).astype(float)
DATA["s"] = RNG.binomial(6, 0.4, size=20).astype(float)
DATA["b01"] = (DATA["s"] > 2).astype(float)

PRIORS = {"Intercept": hx.Normal(0, 2), "b": hx.Normal(0, 1), "sd": hx.HalfNormal(1), "cor": hx.LKJ(1.5)}


def expected_logdensity(spec, position, loglik, centring):
    """log p(y | params) + log priors + log Jacobian, written out with scipy, level by level."""
    params, _ = make_constrain(spec)(position, centring)
    beta = np.asarray(params["beta"])
    sd = np.asarray(params["sd"]["g"])
    L = np.asarray(params["cor_chol"]["g"])
    b = np.asarray(params["b"]["g"])
    block = spec.blocks[0]
    eta = spec.X @ beta + np.sum(block.Z * b[block.group_index], axis=1)
    total = loglik(eta, params)
    total += stats.norm(0, 2).logpdf(beta[0]) + stats.norm(0, 1).logpdf(beta[1:]).sum()
    total += stats.halfnorm(scale=1).logpdf(sd).sum() + np.sum(np.log(sd))  # prior + exp Jacobian
    total += (2 * 1.5 - 2) * np.log(L[1, 1])                                 # LKJ(1.5), K = 2
    raw = np.asarray(position["cor_raw"]["g"])
    total += np.sum(np.log1p(-np.tanh(raw) ** 2))                          # tanh Jacobian
    v = np.asarray(position["z"]["g"])
    cov = np.diag(sd) @ L @ L.T @ np.diag(sd)
    for level, w in enumerate(centring["g"]):
        # coordinates v: b = diag(sd^(1-w)) (A v - w * m), A = diag(1-w) L + diag(w), m = the fixed
        # coefficients (both effects of g have one); density of v = that of b times |det diag(sd^(1-w)) A|
        A = np.diag(1 - w) @ L + np.diag(w)
        expected_b = np.diag(sd ** (1 - w)) @ (A @ v[level] - w * beta)
        np.testing.assert_allclose(b[level], expected_b, rtol=1e-12, atol=1e-12)
        total += stats.multivariate_normal(np.zeros(2), cov).logpdf(expected_b)
        total += np.sum((1 - w) * np.log(sd)) + np.log(np.abs(np.linalg.det(A)))
    if spec.has_sigma:
        sigma = float(params["sigma"])
        total += stats.expon(scale=1 / spec.dpar_priors["sigma"].rate).logpdf(sigma) + np.log(sigma)
    return total


CASES = [
    ("y ~ x + (1 + x | g)", "gaussian", lambda y, eta, p, d: stats.norm(eta, float(p["sigma"])).logpdf(y).sum()),
    ("count ~ x + (1 + x | g)", "poisson", lambda y, eta, p, d: stats.poisson(np.exp(eta)).logpmf(y).sum()),
    ("s | trials(n) ~ x + (1 + x | g)", "binomial",
     lambda y, eta, p, d: stats.binom(d["n"], 1 / (1 + np.exp(-eta))).logpmf(y).sum()),
    ("b01 ~ x + (1 + x | g)", "bernoulli", lambda y, eta, p, d: stats.bernoulli(1 / (1 + np.exp(-eta))).logpmf(y).sum()),
]


WEIGHTS = {
    "noncentered": np.zeros((5, 2)),
    "centered": np.ones((5, 2)),
    "mixed": np.array([[1, 1], [0, 0], [0.3, 0.7], [1, 0], [0.5, 0.5]]),   # what "auto" can produce
}


def test_full_weight_makes_the_whole_effect_the_coordinate():
    """w = 1 (Gelfand's centring): v is the level's whole effect, fixed coefficient included."""
    spec = specify(build_design(parse_formula("y ~ x + (1 + x | g)"), DATA), priors=PRIORS)
    position = initial_position(jax.random.PRNGKey(1), spec)
    params, _ = make_constrain(spec)(position, {"g": WEIGHTS["centered"]})
    whole = np.asarray(params["b"]["g"]) + np.asarray(params["beta"])
    np.testing.assert_allclose(whole, np.asarray(position["z"]["g"]), rtol=1e-12)


def test_nested_levels_are_centred_on_their_parents():
    data = DATA.assign(sub=[f"{g}{i % 2}" for i, g in enumerate(DATA["g"])])
    priors = {key: PRIORS[key] for key in ("Intercept", "sd")}      # no slopes, no correlations
    spec = specify(build_design(parse_formula("y ~ 1 + (1 | g/sub)"), data), priors=priors)
    names = {b.group: b.name for b in spec.blocks}
    position = initial_position(jax.random.PRNGKey(1), spec)
    weights = {b.name: np.ones((b.num_levels, 1)) for b in spec.blocks}
    params, _ = make_constrain(spec)(position, weights)
    fine = next(b for b in spec.blocks if b.group == "g:sub")
    parent_of = np.asarray([levels.split(":")[0] for levels in fine.levels])
    coarse = next(b for b in spec.blocks if b.group == "g")
    b_coarse = dict(zip(coarse.levels, np.asarray(params["b"][names["g"]])[:, 0]))
    whole = (np.asarray(params["b"][names["g:sub"]])[:, 0] + float(params["beta"][0])
             + np.asarray([b_coarse[p] for p in parent_of]))
    np.testing.assert_allclose(whole, np.asarray(position["z"][names["g:sub"]])[:, 0], rtol=1e-12)


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("formula, family, loglik", CASES)
def test_logdensity_matches_direct_computation(formula, family, loglik, weights):
    spec = specify(build_design(parse_formula(formula), DATA), family, priors=PRIORS)
    position = initial_position(jax.random.PRNGKey(1), spec)
    position["cor_raw"]["g"] = position["cor_raw"]["g"] + 0.4
    position["z"]["g"] = position["z"]["g"] + jax.random.normal(jax.random.PRNGKey(2), (5, 2))
    centring = {"g": WEIGHTS[weights]}
    got = float(make_logdensity(spec)(position, centring))
    want = expected_logdensity(spec, position, lambda eta, p: loglik(spec.y, eta, p, DATA), centring)
    np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.parametrize("choice, weight", [("centered", 1.0), ("noncentered", 0.0), ("auto", 0.0)])
def test_default_weights_follow_the_requested_parameterisation(choice, weight):
    spec = specify(build_design(parse_formula("y ~ x + (1 + x | g)"), DATA), priors=PRIORS, parameterisation=choice)
    position = initial_position(jax.random.PRNGKey(1), spec)
    expected = make_logdensity(spec)(position, {"g": np.full((5, 2), weight)})
    np.testing.assert_allclose(float(make_logdensity(spec)(position)), float(expected), rtol=1e-12)



def test_the_log_likelihood_constant_follows_a_new_response():
    """model_arrays computes the data-only constant (-log y!) once; a new response (a simulated
    data set, a refit) must not keep the old one."""
    from hierax.density.logdensity import make_pointwise_loglik, model_arrays

    rng = np.random.default_rng(3)
    data = pd.DataFrame({"y": rng.poisson(4.0, 40), "x": rng.normal(size=40), "g": np.repeat(list("abcdefgh"), 5)})
    spec = specify(build_design(parse_formula("y ~ x + (1 | g)"), data), "poisson")
    assert "log_constant" in model_arrays(spec)
    b = rng.normal(0, 0.5, (8, 1))
    params = {"beta": np.array([1.0, 0.2]), "sd": {"g": np.array([0.5])}, "cor_chol": {"g": np.eye(1)}, "b": {"g": b}}
    rate = np.exp(spec.X @ params["beta"] + b[spec.blocks[0].group_index, 0])
    new_y = rng.poisson(9.0, 40).astype(float)
    loglik = make_pointwise_loglik(spec)
    np.testing.assert_allclose(loglik(params), stats.poisson.logpmf(spec.y, rate), rtol=1e-10)
    np.testing.assert_allclose(loglik(params, new_y), stats.poisson.logpmf(new_y, rate), rtol=1e-10)


def test_se_with_sigma_adds_the_residual_sd_to_the_known_ones_in_quadrature():
    """``y | se(s, sigma = TRUE)``: row i is N(eta_i, s_i^2 + sigma^2); plain ``se(s)`` fixes the
    sd at s_i and has no sigma to estimate."""
    from hierax.density.logdensity import make_pointwise_loglik

    rng = np.random.default_rng(5)
    data = DATA.assign(s=rng.uniform(0.2, 1.5, 20))
    spec = specify(build_design(parse_formula("y | se(s, sigma = TRUE) ~ x + (1 | g)"), data))
    assert [d.name for d in spec.scalar_dpars] == ["sigma"]
    b = rng.normal(0, 0.5, (5, 1))
    params = {"beta": np.array([0.3, -0.2]), "sd": {"g": np.array([0.5])}, "cor_chol": {"g": np.eye(1)},
              "b": {"g": b}, "sigma": np.array(0.7)}
    mean = spec.X @ params["beta"] + b[spec.blocks[0].group_index, 0]
    np.testing.assert_allclose(make_pointwise_loglik(spec)(params),
                               stats.norm.logpdf(spec.y, mean, np.sqrt(data["s"] ** 2 + 0.7 ** 2)), rtol=1e-12)
    plain = specify(build_design(parse_formula("y | se(s) ~ x + (1 | g)"), data))
    assert plain.scalar_dpars == ()
    np.testing.assert_allclose(make_pointwise_loglik(plain)({k: v for k, v in params.items() if k != "sigma"}),
                               stats.norm.logpdf(spec.y, mean, data["s"]), rtol=1e-12)


def test_one_product_gives_the_rows_and_every_blocks_level_means():
    """fixed_parts: X beta and each block's mean design times beta, from the stacked design,
    for blocks of one and of two effects (a varying slope's level mean is x's coefficient)."""
    from hierax.density.logdensity import fixed_parts, model_arrays, structure_of

    data = DATA.assign(h=np.tile(list("pq"), 10))
    spec = specify(build_design(parse_formula("y ~ x + (1 + x | g) + (1 | h)"), data), priors=PRIORS)
    beta = np.array([0.7, -1.3])
    shapes = {b.name: (b.num_levels, b.num_terms) for b in spec.blocks}
    rows, means = fixed_parts(structure_of(spec), model_arrays(spec), beta, shapes)
    np.testing.assert_allclose(rows, spec.X @ beta, rtol=1e-14)
    for block in spec.blocks:
        np.testing.assert_allclose(means[block.name], block.mean_design @ beta, rtol=1e-14)
        assert means[block.name].shape == (block.num_levels, block.num_terms)
    slopes = next(b for b in spec.blocks if b.num_terms == 2)
    np.testing.assert_allclose(means[slopes.name], np.tile([0.7, -1.3], (slopes.num_levels, 1)))


@pytest.mark.parametrize("weights", [np.zeros((5, 1)), np.ones((5, 1)), np.linspace(0, 1, 5)[:, None]])
def test_a_model_without_fixed_effects_matches_direct_computation(weights):
    """``y ~ 0 + (1 | g)`` (X is n x 0): the level means are zero, so b = sd^(1 - w) v and the
    density is the effects' normal density plus the Jacobian, written out here."""
    spec = specify(build_design(parse_formula("y ~ 0 + (1 | g)"), DATA), priors={"sd": hx.HalfNormal(1)})
    assert spec.X.shape == (20, 0)
    position = initial_position(jax.random.PRNGKey(4), spec)
    position["z"]["g"] = position["z"]["g"] + jax.random.normal(jax.random.PRNGKey(5), (5, 1))
    got = float(make_logdensity(spec)(position, {"g": weights}))
    sd, sigma = float(np.exp(position["log_sd"]["g"][0])), float(np.exp(position["scalars"]["sigma"]))
    b = sd ** (1 - weights[:, 0]) * np.asarray(position["z"]["g"])[:, 0]
    want = stats.norm(b[spec.blocks[0].group_index], sigma).logpdf(spec.y).sum()
    want += stats.norm(0, sd).logpdf(b).sum() + np.sum((1 - weights[:, 0]) * np.log(sd))
    want += stats.halfnorm(scale=1).logpdf(sd) + np.log(sd)
    want += stats.expon(scale=1 / spec.dpar_priors["sigma"].rate).logpdf(sigma) + np.log(sigma)
    np.testing.assert_allclose(got, want, rtol=1e-10)
