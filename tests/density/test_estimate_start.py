"""Starts at the Laplace engine's estimates (``hierax.density.estimate_start``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hierax.config import MANY_LEVELS
from hierax.density.estimate_start import SPREAD, at_estimates, correlation_raw, laplace_estimates
from hierax.density.init import initial_positions
from hierax.density.transforms import corr_cholesky, corr_from_cholesky
from hierax.model.build import build_model
from hierax.model.layout import POSITION


def _bernoulli(levels: int, per_level: int, seed: int = 3) -> pd.DataFrame:
    """y ~ x + (1 + x | g) with sds 1 and 0.5 and correlation 0.3."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(levels), per_level)
    x = rng.normal(size=g.size)
    cov = np.array([[1.0, 0.15], [0.15, 0.25]])
    b = rng.multivariate_normal(np.zeros(2), cov, size=levels)
    eta = -0.5 + b[g, 0] + (1.0 + b[g, 1]) * x
    return pd.DataFrame({"y": rng.binomial(1, 1 / (1 + np.exp(-eta))), "x": x, "g": np.char.add("g", g.astype(str))})


@pytest.mark.parametrize("corr", [
    np.array([[1.0, 0.3], [0.3, 1.0]]),
    np.array([[1.0, -0.5, 0.2], [-0.5, 1.0, 0.4], [0.2, 0.4, 1.0]]),
])
def test_correlation_raw_is_the_inverse_of_the_samplers_transform(corr):
    sd = np.array([2.0, 0.5, 1.5])[:len(corr)]
    raw = correlation_raw(corr * np.outer(sd, sd), sd)
    L, _ = corr_cholesky(raw, len(sd))
    np.testing.assert_allclose(np.asarray(corr_from_cholesky(L)), corr, atol=1e-12)


def test_correlation_raw_of_a_singular_covariance_starts_inside_the_support():
    # an sd at zero (lme4's singular fit) and a correlation of 1: finite raw values
    raw = correlation_raw(np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([1.0, 0.0]))
    assert np.all(np.isfinite(raw))
    raw = correlation_raw(np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([1.0, 1.0]))
    assert np.all(np.abs(np.tanh(raw)) < 1)


def test_chains_start_near_the_laplace_estimates_and_apart():
    levels = MANY_LEVELS
    spec = build_model("y ~ x + (1 + x | g)", _bernoulli(levels, 6), "bernoulli")[1]
    output = laplace_estimates(spec)
    assert output is not None
    crude = initial_positions(np.array([0, 1], np.uint32), spec, 4)
    moved = at_estimates(crude, spec, output, np.random.default_rng(0))
    factor = output.factors[0]
    sd = np.sqrt(np.diag(factor @ factor.T))
    log_sd = moved[POSITION.log_sd]["g"]
    width = SPREAD / np.sqrt(2 * levels)
    assert np.all(np.abs(log_sd - np.log(sd)) <= width)
    assert np.ptp(log_sd[:, 0]) > width / 2                  # the chains still start apart
    cor = np.asarray(corr_from_cholesky(corr_cholesky(moved[POSITION.cor_raw]["g"][0], 2)[0]))[0, 1]
    assert abs(cor - (factor @ factor.T)[0, 1] / np.prod(sd)) < 0.1
    np.testing.assert_array_equal(moved[POSITION.effects]["g"], crude[POSITION.effects]["g"])


def test_a_model_the_engine_cannot_fit_keeps_the_crude_start():
    # every response 1: the engine refuses (complete separation), so no estimates
    data = _bernoulli(50, 2).assign(y=1)
    spec = build_model("y ~ x + (1 | g)", data, "bernoulli")[1]
    assert laplace_estimates(spec) is None
