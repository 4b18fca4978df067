"""Where the chains run: spread over the CPU devices, one chain per device at a time.

A plain layer under the NUTS engine (:mod:`hierax.engines.nuts`): a layout (devices used,
chains per device), the compiled map of a per-chain function over it, and moving chain-stacked
arrays between the host and the devices.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


def device_layout(chains: int) -> tuple[int, int]:
    """(devices used, chains per device): as many devices as divide the chains evenly."""
    devices = min(jax.local_device_count(), chains)
    while chains % devices:
        devices -= 1
    return devices, chains // devices


def parallel(fn, broadcast: tuple, devices: int, compiler_options=None, first: int = 0):
    """``fn`` (one chain) over ``devices`` devices, one chain each: jit of a shard_map whose
    blocks are (1, 1, ...) of every argument not marked in ``broadcast`` (those are shared), the
    chain taken out. More chains than devices run in turns (:func:`hierax.engines.steps.in_slots`),
    never vectorised: a chain's arithmetic must not depend on the layout.

    Why jit of shard_map and not pmap (which is the same underneath): jit takes per-program XLA
    ``compiler_options``, so the chunk can be compiled for a short compile or a fast run.
    ``first``: the first device used (devices run their programs in turn: work that should run
    beside another's goes on other devices).
    """
    mesh = _mesh(devices, first)

    def per_device(*args):
        args = [a if b else jax.tree_util.tree_map(lambda x: x[0, 0], a) for a, b in zip(args, broadcast)]
        return jax.tree_util.tree_map(lambda x: x[None, None], fn(*args))

    specs = tuple(P() if b else P(_AXIS) for b in broadcast)
    mapped = jax.shard_map(per_device, mesh=mesh, in_specs=specs, out_specs=P(_AXIS), check_vma=False)
    return jax.jit(mapped, in_shardings=tuple(NamedSharding(mesh, spec) for spec in specs),
                   compiler_options=compiler_options)


_AXIS = "chains"


@functools.lru_cache(maxsize=None)
def _mesh(devices: int, first: int = 0) -> Mesh:
    return Mesh(np.asarray(jax.local_devices()[first:first + devices]), (_AXIS,))


def split_chains(tree, layout):
    """A leading chain axis split into (devices, chains per device)."""
    devices, per_device = layout
    return jax.tree_util.tree_map(lambda x: jnp.reshape(x, (devices, per_device) + x.shape[1:]), tree)


def merge(x):
    """(devices, chains per device, ...) back to one chain axis, on the host."""
    x = np.asarray(x)
    return x.reshape((x.shape[0] * x.shape[1],) + x.shape[2:])


def on_devices(tree, layout):
    """Host arrays with a leading device axis, placed on the devices as the chunk's own outputs
    are, so that the chunk sees one kind of argument from its first call on."""
    sharding = NamedSharding(_mesh(layout[0]), P(_AXIS))
    return jax.tree_util.tree_map(lambda x: jax.device_put(x, sharding), tree)
