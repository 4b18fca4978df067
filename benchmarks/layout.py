"""How hierax lays chains out on a 2-core machine, measured (issue 5, sampler engineering).

Runs each model in fresh processes, 4 chains x 1,000 + 1,000, with the chains spread over 4, 2 or
1 JAX CPU devices (``--xla_force_host_platform_device_count``): 4 devices hold one chain each
(hierax's default); on 2 and 1 the chains run in turns, 2 and 4 a device (since session 21,
``hierax.engines.steps.in_slots``; before, vectorised with vmap, the layout of NumPyro's
``chain_method="vectorized"``), so every layout gives the same draws. Each process fits twice (the second fit has
everything compiled, so it times the sampling alone) and reports both times and the first fit's
min bulk ESS. The compilation cache is off, so every first fit compiles.

Usage: ``python benchmarks/layout.py [--models ...] [--devices 4 2 1]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent

WORKER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[2])
import numpy as np, arviz as az
import hierax as hx, jax
from hierax_run import priors
from models import MODELS, load
model, data = MODELS[sys.argv[1]], load(sys.argv[1])
times = []
for seed in (1, 2):
    start = time.perf_counter()
    fit = hx.fit(model["formula"], data, family=model["family"], priors=priors(model["priors"], model["formula"]),
                 seed=seed)
    times.append(time.perf_counter() - start)
    if seed == 1:
        ess = min(float(np.asarray(v).min()) for v in az.ess(fit.idata).data_vars.values())
print(json.dumps({"devices": jax.local_device_count(), "first fit s": times[0], "second fit s": times[1],
                  "min ESS": ess, "target": fit.adaptation["target_accept"]}))
"""


def run(model: str, devices: int) -> dict:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "HIERAX_CACHE_DIR": "off"}
    out = subprocess.run([sys.executable, "-c", WORKER, model, str(HERE / "peers")], env=env, capture_output=True,
                         text=True, check=True)
    return {"model": model, **json.loads(out.stdout.strip().splitlines()[-1])}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=["radon_slopes", "cbpp", "grouseticks"])
    parser.add_argument("--devices", nargs="+", type=int, default=[4, 2, 1])
    args = parser.parse_args()
    print(f"chain layouts; {platform.machine()}, {os.cpu_count()} cores, 4 chains x 1000 + 1000, no compilation cache")
    rows = []
    for model in args.models:
        for devices in args.devices:
            rows.append(run(model, devices))
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table["chains per device"] = 4 // table["devices"]
    table["ESS/s, first fit"] = table["min ESS"] / table["first fit s"]
    print(table.set_index(["model", "chains per device"]).round(2).to_string())


if __name__ == "__main__":
    main()
