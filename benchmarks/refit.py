"""Refitting one formula to new data of the same shape in a warm process (issue 5, target 4).

For each model: one fit to compile, then refits through ``hx.fit`` to new data of the same shape,
as a user's parametric bootstrap or simulation study would call it: the same rows and groups with
the response replaced by a replicated data set from the first fit's posterior predictive
distribution. Reported per refit:

- chains start: from the call until the chains' first iterations begin (the data checked, the
  design and starts built, nothing compiled): the wait before the first draw, which is what
  compiling makes long (the issue's "brms: about 30 s before the first draw");
- first 100 iterations: from the call until the engine reports its first chunk (100 warm-up
  iterations, or all warm-up for a short one): an upper bound on the time to the first draw;
- warm-up done: from the call until warm-up's last chunk ends; the first kept draw comes one
  iteration later (a few milliseconds);
- to sampling draws: from the call until the first chunk of draws after warm-up (warm-up and the
  first 100 kept draws included);
- whole refit: the call to its return (all 1,000 draws per chain, the effects drawn, the
  InferenceData and its diagnostics built);
- whether the refit compiled anything (JAX's compile events during it);
- its min bulk ESS over all parameters and its divergent transitions, to show what the time bought.

Each refit runs twice: cold (``hx.fit`` as a first fit would run: 1,000 warm-up iterations) and
warm-started from the first fit (``warm_start=first_fit``: its metric, step size, centring and
last draws, and 100 warm-up iterations that tune the step size alone).

Usage: ``python benchmarks/refit.py [--models ...] [--refits N]``; 4 chains x 1,000 + 1,000.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import hierax as hx  # configures JAX first
import arviz as az
import jax
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
from hierax_run import priors  # noqa: E402
from models import MODELS, RESPONSE, load  # noqa: E402

from hierax.engines import nuts  # noqa: E402


class Events:
    """Compile events, and when the chains start, their first chunk and the first chunk of
    sampling draws end, while active."""

    def __init__(self):
        jax.monitoring.register_event_duration_secs_listener(self._listen)
        self.reset()
        original = nuts._run_phase

        def run_phase(run, *args, **kwargs):
            if self.started_at is None:
                self.started_at = time.perf_counter()
            inner = run.progress

            def progress(phase, steps):
                self._progress(phase, steps)
                if inner is not None:
                    inner(phase, steps)

            return original(run._replace(progress=progress), *args, **kwargs)

        nuts._run_phase = run_phase

    def _listen(self, event, duration, **kwargs):
        if event.endswith("backend_compile_duration"):
            self.compiles += 1

    def _progress(self, phase, steps):
        now = time.perf_counter()
        if self.first_chunk_at is None:
            self.first_chunk_at = now
        if phase == "warmup" and self.first_draws_at is None:
            self.warmup_done_at = now
        if phase == "sampling" and self.first_draws_at is None:
            self.first_draws_at = now

    def reset(self):
        self.compiles, self.started_at, self.first_chunk_at, self.first_draws_at = 0, None, None, None
        self.warmup_done_at = None


def min_bulk_ess(fit) -> float:
    """The smallest bulk ESS over every scalar of the posterior (group effects included)."""
    return min(float(v.min()) for v in az.ess(fit.idata, method="bulk").data_vars.values())


def replicate(fit, data: pd.DataFrame, column: str, r: int) -> pd.DataFrame:
    """``data`` with ``column`` replaced by replicated data set ``r`` of the fit."""
    replicated = fit.posterior_predictive(seed=r).posterior_predictive
    values = next(iter(replicated.data_vars.values())).values.reshape(-1, len(data))[r]
    return data.assign(**{column: values})


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
        fit_args = dict(family=model["family"], priors=priors(model["priors"], model["formula"]))
        start = time.perf_counter()
        first_fit = hx.fit(model["formula"], data, seed=0, **fit_args)
        first = time.perf_counter() - start
        for r in range(1, args.refits + 1):
            resampled = replicate(first_fit, data, RESPONSE[name], r)
            for mode, warm_start in (("cold", None), ("warm", first_fit)):
                events.reset()
                start = time.perf_counter()
                fit = hx.fit(model["formula"], resampled, seed=r, warm_start=warm_start, **fit_args)
                end = time.perf_counter()
                rows.append({"model": name, "mode": mode, "refit": r, "first fit s": first,
                             "chains start s": events.started_at - start,
                             "first 100 its s": events.first_chunk_at - start,
                             "warm-up done s": events.warmup_done_at - start,
                             "to sampling draws s": events.first_draws_at - start, "whole refit s": end - start,
                             "compiles": events.compiles, "min bulk ESS": min_bulk_ess(fit),
                             "divergent": int(fit.idata.sample_stats["diverging"].sum()),
                             "sampler": next(iter(fit.parameterisation.values()))["choice"]})
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    summary = table.groupby(["model", "mode"], sort=False).agg(
        {"first fit s": "first", "chains start s": "median", "first 100 its s": "median", "warm-up done s": "median",
         "to sampling draws s": "median", "whole refit s": "median", "compiles": "max", "min bulk ESS": "median",
         "divergent": "max", "sampler": "first"})
    print(f"\nrefits in a warm process; {platform.machine()}, {jax.local_device_count()} JAX CPU devices, "
          f"medians of {args.refits} refits")
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
