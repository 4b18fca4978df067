"""Configure JAX before first use: float64, and one CPU device per core so chains run in parallel.

XLA reads the device count once, when JAX's backend starts, so this must run before any JAX
computation; ``hierax/__init__`` imports it first. A user who already set
``--xla_force_host_platform_device_count`` keeps their value.
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


configure()
