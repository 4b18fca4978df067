"""REML fits: hierax against statsmodels MixedLM, in one run, on sleepstudy, radon and InstEval.

For each model and tool: the first fit (hierax compiles its objective then), the median of the
next ``--repeats`` fits of the same model (hierax reuses the compiled code), and the REML
criterion reached (-2 x statsmodels' REML log-likelihood), so that a fast wrong answer shows.
lme4 is timed in the same run when ``Rscript`` with lme4 is installed (Debian: r-cran-lme4), by
``benchmarks/lme4_times.R``; lme4's seconds per fit from ../shared/reference/lme4.json are shown
beside them.
statsmodels fits crossed effects (InstEval) only as variance components of one all-embracing
group; each statsmodels fit runs in a child process stopped after ``--timeout`` seconds.

Usage: ``python benchmarks/reml.py [--repeats N] [--timeout S]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import shutil
import subprocess
import time
from pathlib import Path

import hierax as hx  # first: configures JAX before anything else starts it
import numpy as np
import pandas as pd

SHARED = Path(__file__).resolve().parents[2] / "shared"
MODELS = {
    "sleepstudy": ("sleepstudy_reml", "Reaction", "Days", "Subject", "~Days", None),
    "radon slopes": ("radon_slope_reml", "log_radon", "floor", "county", "~floor", None),
    "InstEval": ("insteval_reml", "y", "service", None, None, {"s": "0 + C(s)", "d": "0 + C(d)",
                                                                  "dept": "0 + C(dept)"}),
}


def reference(name: str) -> dict:
    return json.loads((SHARED / "reference" / "lme4.json").read_text())[name]


def time_hierax(entry: dict, data: pd.DataFrame, repeats: int):
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        fit = hx.fit(entry["formula"], data, method="reml")
        times.append(time.perf_counter() - start)
    return times[0], float(np.median(times[1:])), fit.deviance


def _statsmodels_fit(args, queue):
    import statsmodels.formula.api as smf

    data, response, fixed, group, re_formula, vc = args
    start = time.perf_counter()
    if vc is None:
        model = smf.mixedlm(f"{response} ~ {fixed}", data, groups=data[group], re_formula=re_formula)
    else:
        model = smf.mixedlm(f"{response} ~ {fixed}", data, groups=np.ones(len(data)), vc_formula=vc,
                            re_formula="0")
    result = model.fit(reml=True)
    queue.put((time.perf_counter() - start, -2.0 * result.llf))


def time_statsmodels(data, spec, timeout: float):
    context = mp.get_context("spawn")   # a fresh interpreter: forking a process that runs JAX is unsafe
    queue = context.Queue()
    process = context.Process(target=_statsmodels_fit, args=((data,) + spec, queue))
    process.start()
    process.join(timeout)
    if process.is_alive():
        process.terminate()
        process.join()
        return float("nan"), float("nan"), f"stopped after {timeout:.0f} s"
    seconds, criterion = queue.get()
    return seconds, criterion, ""


def time_lme4(repeats: int, models=MODELS) -> dict:
    """lme4's median seconds per fit in this run, by model, or {} without R and lme4."""
    if shutil.which("Rscript") is None:
        return {}
    script = Path(__file__).with_name("lme4_times.R")
    done = subprocess.run(["Rscript", str(script), str(repeats), *models], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    if done.returncode != 0:
        print(f"lme4 not timed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'Rscript failed'}")
        return {}
    return json.loads(done.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    lme4_now = time_lme4(args.repeats)
    rows = []
    for label, (name, response, fixed, group, re_formula, vc) in MODELS.items():
        entry = reference(name)
        data = pd.read_csv(SHARED / "data" / entry["data"])
        first, again, ours = time_hierax(entry, data, args.repeats)
        sm_seconds, sm_criterion, note = time_statsmodels(data, (response, fixed, group, re_formula, vc), args.timeout)
        lme4 = lme4_now.get(label, {}).get("seconds", float("nan"))
        rows.append((label, first, again, ours, sm_seconds, sm_criterion, lme4, entry["seconds_per_fit"],
                     entry["objective"], sm_seconds / again, lme4 / again, note))
    table = pd.DataFrame(rows, columns=["model", "hierax first s", "hierax again s", "hierax REML crit",
                                        "statsmodels s", "statsmodels REML crit", "lme4 s (this run)",
                                        "lme4 s (reference)", "lme4 REML crit", "statsmodels / hierax",
                                        "lme4 / hierax", "note"])
    if lme4_now:
        print(f"lme4 {lme4_now['version']} timed in this run")
    print(f"REML fits; {platform.processor() or platform.machine()}; hierax 'again' = median of {args.repeats} "
          "refits with the compiled objective reused")
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        print(table.set_index("model").to_string())


if __name__ == "__main__":
    main()
