"""Refitting one formula to new data of the same shape in a warm process (issue 5, target 4).

For each model: one fit to compile, then refits to bootstrap resamples of the data (rows drawn
with replacement; the same columns, rows and levels, so the same shapes) through ``hx.fit``, as a
user's bootstrap or cross-validation loop would call it. Reported per refit:

- time to first draw: from the call until the engine reports its first chunk of sampling draws
  (100 iterations after warm-up), so warm-up and the first 100 draws are included: an upper bound
  on the first draw's time;
- whole refit: the call to its return (all 1,000 draws per chain, the effects drawn, the
  InferenceData and its diagnostics built);
- whether the refit compiled anything (JAX's compile events during it).

Usage: ``python benchmarks/refit.py [--models ...] [--refits N]``; 4 chains x 1,000 + 1,000.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import hierax as hx  # configures JAX first
import jax
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
from hierax_run import priors  # noqa: E402
from models import MODELS, load  # noqa: E402

from hierax.engines import nuts  # noqa: E402


class Events:
    """Compile events and the first sampling chunk's time, while active."""

    def __init__(self):
        self.compiles = 0
        self.first_draws_at = None
        jax.monitoring.register_event_duration_secs_listener(self._listen)
        original = nuts._run_phase

        def run_phase(run, *args, **kwargs):
            phase = args[5]
            if phase == "sampling" and run.progress is None:
                run = run._replace(progress=self._progress)
            return original(run, *args, **kwargs)

        nuts._run_phase = run_phase

    def _listen(self, event, duration, **kwargs):
        if event.endswith("backend_compile_duration"):
            self.compiles += 1

    def _progress(self, phase, steps):
        if phase == "sampling" and self.first_draws_at is None:
            self.first_draws_at = time.perf_counter()

    def reset(self):
        self.compiles, self.first_draws_at = 0, None


def bootstrap(data: pd.DataFrame, seed: int) -> pd.DataFrame:
    rows = np.random.default_rng(seed).integers(0, len(data), len(data))
    return data.iloc[rows].reset_index(drop=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["radon_intercepts", "radon_slopes", "sleepstudy", "cbpp",
                                                         "grouseticks"])
    parser.add_argument("--refits", type=int, default=3)
    args = parser.parse_args()
    events = Events()
    rows = []
    for name in args.models:
        model, data = MODELS[name], load(name)
        fit_args = dict(family=model["family"], priors=priors(model["priors"]))
        start = time.perf_counter()
        hx.fit(model["formula"], data, seed=0, **fit_args)
        first = time.perf_counter() - start
        for r in range(1, args.refits + 1):
            resampled = bootstrap(data, r)
            events.reset()
            start = time.perf_counter()
            fit = hx.fit(model["formula"], resampled, seed=r, **fit_args)
            end = time.perf_counter()
            rows.append({"model": name, "refit": r, "first fit s": first,
                         "to first draws s": events.first_draws_at - start, "whole refit s": end - start,
                         "compiles": events.compiles, "sampler": next(iter(fit.parameterisation.values()))["choice"]})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    summary = table.groupby("model", sort=False).agg(
        {"first fit s": "first", "to first draws s": "median", "whole refit s": "median", "compiles": "max",
         "sampler": "first"})
    print(f"\nrefits in a warm process; {platform.machine()}, {jax.local_device_count()} JAX CPU devices, "
          f"medians of {args.refits} bootstrap refits")
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
