"""weights(w) multiply each row's log-likelihood (brms, glmmTMB): with whole-number weights the
density is the one of the data with each row repeated w times, for the full density, the
collapsed one (one grouping factor and several) and the stored pointwise log-likelihood."""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.density import initial_position, make_logdensity
from hierax.density.init import initial_positions
from hierax.density.collapsed import collapsed_structure, make_collapsed_logdensity, runtime_data
from hierax.model.build import build_model

RNG = np.random.default_rng(8)
N = 30
DATA = pd.DataFrame({"y": RNG.normal(size=N), "x": RNG.normal(size=N), "g": np.repeat(list("abcde"), 6),
                     "h": np.tile(list("pqr"), 10), "count": RNG.poisson(2.0, N), "w": RNG.integers(0, 4, N)})
REPEATED = DATA.loc[DATA.index.repeat(DATA["w"])].reset_index(drop=True)


@pytest.mark.parametrize("formula, family, dpars", [
    ("y ~ x + (1 | g)", "gaussian", {"sigma": hx.HalfNormal(1.0)}),
    ("count ~ x + (1 | g)", "negbinomial", {"shape": hx.Gamma(2.0, 1.0)}),
    ("y ~ x + (1 + x | g)", "student", {"sigma": hx.HalfNormal(1.0), "nu": hx.Gamma(2.0, 0.1)}),
])
def test_full_density_with_weights_is_the_repeated_rows(formula, family, dpars):
    priors = {"Intercept": hx.Normal(0, 2), "b": hx.Normal(0, 2), "sd": hx.HalfNormal(1.0), **dpars}   # both alike
    _, weighted = build_model(formula.replace("~", "| weights(w) ~", 1), DATA, family, priors=priors,
                              parameterisation="noncentered")
    _, repeated = build_model(formula, REPEATED, family, priors=priors, parameterisation="noncentered")
    for seed in (1, 2):
        position = initial_position(jax.random.key(seed), weighted)
        assert float(make_logdensity(weighted)(position)) == pytest.approx(float(make_logdensity(repeated)(position)),
                                                                           rel=1e-10)


def _priors_fixed():
    return {"Intercept": hx.Normal(0, 2), "b": hx.Normal(0, 2), "sd": hx.HalfNormal(1.0), "sigma": hx.HalfNormal(1.0)}


@pytest.mark.parametrize("formula", ["y ~ x + (1 | g)", "y ~ x + (1 | g) + (1 | h)"])
def test_collapsed_density_with_weights_is_the_repeated_rows(formula):
    _, weighted = build_model(formula.replace("~", "| weights(w) ~", 1), DATA, priors=_priors_fixed())
    _, repeated = build_model(formula, REPEATED, priors=_priors_fixed())
    position = jax.tree_util.tree_map(lambda a: a[0], initial_positions(np.zeros(2, np.uint32), weighted, 1,
                                                                        effects=False))
    got = float(make_collapsed_logdensity(collapsed_structure(weighted))(position, runtime_data(weighted)))
    want = float(make_collapsed_logdensity(collapsed_structure(repeated))(position, runtime_data(repeated)))
    assert got == pytest.approx(want, rel=1e-10)


def test_weights_of_zero_leave_rows_out_and_enter_the_stored_loglik():
    fit = hx.fit("count | weights(w) ~ x + (1 | g)", DATA, family="poisson", chains=1, warmup=50, draws=20, seed=1)
    loglik = fit.idata.log_likelihood["count"].values
    assert np.all(loglik[..., DATA["w"].to_numpy() == 0] == 0.0)
    assert fit.spec.weights is not None
