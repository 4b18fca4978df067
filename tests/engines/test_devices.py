"""Chains over devices (issue 20, acceptance item 4): the same seed gives the same draws, to the
last bit, whether the chains run on one host device, two or four (``hierax.engines.steps.in_slots``).

Each layout needs its own process: the number of host devices is fixed when JAX starts."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

RUN = r"""
import sys
import numpy as np, pandas as pd
import hierax as hx, jax
frame = pd.DataFrame({"g": np.repeat([f"g{k}" for k in range(10)], 8), "x": np.tile(np.linspace(-1, 1, 8), 10)})
rng = np.random.default_rng(4)
eta = -0.3 + 0.9 * frame["x"] + rng.normal(0, 0.8, 10)[np.repeat(np.arange(10), 8)]
frame["hit"] = (rng.random(80) < 1 / (1 + np.exp(-eta))).astype(int)
frame["y"] = eta + rng.normal(0, 0.5, 80)
draws = {}
for name, formula, family in (("glmm", "hit ~ x + (1 + x | g)", "bernoulli"), ("lmm", "y ~ x + (1 | g)", "gaussian")):
    fit = hx.fit(formula, frame, family=family, chains=4, warmup=150, draws=100, seed=7, progress=False)
    draws.update({f"{name}:{k}": v.values for k, v in fit.idata.posterior.data_vars.items()})
np.savez(sys.argv[1], devices=jax.local_device_count(), **draws)
"""


def _draws(devices: int, folder) -> dict:
    path = folder / f"draws{devices}.npz"
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    done = subprocess.run([sys.executable, "-c", RUN, str(path)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(path) as saved:
        return {k: saved[k] for k in saved.files}


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("layouts")
    return {devices: _draws(devices, folder) for devices in (1, 2, 4)}


@pytest.mark.parametrize("devices", [2, 4])
def test_the_same_seed_gives_the_same_draws_on_any_number_of_devices(layouts, devices):
    """Four chains on one device (four slots), on two (two each) and on four (one each): a full
    bernoulli GLMM (every effect sampled, centring retuned) and a collapsed gaussian one."""
    one, spread = layouts[1], layouts[devices]
    assert int(one["devices"]) == 1 and int(spread["devices"]) == devices
    names = sorted(k for k in one if k != "devices")
    assert any(k.startswith("glmm:") for k in names) and any(k.startswith("lmm:") for k in names)
    for name in names:
        assert one[name].shape[:2] == (4, 100)
        np.testing.assert_array_equal(one[name], spread[name], err_msg=name)
