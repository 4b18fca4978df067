"""Replicated data for out-of-core rows: ``posterior_predict`` on each partition, as a Dask frame.

The draws replicated (a few hundred of the posterior's, effects included) are made once on the
client, where a lazy posterior draws them (``hierax.outofcore.lazy``), and travel to the
partitions as one shared object of the graph. Each partition draws its responses with a generator
seeded by the seed and its partition number, so the frame is the same however it is computed.
"""

from __future__ import annotations

from hierax.outofcore.passes import shared
from hierax.outofcore.source import dask_frame


def replicate_partitions(replicate, fit, newdata, draws, rows, seed: int):
    """``replicate(fit, partition, draws, rows, seed, number)`` (a pandas frame of the partition's
    replicated data; ``number`` the partition's) over the partitions of ``newdata``, as a Dask frame."""
    frame = dask_frame(newdata, None)
    needed = [c for c in fit.design_info.formula.variables if c in frame.columns]
    frame = frame[needed]
    meta = replicate(fit, frame.head(1, npartitions=-1), draws, rows, seed, 0).iloc[:0]
    return frame.map_partitions(_replicate_partition, replicate, shared(fit), shared(draws), rows, seed, meta,
                                meta=meta)


def _replicate_partition(part, replicate, fit, draws, rows, seed: int, meta, partition_info=None):
    if not len(part):
        return meta
    return replicate(fit, part, draws, rows, seed, 0 if partition_info is None else partition_info["number"])
