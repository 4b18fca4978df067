"""Configure JAX before first use: float64, one CPU device per core so chains run in parallel,
and a persistent cache of compiled programs.

Why through the environment. ``import hierax`` must stay cheap (``hierax --help`` should answer
at once), so it no longer imports JAX; JAX loads only when a fit or another computation needs
it. Every import of a hierax module runs ``hierax/__init__`` (and so :func:`configure`) first,
before that module imports JAX. While JAX is not yet imported, the settings are therefore
written where JAX reads them when it loads: ``XLA_FLAGS`` (the device count, read once when the
backend starts), ``JAX_ENABLE_X64`` and the ``JAX_COMPILATION_CACHE_DIR`` /
``JAX_PERSISTENT_CACHE_*`` / ``JAX_COMPILATION_CACHE_MAX_SIZE`` variables (JAX reads every
config option from the upper-case variable of its name). Where the user imported JAX before
hierax, the same settings go through ``jax.config.update``; the device count then still takes
effect unless a JAX computation has already started the backend. Child processes inherit the
variables, as worker processes of ``hx.sbc`` or ``hx.logo`` want; ``HIERAX_JAX_VARIABLES`` records
which ones hierax wrote, so that a child's own hierax (say with another ``HIERAX_CACHE_DIR``)
replaces them rather than taking them for the user's.

A user who already set ``--xla_force_host_platform_device_count`` keeps their value.

The compilation cache. Compiling a sampler takes seconds, and the programs hierax compiles depend
on a model's structure and sizes, not on its data (the collapsed sampler takes the data's
statistics and the priors at run time, with the number of levels rounded up to a power of two),
so a later process fitting a model of the same structure loads the compiled program from disk
instead of compiling it again, as PyMC keeps its compiled C and Stan users keep compiled models.
It lives in ``$HIERAX_CACHE_DIR``, else ``$XDG_CACHE_HOME/hierax/jax`` (``~/.cache/hierax/jax``),
holds JAX's own entries (keyed by the program, the compiler options and the versions, so a stale
entry is never used), is capped at 1 GB (trimmed by hierax once a day, not by JAX on every
write: ``hierax._cache_trim`` says why), and is turned off by ``HIERAX_CACHE_DIR=off``. A
cache directory that the user set for JAX already (``JAX_COMPILATION_CACHE_DIR`` or
``jax.config``) is left alone, with the user's own cache options.
"""

from __future__ import annotations

import json
import os
import sys

CACHE_OFF = ("off", "0", "none", "false")
CACHE_MAX_BYTES = 2**30
# The JAX variables hierax wrote, with their values (JSON). A child process inherits them; reading
# this, its own hierax tells them from the user's (a variable the user set since has another value)
# and applies its own HIERAX_CACHE_DIR instead of its parent's.
WRITTEN = "HIERAX_JAX_VARIABLES"


def configure() -> None:
    """Apply hierax's JAX settings: by environment before JAX loads, by ``jax.config`` after."""
    inherited = _forget_inherited(os.environ)
    _device_count(os.environ)
    jax = sys.modules.get("jax")
    options = {"jax_enable_x64": True}
    if not _user_cache_dir(jax, inherited):
        options.update(_cache_options(os.environ))
        if "jax_compilation_cache_dir" in options:
            from hierax._cache_trim import trim_later

            trim_later(options["jax_compilation_cache_dir"], CACHE_MAX_BYTES)
    if jax is None:
        _set_environment(os.environ, options)
        return
    if "jax_compilation_cache_dir" not in options and _loaded_config(jax, "jax_compilation_cache_dir") == \
            inherited.get("JAX_COMPILATION_CACHE_DIR"):
        options["jax_compilation_cache_dir"] = None         # off here, though a parent process had it on
    for name, value in options.items():
        jax.config.update(name, value)


def _forget_inherited(environ) -> dict:
    """Remove the JAX variables a parent hierax process wrote (still as it wrote them); return them."""
    try:
        written = json.loads(environ.pop(WRITTEN, "{}"))
    except ValueError:
        return {}
    return {name: environ.pop(name) for name, value in written.items() if environ.get(name) == value}


def _user_cache_dir(jax, inherited: dict) -> bool:
    """Whether the user chose JAX's cache folder (by variable, or in ``jax.config`` before hierax)."""
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return True
    loaded = jax is not None and _loaded_config(jax, "jax_compilation_cache_dir")
    return bool(loaded) and loaded != inherited.get("JAX_COMPILATION_CACHE_DIR")


def _device_count(environ) -> None:
    """One host device per core (at least 4), so chains run in parallel; a user's own count is kept.

    XLA's thread pool as ``hierax._threads`` chooses (one thread per operation by default).
    """
    from hierax._threads import xla_flags

    flags = environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        count = max(os.cpu_count() or 1, 4)
        flags = f"{flags} --xla_force_host_platform_device_count={count}".strip()
    environ["XLA_FLAGS"] = f"{flags} {xla_flags(environ)}".strip()


def _cache_options(environ) -> dict:
    """The persistent cache's options, or none where ``HIERAX_CACHE_DIR`` turns it off.

    Every compiled program is cached (no minimum compile time or size): hierax's samplers are
    few and each takes seconds to compile. JAX's own size cap is off (-1): hierax trims the
    folder to ``CACHE_MAX_BYTES`` itself (``hierax._cache_trim``).
    """
    setting = environ.get("HIERAX_CACHE_DIR", "")
    if setting.lower() in CACHE_OFF:
        return {}
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return {
        "jax_compilation_cache_dir": setting or os.path.join(base, "hierax", "jax"),
        "jax_persistent_cache_min_compile_time_secs": 0.0,
        "jax_persistent_cache_min_entry_size_bytes": 0,
        "jax_compilation_cache_max_size": -1,
    }


def _set_environment(environ, options: dict) -> None:
    """Write ``options`` as the variables JAX reads when it loads (its option names, upper-cased).

    float64 is forced, as ``jax.config.update`` would force it: hierax's REML objective and
    samplers need it. The cache options are hierax's own choices and only fill what is unset.
    The names written are listed in ``HIERAX_JAX_VARIABLES`` for child processes.
    """
    written = {}
    for name, value in options.items():
        variable = name.upper()
        if name == "jax_enable_x64" or variable not in environ:
            environ[variable] = written[variable] = "1" if value is True else str(value)
    environ[WRITTEN] = json.dumps(written)


def _loaded_config(jax, name: str):
    """The current value of a JAX option, where JAX is already imported."""
    return getattr(jax.config, name, None)


configure()
