"""Laplace fits of GLMMs: hierax ``method="laplace"`` against lme4's glmer (nAGQ = 1), in one run.

cbpp (binomial, one random intercept, 15 herds) and grouseticks (poisson, three random intercepts,
584 effects). For hierax: the first fit (which compiles the objective) and the median of the next
``--repeats`` fits of the same model (which reuse it). lme4 is timed in the same run by
``benchmarks/lme4_times.R`` when ``Rscript`` with lme4 is installed; lme4's seconds from
../shared/reference/lme4.json are shown beside them. Log-likelihoods are shown so that a fast
wrong answer would show (lme4's default PIRLS tolerance leaves cbpp's 2.8e-4 low; see
tests/test_laplace.py).

Usage: ``python benchmarks/laplace.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import platform
import time

import hierax as hx  # first: configures JAX before anything else starts it
import numpy as np
import pandas as pd

from reml import SHARED, reference, time_lme4

MODELS = {"cbpp": "cbpp_laplace", "grouseticks": "grouseticks_laplace"}
FACTORS = ("period", "YEAR")   # integer-coded in the CSV, factors in R


def time_hierax(entry: dict, data: pd.DataFrame, repeats: int):
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        fit = hx.fit(entry["formula"], data, family=entry["family"], method="laplace")
        times.append(time.perf_counter() - start)
    return times[0], float(np.median(times[1:])), fit.loglik


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    lme4_now = time_lme4(args.repeats, MODELS)
    rows = []
    for label, name in MODELS.items():
        entry = reference(name)
        data = pd.read_csv(SHARED / "data" / entry["data"])
        data = data.astype({c: str for c in FACTORS if c in data})
        first, again, loglik = time_hierax(entry, data, args.repeats)
        lme4 = lme4_now.get(label, {})
        rows.append((label, first, again, loglik, lme4.get("seconds", float("nan")), entry["seconds_per_fit"],
                     lme4.get("loglik", entry["logLik"]), lme4.get("seconds", float("nan")) / again))
    table = pd.DataFrame(rows, columns=["model", "hierax first s", "hierax again s", "hierax logLik",
                                        "lme4 s (this run)", "lme4 s (reference)", "lme4 logLik",
                                        "lme4 / hierax"])
    if lme4_now:
        print(f"lme4 {lme4_now['version']} timed in this run")
    print(f"Laplace fits; {platform.processor() or platform.machine()}; hierax 'again' = median of "
          f"{args.repeats} refits with the compiled objective reused")
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.float_format", "{:.6g}".format):
        print(table.set_index("model").to_string())


if __name__ == "__main__":
    main()
