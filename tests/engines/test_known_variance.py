"""REML and ML with known row sds (``hierax.engines.known_variance``) against the marginal
likelihood written out densely: y ~ N(X beta, V), V = diag(se^2 + sigma^2) + sum_k Z_k G_k Z_k'.

    -2 log L   = log|V| + r' V^-1 r + n log(2 pi),          r = y - X beta_hat (GLS)
    -2 log L_R = -2 log L (at beta_hat) + log|X' V^-1 X| - p log(2 pi)

(lme4's REML criterion, without metafor's +1/2 log|X'X|), with beta_hat and its covariance
(X' V^-1 X)^-1 from generalised least squares.
"""

from __future__ import annotations

import numpy as np
import pytest

from hierax.design.block import Block
from hierax.engines.known_variance import fit_known_variance


def _data(seed=4):
    rng = np.random.default_rng(seed)
    n = 60
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x])
    study = np.repeat(np.arange(12), 5)
    region = rng.integers(0, 4, n)
    region[:4] = np.arange(4)
    se = rng.uniform(0.2, 0.8, n)
    y = 0.3 - 0.5 * x + rng.normal(0, 0.4, 12)[study] + rng.normal(0, 0.3, 4)[region] \
        + rng.normal(0, 0.25, n) + se * rng.normal(size=n)
    blocks = [Block.from_index(X, study, 12, True), Block.from_index(np.ones((n, 1)), region, 4, False)]
    return X, y, se, blocks


def _dense(out, X, y, se, blocks, reml, sigma=0.0):
    """(-2 log L or the REML criterion, GLS beta, its covariance) at the output's variances."""
    V = np.diag(se ** 2 + sigma ** 2)
    for block, T in zip(blocks, out.factors):
        Z = np.zeros((len(y), block.num_levels * block.num_terms))
        for j in range(block.num_terms):
            Z[np.arange(len(y)), block.group_index * block.num_terms + j] = block.Z[:, j]
        V += Z @ np.kron(np.eye(block.num_levels), T @ T.T) @ Z.T
    Vi = np.linalg.inv(V)
    cov = np.linalg.inv(X.T @ Vi @ X)
    beta = cov @ X.T @ Vi @ y
    r = y - X @ beta
    value = np.linalg.slogdet(V)[1] + r @ Vi @ r + len(y) * np.log(2 * np.pi)
    if reml:
        value += np.linalg.slogdet(X.T @ Vi @ X)[1] - X.shape[1] * np.log(2 * np.pi)
    return value, beta, cov


@pytest.mark.parametrize("residual_sd", [False, True], ids=["se", "se+sigma"])
@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
def test_criterion_and_estimates_match_the_dense_marginal(reml, residual_sd):
    X, y, se, blocks = _data()
    out = fit_known_variance(X, y, se, blocks, reml=reml, residual_sd=residual_sd)
    assert out.optimisation.converged
    sigma = float(np.exp(out.phi[0])) if residual_sd else 0.0
    value, beta, cov = _dense(out, X, y, se, blocks, reml, sigma)
    assert out.objective == pytest.approx(value, rel=1e-10)
    np.testing.assert_allclose(out.beta, beta, rtol=1e-8)
    np.testing.assert_allclose(out.vcov_beta, cov, rtol=1e-8)
    assert len(out.theta) == 4 and len(out.factors) == 2 and out.random_effects[0].shape == (12, 2)


@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
def test_the_estimates_minimise_the_dense_criterion(reml):
    """Moving any variance parameter (each sd, the correlation's factor entry, sigma) by 2% either
    way raises the dense criterion: the optimiser stopped at its minimum."""
    X, y, se, blocks = _data(seed=7)
    out = fit_known_variance(X, y, se, blocks, reml=reml, residual_sd=True)
    sigma = float(np.exp(out.phi[0]))
    best = _dense(out, X, y, se, blocks, reml, sigma)[0]
    for t in range(len(out.theta)):
        for factor in (0.98, 1.02):
            factors = [T.copy() for T in out.factors]
            k, i, j = out.theta_entries[t]
            factors[k][i, j] *= factor
            moved = out._replace(factors=factors)
            assert _dense(moved, X, y, se, blocks, reml, sigma)[0] >= best - 1e-9
    for factor in (0.98, 1.02):
        assert _dense(out, X, y, se, blocks, reml, sigma * factor)[0] >= best - 1e-9


def test_common_effect_is_weighted_least_squares():
    X, y, se, _ = _data()
    for reml in (True, False):
        out = fit_known_variance(X, y, se, [], reml=reml)
        value, beta, cov = _dense(out, X, y, se, [], reml)
        assert out.objective == pytest.approx(value, rel=1e-12)
        np.testing.assert_allclose(out.beta, beta, rtol=1e-10)
        np.testing.assert_allclose(out.vcov_beta, cov, rtol=1e-10)


def test_sigma_standard_error_is_the_observed_information():
    """One row per study, no other group term (metafor's random-effects model): the variance
    of tau^2 from the observed REML information, -d^2 l_R / d(tau^2)^2 =
    -1/2 tr(P P) + r' W P W r (W = V^-1, P = W - W X (X'WX)^-1 X'W), is (2 tau se(log tau) tau)^2."""
    X, y, se, _ = _data()
    out = fit_known_variance(X, y, se, [], reml=True, residual_sd=True)
    tau = float(np.exp(out.phi[0]))
    W = np.diag(1.0 / (se ** 2 + tau ** 2))
    P = W - W @ X @ np.linalg.inv(X.T @ W @ X) @ X.T @ W
    r = y - X @ out.beta
    information = -0.5 * np.trace(P @ P) + r @ W @ P @ W @ r
    se_tau2 = 2.0 * tau * tau * np.sqrt(out.vcov_phi[0, 0])
    assert se_tau2 == pytest.approx(1.0 / np.sqrt(information), rel=1e-5)
