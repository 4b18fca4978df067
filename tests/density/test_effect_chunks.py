"""A collapsed model's effects drawn chunk by chunk of levels (hierax.density.effect_chunks).

A chunk's noise comes from each draw's key folded with the chunk's number: the draws of a chunk
depend on nothing else, and chunks are independent draws of the effects' exact conditional."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from hierax.density import effect_chunks as ec
from hierax.density.collapsed import GroupStats, collapsed_structure
from hierax.density.logdensity import constrain_hyper
from hierax.density.target import CollapsedTarget
from hierax.model.build import build_model

import pandas as pd


def model(levels: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(levels), 6)
    x = rng.normal(size=len(g))
    y = 1.0 + 0.5 * x + rng.normal(size=levels)[g] + rng.normal(size=len(g))
    frame = pd.DataFrame({"y": y, "x": x, "g": [f"l{k:03d}" for k in g]})
    return build_model("y ~ x + (1 + x | g)", frame, "gaussian", None, None, None)[1]


def chunks_of(spec, draws: int, seed: int = 1):
    """Every draw at one hyperparameter position (the prior's start), with its own key."""
    target = CollapsedTarget(spec)
    aux = target.runtime()
    start = jax.tree_util.tree_map(lambda x: np.repeat(np.asarray(x)[:1], draws, axis=0),
                                   target.initial(jax.random.PRNGKey(0), 1))
    keys = np.asarray(jax.random.split(jax.random.PRNGKey(seed), draws))
    block = spec.blocks[0]
    return ec.effect_chunks(collapsed_structure(spec), start, keys, aux["stats"], block.num_levels, 64, np.float64)


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(ec, "LEVELS_PER_CHUNK", 8)


def test_levels_split_into_chunks_of_the_width(small_chunks):
    chunks = chunks_of(model(40), 4)
    assert chunks.width == 8 and chunks.bounds == [(0, 8), (8, 16), (16, 24), (24, 32), (32, 40)]
    assert ec.draw_all(chunks).shape == (4, 40, 2)


def test_a_model_of_one_chunk_draws_as_one_call():
    """Up to LEVELS_PER_CHUNK padded levels: one chunk of the padded width, the key unfolded."""
    chunks = chunks_of(model(40), 4)
    assert chunks.bounds == [(0, 40)] and chunks.width == 40
    np.testing.assert_array_equal(ec.chunk_keys(chunks.keys, 0), chunks.keys)


@pytest.mark.parametrize("width", [8, 16_384])
def test_the_draws_are_written_in_place_never_held_twice(monkeypatch, width):
    """draw_all's array is the only one of its size: the chunks are drawn into it (at large_1m's
    size a copy of one chunk's draws into it was 640 MB, a third of the fit's peak memory)."""
    import tracemalloc

    monkeypatch.setattr(ec, "LEVELS_PER_CHUNK", width)
    chunks = chunks_of(model(400), 200)
    ec.draw_all(chunks)                       # compiled outside the measurement
    size = 200 * 400 * 2 * 8
    tracemalloc.start()
    try:
        b = ec.draw_all(chunks)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert b.nbytes == size and peak < 1.5 * size, (peak, size)


def test_a_chunk_depends_on_nothing_but_itself(small_chunks):
    chunks = chunks_of(model(40), 6)
    whole = ec.draw_all(chunks)
    for k, (first, last) in reversed(list(enumerate(chunks.bounds))):
        np.testing.assert_array_equal(ec.draw_chunk(chunks, k), whole[:, first:last])
    fewer = chunks._replace(batch=5)           # another batching of the draws: the same values
    np.testing.assert_allclose(ec.draw_all(fewer), whole, rtol=1e-13, atol=1e-13)


def test_chunks_draw_the_exact_conditional_independently(small_chunks):
    """At a fixed position every level's draws have the conditional mean and sd, and the noise of
    different chunks is uncorrelated (a key reused across chunks would correlate levels with the
    same statistics perfectly)."""
    spec = model(24, seed=3)
    empty = GroupStats(*(np.zeros_like(np.asarray(x)) for x in chunks_of(spec, 1).stats))
    chunks = chunks_of(spec, 4000)._replace(stats=empty)         # no rows: the prior, b ~ N(0, L L')
    b = ec.draw_all(chunks)
    params, _ = constrain_hyper(jax.tree_util.tree_map(lambda x: x[0], chunks.positions),
                                chunks.structure.scalars, chunks.structure.layout)
    L = np.asarray(params["sd"]["g"])[:, None] * np.asarray(params["cor_chol"]["g"])
    cov = L @ L.T
    mc = np.sqrt(np.diag(cov) / len(b))
    assert np.all(np.abs(b.mean(axis=0)) < 4 * mc)
    np.testing.assert_allclose(b.var(axis=0, ddof=1), np.broadcast_to(np.diag(cov), (24, 2)), rtol=0.12)
    first = b[:, :, 0]
    corr = np.corrcoef(first.T)[np.triu_indices(24, 1)]
    assert np.max(np.abs(corr)) < 4 / np.sqrt(len(b))      # no level's noise repeats another's


def test_fit_draws_do_not_depend_on_the_chunk_width_but_for_their_noise(small_chunks):
    """The same seed draws the same hyperparameters whatever the width; only the effects differ."""
    import hierax as hx

    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(30), 5)
    frame = pd.DataFrame({"y": rng.normal(size=150) + rng.normal(size=30)[g], "g": g.astype(str)})
    chunked = hx.fit("y ~ 1 + (1 | g)", frame, chains=1, warmup=60, draws=40, seed=3)
    ec.LEVELS_PER_CHUNK = 16_384
    whole = hx.fit("y ~ 1 + (1 | g)", frame, chains=1, warmup=60, draws=40, seed=3)
    post, other = chunked.idata.posterior, whole.idata.posterior
    np.testing.assert_array_equal(post["sd_g"].values, other["sd_g"].values)
    assert post["b_g"].shape == other["b_g"].shape
    assert not np.array_equal(post["b_g"].values[..., 8:, :], other["b_g"].values[..., 8:, :])
