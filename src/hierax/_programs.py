"""The compiled programs this process holds, and their release before it runs out of memory maps.

Why: every program XLA compiles for the CPU is loaded into about 14 memory maps of its own (the
code and data sections of each device's copy; measured on jaxlib 0.10). Linux caps a process at
``vm.max_map_count`` maps (65,530 by default), and past the cap XLA's next load fails inside C++:
the process dies with a segmentation fault or an abort, not an exception. A session that fits a
few hundred models of different shapes (a notebook, a loop over data sets, the test suite) holds
some 4,500 programs by then, because JAX's caches and hierax's caches of jitted functions keep
them all. :func:`release_if_crowded`, called as each fit starts, empties those caches once the
process holds more than half of its allowance; the programs a later fit needs are compiled again
(or read back from the persistent compilation cache).
"""

from __future__ import annotations

import functools
import logging
import time

import jax

CROWDED = 0.5                    # the share of vm.max_map_count at which the caches are emptied
# Counting the maps reads /proc/self/maps, about 1.7 ms once JAX is loaded: a sixth of a small REML
# refit. Once a second is enough: half the allowance is some 2,300 programs, and no process
# compiles that many in a second (a program takes milliseconds to compile and load).
CHECK_EVERY = 1.0                # seconds between two counts of the process's memory maps
_LIMIT_FILE = "/proc/sys/vm/max_map_count"
_CACHES: list = []
_last_check = [float("-inf")]
_now = time.monotonic

log = logging.getLogger(__name__)


def program_cache(maxsize: int):
    """``functools.lru_cache(maxsize)`` for a function that returns jitted functions or compiled
    programs, registered so that :func:`release` can empty it."""
    def decorate(function):
        cached = functools.lru_cache(maxsize=maxsize)(function)
        _CACHES.append(cached)
        return cached
    return decorate


def release() -> None:
    """Drop every compiled program this process caches: hierax's caches of jitted functions and
    JAX's own. Objects that hold a program themselves (a fitted model's functions) keep it."""
    for cached in _CACHES:
        cached.cache_clear()
    jax.clear_caches()


def memory_maps() -> int | None:
    """How many memory maps the process holds, or None where ``/proc`` does not say (not Linux)."""
    try:
        with open("/proc/self/maps", "rb") as maps:
            return maps.read().count(b"\n")
    except OSError:
        return None


def map_limit() -> int | None:
    """The kernel's cap on a process's memory maps, or None where it is not known."""
    try:
        with open(_LIMIT_FILE) as limit:
            return int(limit.read())
    except (OSError, ValueError):
        return None


def release_if_crowded(held: int | None = None, limit: int | None = None) -> bool:
    """:func:`release` if the process holds more than :data:`CROWDED` of its allowance of memory
    maps; True if it did. ``held`` and ``limit`` default to the process's own (tests pass them);
    the process's own maps are counted at most once every :data:`CHECK_EVERY` seconds."""
    if held is None:
        now = _now()
        if now - _last_check[0] < CHECK_EVERY:
            return False
        _last_check[0] = now
    limit = map_limit() if limit is None else limit
    if limit is None:
        return False
    held = memory_maps() if held is None else held
    if held is None or held <= CROWDED * limit:
        return False
    log.info("%d of %d memory maps in use: releasing cached compiled programs", held, limit)
    release()
    return True
