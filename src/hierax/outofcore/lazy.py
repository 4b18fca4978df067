"""An out-of-core fit's group effects as a lazy Dask array.

The collapsed sampler's effect draws are the only part of a NUTS fit whose size grows with the
levels times the draws (100,000 groups x 2 effects x 4,000 draws: 3.2 GB in float32), and out-of-core
data are where the levels are many. So such a fit's posterior holds them as a Dask array whose
blocks are the chunks of levels of ``hierax.density.effect_chunks``: each block is drawn when it
is read, from the saved hyperparameter draws, keys and per-level statistics (kilobytes to
megabytes), on the client's threads or on the cluster's workers. The bits are those the fit in
memory draws at once, because a chunk's noise depends on the chunk alone.

Reading a block twice draws it twice (the same values, the cost again): a caller that reads the
effects often can ``fit.idata.posterior["b_g"].persist()`` them (held on a cluster's workers
with ``dask.distributed``) or ``.load()`` them into memory.
"""

from __future__ import annotations

from hierax.density.effect_chunks import EffectChunks, draw_chunk


def lazy_effects(chunks: EffectChunks, chains: int, draws: int):
    """The draws of ``chunks`` as a (chains, draws, levels, q) Dask array, one block a chunk."""
    import dask
    import dask.array as da

    shared = dask.delayed(chunks, traverse=False)
    blocks = [da.from_delayed(dask.delayed(draw_chunk, pure=True)(shared, k),
                              shape=(chunks.num_draws, last - first, chunks.num_terms), dtype=chunks.dtype)
              for k, (first, last) in enumerate(chunks.bounds)]
    effects = da.concatenate(blocks, axis=1)
    return effects.reshape((chains, draws) + effects.shape[1:])
