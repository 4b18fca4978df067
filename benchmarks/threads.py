"""Thread counts and a busy machine: REML InstEval, NUTS radon and Laplace VerbAgg at 1 and 2
BLAS/XLA threads, alone and beside a second CPU-bound process, against lme4 in the same run.

Why: OpenBLAS (numpy's and scipy's; JAX's CPU Cholesky calls scipy's LAPACK) starts one thread
per core and its threads spin while they wait for work. On a 2-core machine with another busy
process, those spinning threads and XLA's own thread pool compete with the other process for the
same two cores, and run time multiplies (issue 15: InstEval 8.8 s instead of 1.6 s). hierax
chooses thread counts itself (``hierax/_threads.py``); this script measures the choice.

Each configuration runs in a fresh child process with its environment set before anything starts:
- ``hierax default``: no thread settings: hierax's own choice.
- ``1 thread``: ``HIERAX_THREADS=1``: BLAS at 1 thread, XLA's Eigen single-threaded.
- ``2 threads``: ``HIERAX_THREADS=2``: BLAS at 2 threads, XLA's Eigen multi-threaded.
The load is ``python -c "while True: pass"``, one CPU-bound process. Each child times one first
fit (compilation included) and the median of ``--repeats`` refits. lme4 (``Rscript
benchmarks/lme4_times.R``, R's reference BLAS, single-threaded: lmer for InstEval, glmer at its
default control for VerbAgg) is timed alone and under the same load. NUTS: ``log_radon ~ floor +
(1 + floor | county)``, 4 chains x 1,000 + 1,000, seed 1. Laplace: VerbAgg (7,584 rows, 316 persons
crossed with 24 items), bernoulli, r2 coded 1 for "Y" as in ``benchmarks/laplace_scale.py``.

Issue 17's target 4: with one competing CPU-bound process, the VerbAgg refit and the InstEval REML
fit slow down by no more than 2x with hierax's default (lme4 slows about 1.5x); the script prints a
verdict per model, with lme4's slowdown beside it.

Usage: ``python benchmarks/threads.py [--repeats N]``; prints a table, the ratios and the verdicts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CONFIGS = {"hierax default": {}, "1 thread": {"HIERAX_THREADS": "1"}, "2 threads": {"HIERAX_THREADS": "2"}}
MODELS = {   # formula, data file, hx.fit's options
    "REML InstEval": ("y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)", "teaching/InstEval.csv",
                      {"method": "reml"}),
    "NUTS radon": ("log_radon ~ floor + (1 + floor | county)", "radon_mn.csv", {"seed": 1}),
    "Laplace VerbAgg": ("r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)", "teaching/VerbAgg.csv",
                        {"family": "bernoulli", "method": "laplace"}),
}
CONVERTERS = {"r2": lambda answer: int(answer == "Y")}   # VerbAgg's response as 0/1 for the bernoulli family
LME4 = {"REML InstEval": "InstEval", "Laplace VerbAgg": "VerbAgg"}   # target 4's models, as lme4_times.R names them
SLOWDOWN = 2.0   # target 4: hierax default's refit, busy / alone


def child(model: str, repeats: int) -> dict:
    """Run in the child: one first fit, then ``repeats`` refits; seconds and the threads in force."""
    import hierax as hx
    import pandas as pd
    from threadpoolctl import threadpool_info

    formula, path, options = MODELS[model]
    data = pd.read_csv(SHARED / "data" / path, converters=CONVERTERS)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        hx.fit(formula, data, **options)
        times.append(time.perf_counter() - start)
    from hierax._threads import blas_limit

    with blas_limit():                             # the BLAS threads in force during a fit
        blas = sorted({info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"})
    return {"first": times[0], "refit": sorted(times[1:])[len(times[1:]) // 2], "blas_threads": blas,
            "xla_flags": os.environ.get("XLA_FLAGS", "")}


def run_child(model: str, config: dict, repeats: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("HIERAX_THREADS", "OPENBLAS_NUM_THREADS", "XLA_FLAGS")}
    env.update(config)
    done = subprocess.run([sys.executable, __file__, "--child", model, "--repeats", str(repeats)], env=env,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_lme4(repeats: int) -> dict:
    """lme4's median seconds per refit of each of ``LME4``'s models, in one Rscript; {} without R."""
    if shutil.which("Rscript") is None:
        return {}
    done = subprocess.run(["Rscript", str(ROOT / "benchmarks" / "lme4_times.R"), str(repeats), *LME4.values()],
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return {}
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return {model: float(out[name]["seconds"]) for model, name in LME4.items()}


class Load:
    """A second CPU-bound process for the length of a ``with`` block."""

    def __enter__(self):
        self.process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        self.process.kill()
        self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.repeats)))
        return
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    rows = []
    for load in ("alone", "with a busy process"):
        for model in MODELS:
            for name, config in CONFIGS.items():
                if load == "alone":
                    result = run_child(model, config, args.repeats)
                else:
                    with Load():
                        result = run_child(model, config, args.repeats)
                rows.append((model, name, load, result["first"], result["refit"], result["blas_threads"]))
                eigen = "single" if "multi_thread_eigen=false" in result["xla_flags"] else "multi"
                print(f"  {model:15s} {name:15s} {load:20s} first {result['first']:6.2f} s  refit "
                      f"{result['refit']:6.2f} s  BLAS threads {result['blas_threads']}, XLA {eigen}-threaded",
                      flush=True)
        if load == "alone":
            lme4 = run_lme4(args.repeats)
        else:
            with Load():
                lme4 = run_lme4(args.repeats)
        for model, seconds in lme4.items():
            rows.append((model, "lme4", load, float("nan"), seconds, []))
            print(f"  {model:15s} {'lme4':15s} {load:20s} refit {seconds:6.2f} s", flush=True)
    _report(rows)


def _report(rows) -> None:
    import pandas as pd

    table = pd.DataFrame(rows, columns=["model", "threads", "load", "first s", "refit s", "BLAS threads"])
    print("\n" + table.drop(columns="BLAS threads").to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    refit = table.set_index(["model", "threads", "load"])["refit s"]
    print("\nslowdown under load (refit, busy / alone):")
    for (model, threads), _ in table.groupby(["model", "threads"], sort=False):
        alone, busy = refit.get((model, threads, "alone")), refit.get((model, threads, "with a busy process"))
        if alone is not None and busy is not None:
            print(f"  {model:15s} {threads:15s} {busy / alone:5.2f}x")
    timed = [model for model in LME4 if all((model, "lme4", load) in refit.index
                                            for load in ("alone", "with a busy process"))]
    if timed:
        print("\nlme4 / hierax default (refit):")
        for model in timed:
            for load in ("alone", "with a busy process"):
                ratio = refit[(model, "lme4", load)] / refit[(model, "hierax default", load)]
                print(f"  {model:15s} {load:20s} {ratio:5.2f}x")

    def slowdown(model: str, threads: str) -> float:
        return refit[(model, threads, "with a busy process")] / refit[(model, threads, "alone")]

    print(f"\nissue 17 target 4: hierax default's refit slows by at most {SLOWDOWN:g}x under load:")
    for model in LME4:
        lme4 = f"lme4 {slowdown(model, 'lme4'):5.2f}x" if model in timed else "lme4 not timed"
        verdict = "met" if slowdown(model, "hierax default") <= SLOWDOWN else "NOT met"
        print(f"  {model:15s} hierax default {slowdown(model, 'hierax default'):5.2f}x ({lme4}): {verdict}")


if __name__ == "__main__":
    main()
