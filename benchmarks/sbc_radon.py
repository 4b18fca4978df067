"""Simulation-based calibration of radon ``log_radon ~ floor + (1 | county)`` over worker processes.

100 simulations (prior draws of every parameter, data simulated given them, a NUTS fit of each:
2 chains x 300 warm-up + 300 draws, every 3rd draw kept, so ranks among 200 draws), fanned out
over ``--workers`` spawned processes. Prints the wall time, the uniformity tests and whether the
ranks pass them, and writes the rank histograms to ``--figure``.

Usage: ``python benchmarks/sbc_radon.py [--simulations 100] [--workers 2] [--figure PATH]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import hierax as hx  # first: configures JAX before anything else starts it
import matplotlib
import pandas as pd

SHARED = Path(__file__).resolve().parents[2] / "shared"
FORMULA = "log_radon ~ floor + (1 | county)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--figure", default=str(Path(__file__).with_name("figures") / "sbc_radon.png"))
    args = parser.parse_args()
    matplotlib.use("Agg")
    radon = pd.read_csv(SHARED / "data" / "radon_mn.csv")
    model = hx.model(FORMULA, radon)
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn")) as pool:
        result = hx.sbc(model, num_simulations=args.simulations, seed=args.seed, executor=pool, progress=False)
    seconds = time.perf_counter() - start
    print(f"SBC of radon {FORMULA}: {args.simulations} simulations on {args.workers} worker processes "
          f"({platform.machine()}), {seconds:.1f} s wall including worker start-up and compilation; "
          f"ranks among {result.num_draws} draws; {int(result.divergent.sum())} divergent transitions in all")
    with pd.option_context("display.width", 200, "display.float_format", "{:.4g}".format):
        print(result.uniformity().to_string())
    print(f"uniform at alpha 0.01 (Bonferroni over parameters and both tests): {result.passed()}")
    Path(args.figure).parent.mkdir(exist_ok=True)
    result.plot().savefig(args.figure, dpi=80)
    print(f"rank histograms: {args.figure}")


if __name__ == "__main__":
    main()
