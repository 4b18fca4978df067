"""A gaussian data set too big for comfort in memory, written as Parquet a chunk at a time (issue 20, item 1).

``y ~ x + (1 + x | g)`` with 100,000 groups: each row's group is drawn uniformly (about 200 rows
a group at 20 million rows), x ~ N(0, 1), the groups' intercepts and slopes N(0, diag(0.8, 0.3)^2)
with correlation 0.4, beta = (2, 0.5), residual sd 1. The groups' effects are drawn once (a few
MB); the rows are drawn and written one chunk (one Parquet file) at a time from a seed of their
own, so the whole frame is never in memory and any prefix of the files is a reproducible subset
(the first two files: the 2,000,000-row subset that the benchmark fits both ways).

Usage: python benchmarks/outofcore_data.py OUT_FOLDER [ROWS] [ROWS_PER_FILE] [GROUPS] [SEED]
(defaults 20,000,000 rows, 1,000,000 a file, 100,000 groups, seed 0). Files are named
part-00000.parquet, part-00001.parquet, ...; an existing folder is refused, so nothing is
overwritten.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

BETA = (2.0, 0.5)
SDS = (0.8, 0.3)
CORRELATION = 0.4
SIGMA = 1.0


def group_effects(groups: int, seed: int) -> np.ndarray:
    """(groups, 2): each group's intercept and slope deviations."""
    rng = np.random.default_rng([seed, 0])
    cov = np.diag(SDS) @ np.array([[1.0, CORRELATION], [CORRELATION, 1.0]]) @ np.diag(SDS)
    return rng.multivariate_normal(np.zeros(2), cov, size=groups)


def chunk(k: int, rows: int, effects: np.ndarray, seed: int) -> pd.DataFrame:
    """The k-th file's rows (its own stream: seed and k)."""
    rng = np.random.default_rng([seed, k + 1])
    g = rng.integers(0, len(effects), rows).astype(np.int32)
    x = rng.normal(size=rows)
    y = BETA[0] + effects[g, 0] + (BETA[1] + effects[g, 1]) * x + SIGMA * rng.normal(size=rows)
    return pd.DataFrame({"y": y, "x": x, "g": g})


def write(folder: Path, rows: int = 20_000_000, per_file: int = 1_000_000, groups: int = 100_000, seed: int = 0):
    folder.mkdir(parents=True, exist_ok=False)
    effects = group_effects(groups, seed)
    for k, start in enumerate(range(0, rows, per_file)):
        chunk(k, min(per_file, rows - start), effects, seed).to_parquet(folder / f"part-{k:05d}.parquet", index=False)
    return folder


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    numbers = [int(a) for a in args[1:]]
    write(Path(args[0]), *numbers)
