"""Compilation for programs that run briefly.

On a first fit most of the wait is XLA compiling, not sampling: the mode search, the effect draws,
the constrained parameters and the log-likelihood each run for a fraction of a second but took
as long again to compile. XLA's CPU backend has two code generators for fused loops: the newer
emitters make faster code, the older ones compile in about two thirds of the time (a collapsed
q = 2 gradient: 0.36 s against 0.66 s). Programs that run briefly are compiled with the older ones
(jaxlib up to 0.11; jaxlib 0.12's XLA has only the newer, and they compile as a plain jit).
The options are part of the compilation cache's key, so cached programs are never mixed up.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

_OPTIONS = {"xla_cpu_use_fusion_emitters": False}


@functools.lru_cache(maxsize=None)
def quick_options() -> dict | None:
    """The XLA options for a quick compile, or None where this XLA does not know them (another
    backend, or a version that dropped the option): a plain compile then."""
    if jax.default_backend() != "cpu":
        return None
    try:
        jax.jit(lambda x: x + 1, compiler_options=_OPTIONS).lower(np.zeros(1)).compile()
    except Exception:  # noqa: BLE001 - any refusal means: compile as usual
        return None
    return dict(_OPTIONS)


def quick_jit(fn, **kwargs):
    """``jax.jit(fn)`` compiled for a short compile rather than a fast run."""
    return jax.jit(fn, compiler_options=quick_options(), **kwargs)
