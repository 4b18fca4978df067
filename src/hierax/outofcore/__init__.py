"""Gaussian mixed models of data that do not fit in memory: Dask frames and Parquet files.

A linear mixed model depends on its rows only through sums over them: the cross-products of
[Z X y] that REML factorises (``hierax.linalg.pls.CrossProducts``) and a few column moments
that the default priors and the checks read. Each sum adds over chunks of rows. So a fit of
out-of-core data makes passes over the chunks where they live (Dask workers, or this process's
threads), each returning a small summary, and adds the summaries up on the client:

1. a scan learns the encoding (levels, ``scale()`` moments, column kinds:
   ``hierax.design.summary``), so that every chunk is encoded as the whole frame would be;
2. the statistics pass encodes each chunk and forms its cross-products, column moments and the
   R factor of [X y] (``statistics``);
3. the engine fits from the sums, as it fits in-memory data from the same sums.

The client holds the sums (levels x effects, not rows), so its memory does not grow with the
number of rows. ``source`` turns the user's data into a Dask frame; ``passes`` maps a function
over its partitions and reduces the results as a tree; ``fit`` composes the stages.
"""
