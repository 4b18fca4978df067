"""Configure JAX before first use: float64, one CPU device per core so chains run in parallel,
and a persistent cache of compiled programs.

XLA reads the device count once, when JAX's backend starts, so this must run before any JAX
computation; ``hierax/__init__`` imports it first. A user who already set
``--xla_force_host_platform_device_count`` keeps their value.

The compilation cache. Compiling a sampler takes seconds, and the programs hierax compiles depend
on a model's structure and sizes, not on its data (the collapsed sampler takes the data's
statistics and the priors at run time, with the number of levels rounded up to a power of two),
so a later process fitting a model of the same structure loads the compiled program from disk
instead of compiling it again, as PyMC keeps its compiled C and Stan users keep compiled models.
It lives in ``$HIERAX_CACHE_DIR``, else ``$XDG_CACHE_HOME/hierax/jax`` (``~/.cache/hierax/jax``),
holds JAX's own entries (keyed by the program, the compiler options and the versions, so a stale
entry is never used), is capped at 1 GB, and is turned off by ``HIERAX_CACHE_DIR=off``. A
cache directory that the user set for JAX already is left alone.
"""

from __future__ import annotations

import os


def configure() -> None:
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        count = max(os.cpu_count() or 1, 4)
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}".strip()
    import jax

    jax.config.update("jax_enable_x64", True)
    _compilation_cache(jax)


def _compilation_cache(jax) -> None:
    setting = os.environ.get("HIERAX_CACHE_DIR", "")
    if setting.lower() in ("off", "0", "none", "false") or jax.config.jax_compilation_cache_dir:
        return
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    jax.config.update("jax_compilation_cache_dir", setting or os.path.join(base, "hierax", "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    jax.config.update("jax_compilation_cache_max_size", 2**30)


configure()
