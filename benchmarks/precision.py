"""float64 against float32 for the full (GLMM) sampler's NUTS steps (issue 5: "float32 where
accuracy allows").

For each model, one process in float64 finds a step size and diagonal metric (BlackJAX's window
adaptation, 400 iterations, target 0.95) and the state it ends in; then a process in each
precision (JAX's ``jax_enable_x64`` is process-wide) runs 300 NUTS transitions of one chain from
that state with that step size and metric, compiled once, best of three runs, and reports the
time per leapfrog step, the acceptance rate, and how far its log density and gradient at the
start are from float64's. The density is hierax's own (``full_logdensity``) with the centring
weights of a fit.

Usage: ``python benchmarks/precision.py [--models cbpp grouseticks]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent

WORKER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[4])
import numpy as np
import hierax as hx, jax, jax.numpy as jnp, blackjax
from jax.flatten_util import ravel_pytree
from hierax_run import priors
from models import MODELS, load
from hierax.density.logdensity import full_logdensity, structure_of
from hierax.sampler import SpecSampler
from hierax.config import nuts_config
from hierax.engines.keys import seed_key

name, precision, state_file = sys.argv[1], sys.argv[2], sys.argv[3]
model, data = MODELS[name], load(name)
fit = hx.fit(model["formula"], data, family=model["family"], priors=priors(model["priors"], model["formula"]), seed=1,
             draws=100)
spec = fit.spec
sampler = SpecSampler(spec, nuts_config(1, 300, 10, None, 10))
output = sampler.sample(seed_key(1))                          # one short run for its centring and a position
aux = output.aux
first = jax.tree_util.tree_map(lambda x: np.asarray(x[0, -1]), output.positions)
x64, unravel = ravel_pytree(first)
density = full_logdensity(structure_of(spec))
if precision == "float32":
    jax.config.update("jax_enable_x64", False)
aux = jax.tree_util.tree_map(lambda x: jnp.asarray(np.asarray(x)), aux)
_, unravel = ravel_pytree(jax.tree_util.tree_map(jnp.asarray, first))
logdensity = jax.jit(lambda x: density(unravel(x), aux))
if precision == "float64":
    adaptation = blackjax.window_adaptation(blackjax.nuts, logdensity, target_acceptance_rate=0.95)
    (state, parameters), _ = jax.jit(lambda k: adaptation.run(k, jnp.asarray(x64), num_steps=400))(jax.random.key(1))
    np.savez(state_file, imm=parameters["inverse_mass_matrix"], step=parameters["step_size"], x0=state.position)
saved = np.load(state_file)
imm, step, x0 = jnp.asarray(saved["imm"]), float(saved["step"]), jnp.asarray(saved["x0"])
kernel = blackjax.nuts.build_kernel()

def chain(key, x):
    state = blackjax.nuts.init(x, logdensity)
    def body(s, k):
        s, info = kernel(k, s, logdensity, step, imm)
        return s, (info.num_integration_steps, info.acceptance_rate, info.is_divergent)
    return jax.lax.scan(body, state, jax.random.split(key, 300))[1]

start = time.perf_counter()
compiled = jax.jit(chain).lower(jax.random.key(2), x0).compile()
compile_s = time.perf_counter() - start
best = None
for r in range(3):
    start = time.perf_counter()
    steps, accept, divergent = jax.block_until_ready(compiled(jax.random.key(5 + r), x0))
    per_step = (time.perf_counter() - start) / int(np.sum(steps))
    best = per_step if best is None else min(best, per_step)
value, grad = jax.value_and_grad(logdensity)(x0)
print(json.dumps({"model": name, "precision": precision, "dtype": str(x0.dtype), "compile s": compile_s,
                  "us per leapfrog step": 1e6 * best, "steps per transition": float(np.mean(steps)),
                  "acceptance": float(np.mean(accept)), "divergent": int(np.sum(divergent)),
                  "logdensity": float(value), "gradient": np.asarray(grad, dtype=float).tolist()}))
"""


def run(model: str, precision: str, state_file: str) -> dict:
    env = dict(os.environ, HIERAX_CACHE_DIR="off")
    done = subprocess.run([sys.executable, "-c", WORKER, model, precision, state_file, str(HERE / "peers")],
                          capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cbpp", "grouseticks"])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            state_file = str(Path(tmp) / f"{model}.npz")
            double = run(model, "float64", state_file)
            single = run(model, "float32", state_file)
            reference = pd.Series(double["gradient"])
            for result in (double, single):
                gradient = pd.Series(result.pop("gradient"))
                result["logdensity error"] = abs(result["logdensity"] - double["logdensity"])
                result["gradient rel. error"] = float((gradient - reference).abs().max() / reference.abs().max())
                rows.append(result)
                print(result, flush=True)
    table = pd.DataFrame(rows).set_index(["model", "precision"]).drop(columns=["logdensity"])
    print(f"\nfull sampler's NUTS steps in float64 and float32; {platform.machine()}, one chain, fixed step size "
          "and metric, best of 3 x 300 transitions")
    print(table.to_string(float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
