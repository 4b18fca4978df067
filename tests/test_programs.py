"""The release of cached compiled programs before the process runs out of memory maps
(``hierax._programs``): past ``vm.max_map_count`` XLA's next load kills the process."""

import jax
import jax.numpy as jnp
import pytest

from hierax import _programs
from hierax._programs import memory_maps, program_cache, release_if_crowded

linux = pytest.mark.skipif(memory_maps() is None, reason="no /proc/self/maps (not Linux)")


@program_cache(maxsize=4)
def _jitted(power: int):
    return jax.jit(lambda x: jnp.sum(x ** power))


def test_release_only_past_the_crowded_share():
    _jitted(2)(jnp.ones(3))
    assert not release_if_crowded(held=50, limit=100)
    assert _jitted.cache_info().currsize == 1
    assert release_if_crowded(held=51, limit=100)
    assert _jitted.cache_info().currsize == 0


def test_the_process_maps_are_counted_at_most_once_a_second(monkeypatch):
    """Counting them reads /proc/self/maps (milliseconds); a small REML refit takes 10-15 ms."""
    counted = []
    monkeypatch.setattr(_programs, "memory_maps", lambda: counted.append(1) or 10)
    monkeypatch.setattr(_programs, "_last_check", [float("-inf")])
    clock = [100.0]
    monkeypatch.setattr(_programs, "_now", lambda: clock[0])
    for _ in range(5):
        release_if_crowded()
    assert len(counted) == 1
    clock[0] += _programs.CHECK_EVERY
    release_if_crowded()
    assert len(counted) == 2
    assert release_if_crowded(held=10**9, limit=100)         # given counts are never skipped


def test_unknown_limit_releases_nothing(monkeypatch):
    monkeypatch.setattr(_programs, "_LIMIT_FILE", "/nonexistent/max_map_count")
    _jitted(3)(jnp.ones(3))
    assert not release_if_crowded(held=10**9)
    assert _jitted.cache_info().currsize == 1


@linux
def test_release_returns_the_programs_memory_maps():
    """Each program compiled holds memory maps (about 14 with jaxlib 0.10); released, they go."""
    before = memory_maps()
    functions = [_jitted(p) for p in range(4)] + [jax.jit(lambda x, k=k: jnp.cos(x) * k) for k in range(40)]
    for function in functions:
        function(jnp.ones(7)).block_until_ready()
    grown = memory_maps() - before
    assert grown >= 2 * len(functions)
    del functions
    _programs.release()
    assert memory_maps() - before < grown / 2
