"""``fan_out`` (hierax.workflow.refit), under SBC and leave-one-group-out: a task that raises is
recorded and the others kept; every task failing raises; SBC leaves a failed simulation out
with a warning, and leave-one-group-out refuses a total over some folds, keeping the rest."""

from __future__ import annotations

import importlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.errors import HieraxError
from hierax.workflow.refit import fan_out

# the modules, not the functions of the same names that hierax.workflow exports
sbc_module = importlib.import_module("hierax.workflow.sbc")
logo_module = importlib.import_module("hierax.workflow.logo")


def _half(x):
    if x % 3 == 1:
        raise ValueError(f"no {x}")
    return x / 2


@pytest.mark.parametrize("executor", [None, "threads"])
def test_a_failed_task_is_recorded_and_the_others_kept(executor):
    pool = ThreadPoolExecutor(2) if executor else None
    fanned = fan_out(_half, [(x,) for x in range(7)], pool, False, "halves")
    assert fanned.results == [0.0, 1.0, 1.5, 2.5, 3.0]
    assert fanned.done == [0, 2, 3, 5, 6]
    assert fanned.failed == [(1, "ValueError: no 1"), (4, "ValueError: no 4")]


def test_every_task_failing_raises_the_first_error():
    with pytest.raises(HieraxError, match=r"halves: all 2 tasks failed; the first with ValueError: no 1") as caught:
        fan_out(_half, [(1,), (4,)], None, False, "halves")
    assert isinstance(caught.value.__cause__, ValueError)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(6), 4)
    return pd.DataFrame({"y": rng.normal(size=24) + rng.normal(size=6)[g], "g": np.char.add("g", g.astype(str))})


def test_sbc_leaves_a_failed_simulation_out_with_a_warning(data, monkeypatch):
    model = hx.model("y ~ 1 + (1 | g)", data)
    real = sbc_module.run_simulation
    settings = dict(num_simulations=4, warmup=100, draws=120, seed=5, progress=False)
    seeds = hx.sbc(model, **settings)
    victim = int(np.random.default_rng(5).integers(0, 2**31 - 1, size=4)[2])

    def breaks_one(refit, fit_priors, thin, seed):
        if seed == victim:
            raise RuntimeError("the sampler fell over")
        return real(refit, fit_priors, thin, seed)

    monkeypatch.setattr(sbc_module, "run_simulation", breaks_one)
    with pytest.warns(UserWarning, match=r"1 of 4 simulations failed"):
        result = hx.sbc(model, **settings)
    assert list(result.failed["simulation"]) == [2] and list(result.failed["seed"]) == [victim]
    assert result.failed["error"].iloc[0] == "RuntimeError: the sampler fell over"
    pd.testing.assert_frame_equal(result.ranks, seeds.ranks.drop(index=2))
    assert "1 more failed" in repr(result)


def test_logo_refuses_a_total_over_some_folds_and_keeps_the_rest(data, monkeypatch):
    model = hx.model("y ~ 1 + (1 | g)", data)
    real = logo_module.run_fold

    def breaks_one(refit, block, level, seed):
        if level == "g3":
            raise RuntimeError("out of memory")
        return real(refit, block, level, seed)

    monkeypatch.setattr(logo_module, "run_fold", breaks_one)
    with pytest.raises(logo_module.FoldsFailed, match=r"1 of 3 folds failed \('g3': RuntimeError: out of memory\)") \
            as caught:
        hx.logo(model, levels=["g1", "g3", "g5"], warmup=100, draws=100, progress=False)
    assert list(caught.value.finished.index) == ["g1", "g5"]
