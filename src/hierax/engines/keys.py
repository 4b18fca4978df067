"""PRNG keys derived on the host, by NumPy.

JAX's ``random.split`` and ``fold_in`` compile once per shape, about 0.2 s each on a CPU, and a fit
needs keys of several shapes (per chain, per chunk of steps, per draw): a second of a first fit
spent compiling key arithmetic. Any pair of uint32 words is a valid threefry key, so the engines
derive their keys here instead: NumPy's PCG64 seeded with the parent key's words and a salt gives
independent, reproducible streams.
"""

from __future__ import annotations

import jax
import numpy as np


def key_words(rng_key) -> list[int]:
    """The uint32 words of a key (a raw uint32 key or a typed one)."""
    if jax.dtypes.issubdtype(rng_key.dtype, jax.dtypes.prng_key):
        rng_key = jax.random.key_data(rng_key)
    return [int(v) for v in np.asarray(rng_key).ravel()]


def split_keys(rng_key, num: int, *salt: int) -> np.ndarray:
    """``num`` keys (num, 2) uint32 from ``rng_key`` and the whole numbers ``salt``."""
    sequence = np.random.SeedSequence(key_words(rng_key) + [int(s) for s in salt])
    return np.random.Generator(np.random.PCG64(sequence)).integers(0, 2**32, size=(num, 2), dtype=np.uint32)


def seed_key(seed: int) -> np.ndarray:
    """The raw threefry key of a seed, as ``jax.random.PRNGKey(seed)`` makes it (seed < 2**32)."""
    return np.array([0, seed], dtype=np.uint32)
