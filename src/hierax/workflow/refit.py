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

from hierax.errors import HieraxError


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


@dataclass(frozen=True)
class FannedOut:
    """What :func:`fan_out` brings back: ``results`` of the tasks that finished, in the order of
    their arguments, ``done`` their positions among the arguments, and ``failed`` a
    (position, "ErrorType: message") pair for each task that raised."""

    results: list
    done: list
    failed: list


def fan_out(function, arguments: list, executor, progress: bool, label: str) -> FannedOut:
    """``function(*a)`` for each ``a``, here in turn or over ``executor`` (any
    ``concurrent.futures.Executor``: processes, threads, Dask's ``client.get_executor()``),
    each result taken as it finishes.

    A task that raises is recorded in ``failed`` and the others go on: one simulation that breaks,
    or a worker lost for good, costs that task and not the finished ones. (Dask reruns a lost
    worker's tasks on the others by itself; a process pool whose worker dies fails the tasks it
    had not finished.) A KeyboardInterrupt still stops the whole run. Where every task fails,
    the first error is raised: then the fault is the model's or the code's, not one task's.
    """
    from tqdm.auto import tqdm

    check_executor(executor)
    bar = dict(desc=label, unit="fit", disable=None if progress else True, leave=False)
    outcomes = {}
    if executor is None:
        for position, a in enumerate(tqdm(arguments, **bar)):
            outcomes[position] = _outcome(lambda: function(*a))
    else:
        futures = {executor.submit(function, *a): position for position, a in enumerate(arguments)}
        for future in tqdm(as_completed(futures), total=len(futures), **bar):
            outcomes[futures[future]] = _outcome(future.result)
    done = [k for k in sorted(outcomes) if not isinstance(outcomes[k], BaseException)]
    failed = [(k, f"{type(outcomes[k]).__name__}: {outcomes[k]}") for k in sorted(outcomes)
              if isinstance(outcomes[k], BaseException)]
    if arguments and not done:
        raise HieraxError(f"{label}: all {len(arguments)} tasks failed; the first with {failed[0][1]}") \
            from outcomes[failed[0][0]]
    return FannedOut([outcomes[k] for k in done], done, failed)


def check_executor(executor) -> None:
    """Refuse what cannot fan the fits out, before any fit: an executor's ``submit`` must return
    ``concurrent.futures`` futures. A Dask ``Client`` has a ``submit`` of its own, whose futures
    are Dask's: its ``get_executor()`` is the one to pass."""
    if executor is None:
        return
    if callable(getattr(executor, "get_executor", None)):
        raise HieraxError("executor= is a Dask client: pass client.get_executor(), its concurrent.futures executor")
    if not callable(getattr(executor, "submit", None)):
        raise HieraxError(f"executor={executor!r} is not an executor: give a concurrent.futures.Executor (a "
                          "ProcessPoolExecutor with the 'spawn' start method, or a Dask client's "
                          "client.get_executor()), or None to run the fits here in turn")


def _outcome(call):
    """``call()``'s result, or the Exception it raised (not a KeyboardInterrupt: that stops the run)."""
    try:
        return call()
    except Exception as error:          # noqa: BLE001  (any task's failure is recorded, fan_out's docstring)
        return error
