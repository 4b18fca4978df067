"""A collapsed model's group effects, drawn chunk by chunk of levels after sampling.

With one grouping factor the collapsed sampler moves only the hyperparameters; every draw's
effects come afterwards from their exact conditional (``hierax.density.collapsed.draw_effects``),
independently level by level. Their draws are the largest part of a fit: 100,000 levels x 2
effects x 4,000 draws are 3.2 GB even in float32. Drawing them by chunks of at most
``LEVELS_PER_CHUNK`` levels bounds the memory of a call, and lets a caller keep them lazy: an
out-of-core fit's posterior holds them as a Dask array whose blocks are these chunks
(``hierax.outofcore.lazy``), computed where and when they are read.

The noise of chunk k comes from each draw's key folded with k (chunk 0's from the key itself), so
a chunk's draws depend on nothing but the chunk: the same bits whether every chunk is drawn at
once in memory, or one at a time, lazily, on the client or on a Dask worker. A model with at most
``LEVELS_PER_CHUNK`` (padded) levels is one chunk, drawn exactly as a single call always drew it.

Everything a chunk needs (:class:`EffectChunks`) is plain, picklable data: the structure (whose
compiled sampler every process builds once, ``program_cache``), the hyperparameters' positions,
the keys and the statistics.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hierax._programs import program_cache
from hierax.density.collapsed import Collapsed, GroupStats, draw_effects, padded_levels
from hierax.density.logdensity import constrain_hyper
from hierax.model.layout import PARAMS

LEVELS_PER_CHUNK = 16_384


class EffectChunks(NamedTuple):
    """What drawing one block's effects takes, chunk by chunk (all NumPy).

    ``positions``: the hyperparameters' unconstrained draws, flat (draws, ...) in chain-major
    order; ``keys``: (draws, 2) uint32, one per draw; ``stats``: the block's statistics for
    ``levels`` levels (padding beyond them is ignored); ``batch``: draws per call of the
    compiled sampler; ``dtype``: of the draws kept; ``jit``: how the sampler is compiled (a
    module-level function such as ``jax.jit``: compiler options can change the last bits);
    ``width``: levels per chunk, held here so that a chunk drawn elsewhere (a Dask worker) is the
    same chunk.
    """

    structure: Collapsed
    positions: dict
    keys: np.ndarray
    stats: GroupStats
    levels: int
    batch: int
    dtype: object
    jit: object = jax.jit
    width: int = 0             # levels per chunk (:func:`chunk_width`), fixed when the draws are made


    @property
    def bounds(self) -> list:
        """(first, last + 1) level of each chunk."""
        return [(start, min(start + self.width, self.levels)) for start in range(0, self.levels, self.width)]

    @property
    def num_draws(self) -> int:
        return len(self.keys)

    @property
    def num_terms(self) -> int:
        return self.stats.ZtZ.shape[0]


def chunk_width(levels: int) -> int:
    """Levels per chunk (the compiled sampler's): the padded levels of a model small enough for
    one chunk, else ``LEVELS_PER_CHUNK``."""
    return min(padded_levels(levels), LEVELS_PER_CHUNK)


def effect_chunks(structure: Collapsed, positions: dict, keys, stats: GroupStats, levels: int, batch: int,
                  dtype, jit=jax.jit) -> EffectChunks:
    """:class:`EffectChunks` with every array brought to the host (``stats`` may be padded)."""
    stats = GroupStats(*(np.asarray(x) for x in stats))
    positions = jax.tree_util.tree_map(np.asarray, positions)
    return EffectChunks(structure, positions, np.asarray(keys, dtype=np.uint32), stats, levels, batch, dtype, jit,
                        chunk_width(levels))


def chunk_statistics(stats: GroupStats, first: int, last: int, width: int) -> GroupStats:
    """The statistics of levels first..last-1, padded with empty levels to ``width``."""
    def cut(x):
        part = x[..., first:last]
        return np.concatenate([part, np.zeros(part.shape[:-1] + (width - part.shape[-1],))], axis=-1)

    return stats._replace(ZtZ=cut(stats.ZtZ), ZtX=cut(stats.ZtX), Zty=cut(stats.Zty))


def chunk_keys(keys: np.ndarray, chunk: int) -> np.ndarray:
    """Each draw's key for ``chunk``: the key itself for chunk 0, else folded with the chunk."""
    if chunk == 0:
        return keys
    return np.asarray(_fold(jnp.asarray(keys), chunk))


@jax.jit
def _fold(keys, chunk):
    return jax.vmap(lambda key: jax.random.fold_in(key, chunk))(keys)


def draw_chunk(chunks: EffectChunks, chunk: int, sampler=None, out: np.ndarray | None = None) -> np.ndarray:
    """The effects of chunk ``chunk`` at every draw: (draws, levels of the chunk, q), in
    ``chunks.dtype``. ``sampler``: :func:`effect_sampler`'s function, compiled, if the caller
    has it (else built here, once per process and structure). ``out``: where to write them (a
    view of :func:`draw_all`'s array), so that the largest array of a fit is never held twice."""
    first, last = chunks.bounds[chunk]
    stats = jax.tree_util.tree_map(jnp.asarray, chunk_statistics(chunks.stats, first, last, chunks.width))
    keys = chunk_keys(chunks.keys, chunk)
    sampler = sampler or effect_sampler(chunks.structure, chunks.jit)
    total, batch = chunks.num_draws, chunks.batch
    if out is None:
        out = np.empty((total, last - first, chunks.num_terms), dtype=chunks.dtype)
    for start in range(0, total, batch):
        # the last batch is padded to full size (repeating the first draws), so one compiled
        # function serves every batch; the padding is cut off
        rows = np.arange(start, start + batch) % total
        part = jax.tree_util.tree_map(lambda x: x[rows], chunks.positions)
        drawn = np.asarray(sampler(part, keys[rows], stats))
        stop = min(start + batch, total)
        out[start:stop] = drawn[:stop - start, :last - first]
    return out


def draw_all(chunks: EffectChunks, sampler=None) -> np.ndarray:
    """Every chunk, drawn now, into one (draws, levels, q) array."""
    out = np.empty((chunks.num_draws, chunks.levels, chunks.num_terms), dtype=chunks.dtype)
    for k, (first, last) in enumerate(chunks.bounds):
        draw_chunk(chunks, k, sampler, out=out[:, first:last])
    return out


def hyperparameters(structure: Collapsed, positions: dict) -> dict:
    """The constrained hyperparameters (beta, sigma, sds, correlations' factors) of every draw
    of flat ``positions``, NumPy."""
    return jax.device_get(_hyper_constrainer(structure)(positions))


def effect_sampler(structure: Collapsed, jit=jax.jit):
    """``(positions, keys, stats) -> b`` (batch, width, q): a batch of draws of one chunk."""
    return _effect_sampler(structure, jit)


@program_cache(maxsize=16)
def _effect_sampler(structure: Collapsed, jit):
    name = structure.layout[0][0]

    def one(position, key, stats):
        params, _ = constrain_hyper(position, structure.scalars, structure.layout)
        return draw_effects(key, params, stats, name)

    return jit(jax.vmap(one, in_axes=(0, 0, None)))


@program_cache(maxsize=16)
def _hyper_constrainer(structure: Collapsed):
    def one(position):
        params, _ = constrain_hyper(position, structure.scalars, structure.layout)
        params.pop(PARAMS.effects, None)
        return params

    return jax.jit(jax.vmap(one))
