"""Many fits of one model, one compilation: the machinery under SBC and leave-one-group-out.

A :class:`RefitSpec` is all a worker process needs to rebuild a model (picklable: formula, data,
family, priors, NUTS settings). :func:`compiled_sampler` takes the response and per-row weights
as runtime arguments, so the sampler compiled for the first fit serves every later one (the
engine keeps its compiled steps per density function). Workers keep
one of each per model in :func:`worker_cached`.
"""

from __future__ import annotations

import hashlib
import pickle
from concurrent.futures import as_completed
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class RefitSpec:
    formula: str
    data: pd.DataFrame
    family: str
    link: str | None
    priors: dict
    chains: int
    warmup: int
    draws: int

    def key(self) -> str:
        return hashlib.sha256(pickle.dumps(self)).hexdigest()

    def model(self, priors: dict | None = None):
        """The model, with ``priors`` (if given) replacing some of its priors."""
        from hierax.workflow.simulate import model

        return model(self.formula, self.data, self.family, self.link, {**self.priors, **(priors or {})})


def compiled_sampler(spec, chains: int, warmup: int, draws: int, collapse: bool | None = None):
    """The sampler for many data sets of one model: ``sample(rng_key, data)`` with ``data``
    holding ``y`` and/or ``weight`` as runtime arrays (``hierax.sampler.SpecSampler``).

    Where ``collapse=None`` would choose the embedded Laplace approximation by itself, every
    effect is sampled instead: ``hx.fit`` falls back so where the approximation's check fails,
    and many fits have no one to read a check (SBC would blame the model for the approximation)."""
    from hierax._programs import release_if_crowded
    from hierax.config import nuts_config
    from hierax.sampler import SpecSampler

    release_if_crowded()

    sampler = SpecSampler(spec, nuts_config(chains, warmup, draws, None, 10), collapse)
    if getattr(sampler.target, "automatic", False):
        return SpecSampler(spec, nuts_config(chains, warmup, draws, None, 10), False)
    return sampler


_CACHE: dict = {}


def worker_cached(build, *key):
    """``build()``'s result, kept in this process for later calls with the same ``key`` (the
    last one only: a worker serves one model at a time)."""
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = build()
    return _CACHE[key]


def fan_out(function, arguments: list, executor, progress: bool, label: str) -> list:
    """``function(*a)`` for each ``a`` here in turn, or over ``executor``; results in order."""
    from tqdm.auto import tqdm

    bar = dict(desc=label, unit="fit", disable=None if progress else True, leave=False)
    if executor is None:
        return [function(*a) for a in tqdm(arguments, **bar)]
    futures = [executor.submit(function, *a) for a in arguments]
    for _ in tqdm(as_completed(futures), total=len(futures), **bar):
        pass
    return [f.result() for f in futures]
