"""What every runner shares: its command line, and how it hands its draws to the driver.

A runner fits one model with one tool in a fresh process and writes an ``.npz`` file: one array
(chain, draw, ...) per parameter group (fixed effects, sds, correlations, sigma and every group
effect), plus ``meta`` (JSON: seconds from the start of model building to draws in NumPy, so
compilation included and interpreter start-up and imports not; divergent transitions; versions;
peak resident memory of the process). The driver computes ESS alike for every tool.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


# hierax loads its modules on first use (a REML fit never loads the sampler or ArviZ), so its first
# NUTS fit in a fresh process would time imports (JAX, BlackJAX, ArviZ, xarray and the Dask that
# xarray loads when it is installed: about 2 s here) that every peer's runner makes before its clock
# starts. A runner of hierax imports them first, so that the clock excludes imports for every tool.
HIERAX_NUTS_MODULES = ("hierax.api", "hierax.sampler", "hierax.missing_predictor", "hierax.results.idata", "arviz",
                       "xarray")


def import_hierax_for_nuts():
    """hierax with the modules its NUTS fits load; the Dask that xarray would load, where installed."""
    import importlib

    import hierax

    for name in HIERAX_NUTS_MODULES:
        importlib.import_module(name)
    try:
        importlib.import_module("dask.array")
    except ImportError:
        pass
    return hierax


def arguments(description: str):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    return parser.parse_args()


class Clock:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def peak_memory_mb() -> float:
    """Peak resident set size of this process (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write(out: str, draws: dict, seconds: float, divergences: int, versions: dict, **extra):
    import numpy as np

    meta = {"seconds": seconds, "divergences": int(divergences), "versions": versions,
            "peak_mb": peak_memory_mb(), **extra}
    arrays = {f"draws/{k}": np.asarray(v, dtype=float) for k, v in draws.items()}
    np.savez(out, meta=json.dumps(meta), **arrays)
