"""The model side of a NUTS fit (``hierax.density.target``): which density a model gets, its
runtime data, its starts, and draws turned into parameters, without the NUTS engine."""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd
import pytest

from hierax.density.target import CollapsedTarget, FullTarget, choose_target
from hierax.engines.keys import split_keys
from hierax.errors import HieraxError
from hierax.model.build import build_model
from hierax.model.layout import PARAMS

RNG = np.random.default_rng(7)
DATA = pd.DataFrame({"y": RNG.normal(size=40), "x": RNG.normal(size=40), "count": RNG.poisson(3.0, size=40),
                     "g": np.repeat(list("abcde"), 8)})


def spec_of(formula, family="gaussian"):
    return build_model(formula, DATA, family)[1]


def test_gaussian_models_collapse_by_default_and_others_sample_every_effect():
    assert isinstance(choose_target(spec_of("y ~ x + (1 | g)")), CollapsedTarget)
    assert isinstance(choose_target(spec_of("y ~ x + (1 | g)"), collapse=False), FullTarget)
    assert isinstance(choose_target(spec_of("count ~ x + (1 | g)", "poisson")), FullTarget)
    assert isinstance(choose_target(spec_of("y ~ x + (1 | g); sigma ~ x")), FullTarget)


def test_collapse_is_refused_where_it_cannot_apply_and_checked():
    with pytest.raises(HieraxError, match="collapse=True is not possible"):
        choose_target(spec_of("count ~ x + (1 | g)", "poisson"), collapse=True)
    with pytest.raises(HieraxError, match="collapse must be"):
        choose_target(spec_of("y ~ x + (1 | g)"), collapse="yes")


@pytest.mark.parametrize("collapse", [None, False])
def test_draws_become_parameters_with_every_level_whatever_the_batch(collapse):
    """Five levels (padded to eight in the collapsed statistics: the padding is cut off); a batch
    larger than the draws, as after an interrupted run, is padded and cut back."""
    target = choose_target(spec_of("y ~ x + (1 + x | g)"), collapse)
    chains, draws = 2, 3
    starts = target.initial(np.array([0, 1], np.uint32), chains)
    aux = target.runtime()
    assert target.logdensity(jax.tree_util.tree_map(lambda x: x[0], starts), aux).shape == ()
    positions = jax.tree_util.tree_map(lambda x: np.repeat(np.asarray(x)[:, None], draws, axis=1), starts)
    keys = split_keys(np.array([0, 2], np.uint32), chains * draws)
    params = target.params(positions, aux, keys, batch=8)
    assert params[PARAMS.effects]["g"].shape == (chains, draws, 5, 2)
    assert params[PARAMS.fixed].shape == (chains, draws, 2)
    again = target.params(positions, aux, keys)            # the default batch gives the same draws
    np.testing.assert_array_equal(again[PARAMS.effects]["g"], params[PARAMS.effects]["g"])


def test_a_parameter_with_very_many_draws_is_kept_in_float32(monkeypatch):
    """Beyond ``KEPT_IN_FLOAT64_UP_TO`` values (here lowered to 20), a parameter's draws are kept
    in float32: the same draws, rounded once; smaller parameters stay float64."""
    from hierax.density import target as module

    target = choose_target(spec_of("y ~ x + (1 + x | g)"))
    starts = target.initial(np.array([0, 1], np.uint32), 2)
    positions = jax.tree_util.tree_map(lambda x: np.repeat(np.asarray(x)[:, None], 3, axis=1), starts)
    keys, aux = split_keys(np.array([0, 2], np.uint32), 6), target.runtime()
    full = target.params(positions, aux, keys)
    monkeypatch.setattr(module, "KEPT_IN_FLOAT64_UP_TO", 20)         # 6 draws x 5 levels x 2 effects = 60
    kept = target.params(positions, aux, keys)
    assert kept[PARAMS.effects]["g"].dtype == np.float32 and kept[PARAMS.fixed].dtype == np.float64
    np.testing.assert_array_equal(kept[PARAMS.effects]["g"], full[PARAMS.effects]["g"].astype(np.float32))


def test_runtime_data_replace_the_response_without_a_new_target():
    target = choose_target(spec_of("count ~ x + (1 | g)", "poisson"))
    start = jax.tree_util.tree_map(lambda x: x[0], target.initial(np.array([0, 1], np.uint32), 1))
    other = target.runtime({"y": np.zeros(40)})
    assert float(target.logdensity(start, other)) != float(target.logdensity(start, target.runtime()))


def test_work_spread_on_the_last_devices_gives_the_same_numbers(monkeypatch):
    """The embedded Laplace's check runs on the last devices, beside the effects' draws on the
    first ones (``_spread(..., last=True)``), where there are devices to spare: the same outputs
    as on the first devices."""
    from hierax.density import target

    firsts = []

    def recorded(fn, broadcast, devices, compiler_options=None, first=0):
        firsts.append((devices, first))
        return parallel(fn, broadcast, devices, compiler_options, first)

    parallel = target.parallel
    monkeypatch.setattr(target, "parallel", recorded)

    def double(x, shared):
        return jax.lax.map(lambda v: 2.0 * v + shared, x)

    x = np.arange(8.0).reshape(4, 2)
    first = target._spread(double, 4, (False, True))(x, np.float64(1.0))
    last = target._spread(double, 4, (False, True), last=True)(x, np.float64(1.0))
    np.testing.assert_array_equal(first, 2.0 * x + 1.0)
    np.testing.assert_array_equal(last, first)
    (devices, at_first), (_, at_last) = firsts
    spare = jax.local_device_count() - devices
    assert at_first == 0 and at_last == (spare if spare >= devices else 0)


def test_background_work_hands_back_its_value_or_its_error():
    from hierax.density.target import _Background

    assert _Background(lambda a, b: a + b, 2, 3).result() == 5
    with pytest.raises(ZeroDivisionError):
        _Background(lambda: 1 / 0).result()
