"""The collapsed gaussian density against the dense multivariate normal, its conditional draws
against the exact conditional, and the collapsed sampler against the full one (issue 5)."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import hierax as hx
from hierax.density.collapsed import (
    backward_solve, collapsed_loglik, draw_effects, forward_solve, group_stats, small_cholesky,
)
from hierax.design import build_design
from hierax.formula import parse_formula
from hierax.model import specify
from hierax.results import _arviz

SHARED = Path(__file__).resolve().parents[3] / "shared"
needs_shared = pytest.mark.skipif(not SHARED.exists(), reason="../shared (reference data) is not beside the checkout")


def sleep_spec():
    data = pd.read_csv(SHARED / "data" / "teaching" / "sleepstudy.csv")
    return specify(build_design(parse_formula("Reaction ~ Days + (Days | Subject)"), data))


def params_at(spec, beta, sd, rho, sigma):
    name = spec.blocks[0].name
    L = np.array([[1.0, 0.0], [rho, np.sqrt(1 - rho**2)]])
    return {"beta": jnp.asarray(beta), "sigma": jnp.asarray(sigma), "sd": {name: jnp.asarray(sd)},
            "cor_chol": {name: jnp.asarray(L)}}


def dense_moments(spec, params, weight):
    """The marginal covariance of the kept rows, and the exact conditional mean and covariance of
    all the effects (levels x q, level-major), from the dense Z: what the collapsed code avoids."""
    block = spec.blocks[0]
    name, q = block.name, block.num_terms
    Z = np.zeros((spec.num_obs, block.num_levels * q))
    for i, (g, z) in enumerate(zip(block.group_index, block.Z)):
        Z[i, q * g:q * g + q] = z
    L = np.asarray(params["sd"][name])[:, None] * np.asarray(params["cor_chol"][name])
    G = np.kron(np.eye(block.num_levels), L @ L.T)
    sigma = float(params["sigma"])
    keep = weight > 0
    Zk, resid = Z[keep], (spec.y - spec.X @ np.asarray(params["beta"]))[keep]
    V = sigma**2 * np.eye(keep.sum()) + Zk @ G @ Zk.T
    C = np.linalg.inv(Zk.T @ Zk / sigma**2 + np.linalg.inv(G))
    return resid, V, C @ Zk.T @ resid / sigma**2, C


@needs_shared
@pytest.mark.parametrize("rho", [0.3, -0.8])
def test_marginal_loglik_equals_dense_normal(rho):
    spec = sleep_spec()
    weight = (np.random.default_rng(1).random(spec.num_obs) > 0.2).astype(float)   # some rows left out
    params = params_at(spec, [250.0, 10.0], [24.0, 6.0], rho, 25.0)
    value = collapsed_loglik(params, jax.tree_util.tree_map(jnp.asarray, group_stats(spec, weight=weight)),
                             spec.blocks[0].name)
    resid, V, _, _ = dense_moments(spec, params, weight)
    expected = stats.multivariate_normal(np.zeros(len(resid)), V).logpdf(resid)
    assert float(value) == pytest.approx(expected, abs=1e-8)


def test_marginal_without_fixed_effects_equals_dense_normal():
    """``y ~ 0 + (1 | g)``: the statistics have no fixed-effect columns (ZtX is q x 0 x levels)."""
    rng = np.random.default_rng(4)
    data = pd.DataFrame({"g": np.repeat(list("abcdef"), 5)})
    data["y"] = 1.0 + np.repeat(rng.normal(size=6), 5) + rng.normal(size=30)
    spec = specify(build_design(parse_formula("y ~ 0 + (1 | g)"), data))
    stats_ = group_stats(spec)
    assert stats_.ZtX.shape == (1, 0, 6) and stats_.XtX.shape == (0, 0)
    params = {"beta": jnp.zeros(0), "sigma": jnp.asarray(0.8), "sd": {"g": jnp.asarray([1.3])},
              "cor_chol": {"g": jnp.eye(1)}}
    value = collapsed_loglik(params, jax.tree_util.tree_map(jnp.asarray, stats_), "g")
    resid, V, _, _ = dense_moments(spec, params, np.ones(spec.num_obs))
    assert float(value) == pytest.approx(stats.multivariate_normal(np.zeros(30), V).logpdf(resid), abs=1e-8)


@needs_shared
def test_conditional_draws_have_the_exact_mean_and_covariance():
    spec = sleep_spec()
    weight = np.ones(spec.num_obs)
    weight[spec.blocks[0].group_index == 0] = 0.0          # a level with no data: drawn from the population
    params = params_at(spec, [250.0, 10.0], [24.0, 6.0], 0.3, 25.0)
    stats_ = jax.tree_util.tree_map(jnp.asarray, group_stats(spec, weight=weight))
    n = 20000
    draws = jax.vmap(lambda k: draw_effects(k, params, stats_, spec.blocks[0].name))(jax.random.split(jax.random.key(0), n))
    draws = np.asarray(draws).reshape(n, -1)
    _, _, mean, C = dense_moments(spec, params, weight)
    sd = np.sqrt(np.diag(C))
    z = (draws.mean(axis=0) - mean) / (sd / np.sqrt(n))    # each N(0, 1) if right
    assert np.abs(z).max() < 4.5
    # variances: the sample variance of n normal draws has relative sd sqrt(2 / n) = 1%
    assert np.abs(draws.var(axis=0) / sd**2 - 1).max() < 5 * np.sqrt(2 / n)
    assert np.corrcoef(draws[:, :2].T)[0, 1] == pytest.approx(C[0, 1] / (sd[0] * sd[1]), abs=0.05)


@pytest.mark.parametrize("q", [1, 2, 3, 7])
def test_small_cholesky_and_solves_match_numpy(q):
    rng = np.random.default_rng(q)
    A = rng.normal(size=(5, q, q))
    M = A @ np.swapaxes(A, 1, 2) + q * np.eye(q)          # five SPD matrices
    c = rng.normal(size=(5, q))
    last = lambda x: jnp.asarray(np.moveaxis(x, 0, -1))   # the levels-last layout of the module
    R = np.moveaxis(np.asarray(small_cholesky(last(M))), -1, 0)
    np.testing.assert_allclose(R, np.linalg.cholesky(M), atol=1e-12)
    np.testing.assert_allclose(np.asarray(forward_solve(last(R), last(c))).T,
                               np.linalg.solve(R, c[..., None])[..., 0], atol=1e-12)
    np.testing.assert_allclose(np.asarray(backward_solve(last(R), last(c))).T,
                               np.linalg.solve(np.swapaxes(R, 1, 2), c[..., None])[..., 0], atol=1e-12)


def agreement_failures(collapsed, full, variables):
    """Each scalar of ``variables`` from both fits: means within 4 combined MCSEs, and sds within
    4 combined standard errors of an sd, sd sqrt(1 / (2 ESS)) relative (for a near-normal
    posterior, with ArviZ's bulk ESS)."""
    failures = []
    for name in variables:
        a, b = collapsed.idata.posterior[name], full.idata.posterior[name]
        a_mean, b_mean = a.mean(("chain", "draw")), b.mean(("chain", "draw"))
        a_sd, b_sd = a.std(("chain", "draw")), b.std(("chain", "draw"))
        a_mcse, b_mcse = _arviz.mcse(a.to_dataset())[name], _arviz.mcse(b.to_dataset())[name]
        a_ess, b_ess = _arviz.ess(a.to_dataset())[name], _arviz.ess(b.to_dataset())[name]
        mean_tol = 4 * np.sqrt(a_mcse**2 + b_mcse**2)
        sd_tol = 4 * np.sqrt(a_sd**2 / (2 * a_ess) + b_sd**2 / (2 * b_ess))
        for bad, what in ((np.abs(a_mean - b_mean) > mean_tol, "mean"), (np.abs(a_sd - b_sd) > sd_tol, "sd")):
            if bool(bad.any()):
                failures.append(f"{name} {what}: collapsed {a_mean.values if what == 'mean' else a_sd.values} "
                                f"vs full {b_mean.values if what == 'mean' else b_sd.values}")
    return failures


def fit_both(formula, data, seed, levels):
    common = dict(chains=4, warmup=500, draws=500, seed=seed)
    collapsed = hx.fit(formula, data, collapse=True, **common)
    full = hx.fit(formula, data, collapse=False, **common)
    assert collapsed.parameterisation[collapsed.spec.blocks[0].name]["choice"] == "collapsed"
    assert full.parameterisation[full.spec.blocks[0].name]["choice"] == "auto"
    block = collapsed.spec.blocks[0].name
    for fit in (collapsed, full):      # a few levels' effects, so the comparison stays quick to read
        fit.idata.posterior["some_b"] = fit.idata.posterior[f"b_{block}"].sel({f"{block}__level": levels})
    return collapsed, full


@pytest.mark.sampling
@needs_shared
def test_collapsed_and_full_samplers_agree_on_sleepstudy():
    data = pd.read_csv(SHARED / "data" / "teaching" / "sleepstudy.csv")
    collapsed, full = fit_both("Reaction ~ Days + (Days | Subject)", data, 3, ["308", "309", "335"])
    failures = agreement_failures(collapsed, full, ["beta", "sd_Subject", "cor_Subject", "sigma", "some_b"])
    assert not failures, "\n".join(failures)


@pytest.mark.sampling
@needs_shared
def test_collapsed_and_full_samplers_agree_on_radon():
    data = pd.read_csv(SHARED / "data" / "radon_mn.csv")
    levels = list(data["county"].value_counts().index[[0, 40, -1]])       # many homes, a few, one
    collapsed, full = fit_both("log_radon ~ floor + (1 | county)", data, 4, levels)
    failures = agreement_failures(collapsed, full, ["beta", "sd_county", "sigma", "some_b"])
    assert not failures, "\n".join(failures)
    assert "log_likelihood" in collapsed.idata
    # the same posterior predicts alike: elpd within a tenth of its standard error (about 3 nats of
    # about 1,040; Monte Carlo noise in elpd from 2,000 draws is well under 1 nat)
    loo_c, loo_f = hx.loo(collapsed), hx.loo(full)
    assert loo_c.elpd == pytest.approx(loo_f.elpd, abs=0.1 * loo_f.se)
