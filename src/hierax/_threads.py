"""How many threads hierax's numerical libraries use: one each by default, ``HIERAX_THREADS=N`` for N.

Why one. OpenBLAS (numpy's and scipy's copies; JAX's CPU Cholesky calls scipy's LAPACK) starts a
thread per core, and XLA runs each operation on a pool of a thread per core, and hierax's chains
already run in parallel, one CPU device each. On a machine that is busy with anything else,
those threads spin while they wait for a core and run time multiplies: REML on InstEval took
3.5 s instead of 1.6 s beside one other CPU-bound process on 2 cores, and 11 s with 2 BLAS
threads and a single-threaded XLA. With one thread each it took 1.8 s busy and 2.0 s alone; the
sampler lost 10% alone and gained 12% busy (``benchmarks/threads.py``, ``benchmarks/README.md``).
lme4 holds its time the same way: R's reference BLAS is single-threaded.

``HIERAX_THREADS=N`` (a whole number >= 1) gives BLAS N threads during a fit and, where N > 1,
lets XLA use its thread pool; it is read when hierax is imported. The XLA setting must be made
before JAX starts its CPU backend (``hierax._jax_setup``); the BLAS limit is applied around each
fit only (``blas_limit``), so a user's own numpy work outside hierax keeps its threads.
"""

from __future__ import annotations

import contextlib
import functools
import os

VARIABLE = "HIERAX_THREADS"
DEFAULT_THREADS = 1


def configured_threads(environ=os.environ) -> int:
    """The thread count asked for by ``HIERAX_THREADS``, or the default; a bad value is an error."""
    value = environ.get(VARIABLE, "").strip()
    if not value:
        return DEFAULT_THREADS
    if not value.isdigit() or int(value) < 1:
        from hierax.errors import HieraxError

        raise HieraxError(f"{VARIABLE} must be a whole number >= 1 (threads per fit), got {value!r}; "
                          f"unset it for hierax's default of {DEFAULT_THREADS}")
    return int(value)


def xla_flags(environ=os.environ) -> str:
    """The XLA flag that keeps each operation on one thread, or '' (the user's own flag wins)."""
    if configured_threads(environ) > 1 or "xla_cpu_multi_thread_eigen" in environ.get("XLA_FLAGS", ""):
        return ""
    return "--xla_cpu_multi_thread_eigen=false"


@functools.lru_cache(maxsize=1)
def _controller():
    """threadpoolctl's view of the BLAS libraries, made once: finding them costs milliseconds.

    scipy's LAPACK is loaded first, so that its OpenBLAS (JAX's Cholesky uses it) is among them.
    """
    import scipy.linalg  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def blas_limit():
    """BLAS at ``HIERAX_THREADS`` threads for the length of the block."""
    with _controller().limit(limits=configured_threads(), user_api="blas"):
        yield
