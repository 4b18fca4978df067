"""Synthetic ratings shaped like MovieLens, for the crossed-REML benchmark (issue 20, item 3).

MovieLens itself cannot be downloaded at run time, so ``ratings`` draws a data set of its shape:
every user rates at least 20 distinct items, the number of ratings per user has a power-law tail
(a shifted Pareto with shape 3, capped at 60% of the items; ml-1m's users have mean 166 and
sd 193, these mean 166 and sd about 230), and which items a user rates follows a heavy-tailed
popularity (weighted sampling without replacement, by the Gumbel top-k trick). Ratings are
rounded and clipped to 1-5 from user and item effects plus noise, so the crossed model
``rating ~ 1 + (1 | user) + (1 | item)`` has real variance at both levels.

Usage: python benchmarks/ratings_data.py ROWS USERS ITEMS OUT.parquet [SEED]
(1,000,000 6,040 3,706 is ml-1m's shape; 10,000,000 70,000 10,700 is ml-10m's).
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

MIN_PER_USER = 20
USER_TAIL = 3.0       # Pareto shape of the ratings per user
MOST_ITEMS = 0.6      # no user rates more than this share of the items


def ratings_per_user(rng, users: int, rows: int, items: int) -> np.ndarray:
    """Counts with a floor, a power-law tail and a cap, summing to ``rows``."""
    if rows < MIN_PER_USER * users or rows > MOST_ITEMS * items * users:
        raise ValueError(f"{rows} ratings do not fit {users} users rating {MIN_PER_USER} to "
                         f"{int(MOST_ITEMS * items)} items each")
    weight, cap = rng.pareto(USER_TAIL, users), int(MOST_ITEMS * items)
    extra = rows - MIN_PER_USER * users
    scale = extra / weight.sum()
    for _ in range(100):                      # the cap removes mass: rescale until the total fits
        counts = np.minimum(MIN_PER_USER + np.floor(scale * weight).astype(np.int64), cap)
        short = rows - counts.sum()
        if short <= users:
            break
        scale *= extra / max(counts.sum() - MIN_PER_USER * users, 1)
    room = np.flatnonzero(counts < cap)
    counts[room[:max(short, 0)]] += 1         # the rounding remainder, one each
    return counts


def ratings(rows: int, users: int, items: int, seed: int = 0) -> pd.DataFrame:
    """A data frame of ``rows`` ratings (columns rating, user, item; user and item integer codes)."""
    rng = np.random.default_rng(seed)
    counts = ratings_per_user(rng, users, rows, items)
    log_popularity = np.log(np.log1p(rng.pareto(1.0, items)) + 1e-3)
    user = np.repeat(np.arange(users, dtype=np.int32), counts)
    item = np.empty(len(user), dtype=np.int32)
    start = 0
    for u in range(users):
        keys = log_popularity - np.log(rng.exponential(size=items))      # Gumbel top-k
        k = counts[u]
        item[start:start + k] = np.sort(np.argpartition(-keys, k - 1)[:k])
        start += k
    mean = 3.5 + rng.normal(0.0, 0.45, users)[user] + rng.normal(0.0, 0.5, items)[item]
    rating = np.clip(np.round(mean + rng.normal(0.0, 0.9, len(user))), 1, 5)
    return pd.DataFrame({"rating": rating, "user": user, "item": item})


if __name__ == "__main__":
    rows, users, items = (int(float(a)) for a in sys.argv[1:4])
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    frame = ratings(rows, users, items, seed)
    frame.to_parquet(sys.argv[4], index=False)
    per_user = np.bincount(frame.user)
    per_item = np.bincount(frame.item, minlength=items)
    print(f"{len(frame)} ratings, {users} users (mean {per_user.mean():.1f}, sd {per_user.std():.1f}, "
          f"max {per_user.max()}), {np.count_nonzero(per_item)} items rated (max {per_item.max()})")
