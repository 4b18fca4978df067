"""Power by simulation of a cluster-randomised trial (issue 19, acceptance item 2): 1,000 simulated
two-arm trials of 20 clusters x 30 people, gaussian outcome (ICC 0.05, effect 0.3 sd), each fitted
by REML and tested with Satterthwaite's df, in one process and over ``--workers`` spawned
processes (``concurrent.futures.ProcessPoolExecutor``). Target: under 2 minutes on the project's
2-core machine. Prints the power, its Monte Carlo se, the analytic power for comparison, and the
wall times, then one line of JSON.

Usage: ``python benchmarks/crt_power.py [--trials 1000] [--workers 2] [--seed 2026]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor

import hierax as hx  # noqa: F401  (first: configures JAX before anything else starts it)
import numpy as np
from hierax.workflow import crt

FORMULA, TERM, CLUSTERS, SIZE, ICC, EFFECT = "y ~ treatment + (1 | cluster)", "treatment", 20, 30, 0.05, 0.3
TARGET_SECONDS = 120.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    params = {"(Intercept)": 0.0, "treatment": EFFECT, "sd[cluster][(Intercept)]": np.sqrt(ICC),
              "sigma": np.sqrt(1 - ICC)}
    print(f"crt_power: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load {os.getloadavg()}")
    results = {}
    start = time.perf_counter()
    serial = crt.power(FORMULA, params, TERM, CLUSTERS, SIZE, nsim=args.trials, seed=args.seed)
    results["one process"] = (time.perf_counter() - start, serial)
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn")) as pool:
        spread = crt.power(FORMULA, params, TERM, CLUSTERS, SIZE, nsim=args.trials, seed=args.seed, executor=pool)
    results[f"{args.workers} processes"] = (time.perf_counter() - start, spread)
    analytic = crt.analytic_power(EFFECT, 1.0, ICC, CLUSTERS, SIZE)
    print(f"{args.trials} trials of {CLUSTERS} clusters x {SIZE}, ICC {ICC}, effect {EFFECT}; analytic power "
          f"{analytic:.3f}")
    for name, (seconds, result) in results.items():
        print(f"  {name:>12}: {seconds:6.1f} s  {result}  failed {result.failed}")
    same = bool(np.array_equal(serial.p_values, spread.p_values, equal_nan=True))
    best = min(seconds for seconds, _ in results.values())
    print(f"same trials either way: {same}; under {TARGET_SECONDS:.0f} s: {best:.1f} s -> "
          f"{'met' if best < TARGET_SECONDS else 'NOT met'}")
    print(json.dumps({"trials": args.trials, "seconds": {k: v[0] for k, v in results.items()},
                      "power": serial.power, "mc_se": serial.mc_se, "analytic": analytic, "same": same,
                      "met": best < TARGET_SECONDS}))


if __name__ == "__main__":
    main()
