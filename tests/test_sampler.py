"""The sampler's choices made before it runs (``hierax.sampler.SpecSampler``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hierax.config import AUTO_TARGET_ACCEPT, COLLAPSED_TARGET_ACCEPT, MANY_LEVELS, nuts_config
from hierax.model.build import build_model
from hierax.sampler import SpecSampler, wants_estimate_start


def _data(levels: int, sites: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(levels), 2)
    return pd.DataFrame({"y": rng.integers(0, 2, g.size), "x": rng.normal(size=g.size),
                         "g": np.char.add("g", g.astype(str)), "site": np.char.add("s", (g % sites).astype(str))})


@pytest.mark.parametrize("formula, levels, relaxed", [
    ("y ~ x + (1 + x | g)", MANY_LEVELS, True),
    ("y ~ x + (1 + x | g)", MANY_LEVELS - 1, False),
    ("y ~ x + (1 | g) + (1 | site)", MANY_LEVELS, False),      # 40 sites: their sd is not pinned down
    ("y ~ x", MANY_LEVELS, False),
])
def test_automatic_target_starts_at_0_8_only_where_every_factor_has_many_levels(formula, levels, relaxed):
    spec = build_model(formula, _data(levels, 40), "bernoulli")[1]
    config = SpecSampler(spec, nuts_config(), collapse=False).config
    assert (config.target_accept, config.escalate) == (COLLAPSED_TARGET_ACCEPT if relaxed else AUTO_TARGET_ACCEPT)
    chosen = SpecSampler(spec, nuts_config(target_accept=0.9), collapse=False).config
    assert (chosen.target_accept, chosen.escalate) == (0.9, ())          # a number given is used as given


@pytest.mark.parametrize("formula, levels, cheap, wanted", [
    ("y ~ x + (1 + x | g)", MANY_LEVELS, False, True),
    ("y ~ x + (1 + x | g)", MANY_LEVELS, True, False),          # compiling, not sampling, is the cost
    ("y ~ x + (1 + x | g)", MANY_LEVELS - 1, False, False),     # the sds' posteriors are wide enough
    ("y ~ x", MANY_LEVELS, False, False),
])
def test_only_large_models_sampled_in_full_start_at_the_estimates(formula, levels, cheap, wanted):
    spec = build_model(formula, _data(levels, 40), "bernoulli")[1]
    assert wants_estimate_start(spec, cheap) is wanted


def test_a_large_model_sampled_in_full_starts_from_the_laplace_fit(monkeypatch):
    import hierax as hx
    import hierax.sampler as sampler

    calls = []
    original = sampler.laplace_estimates

    def counted(spec):
        calls.append(spec)
        return original(spec)

    monkeypatch.setattr(sampler, "laplace_estimates", counted)
    data = _data(MANY_LEVELS, 40)
    fit = hx.fit("y ~ x + (1 | g)", data, family="bernoulli", collapse=False, chains=2, warmup=60, draws=20, seed=3)
    assert len(calls) == 1
    sd = fit.idata.posterior["sd_g"].values
    assert np.all(np.isfinite(sd)) and np.all(sd > 0)
