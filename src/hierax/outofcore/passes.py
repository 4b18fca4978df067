"""One pass over a Dask frame's partitions: a function of each, its results added as a tree.

Each partition's result (a scan, the statistics of its rows) is small and the results merge
associatively, so they are combined pairwise in a tree of ``split_every`` at a time on the
workers, and only the final sum reaches the client: its memory holds a few summaries at once,
whatever the number of partitions. The pass runs on Dask's current scheduler: the
``distributed.Client`` made last (a local cluster, or any the user connected to), else Dask's
threads in this process. :func:`shared` hands one object (a fit, draws) to every partition's task.
"""

from __future__ import annotations

from functools import reduce

SPLIT_EVERY = 8


def over_partitions(frame, each, merge, split_every: int = SPLIT_EVERY):
    """``merge`` of ``each(partition)`` over the partitions of ``frame`` (a tree of merges).

    ``each`` and ``merge`` must be picklable (module-level functions, or ``functools.partial``
    of them) to run on a cluster's workers. A HieraxError raised on a worker (bad values in a
    partition) reaches the caller as itself.
    """
    import dask

    layer = [dask.delayed(each)(part) for part in frame.to_delayed()]
    combine = dask.delayed(_merge_all)
    while len(layer) > 1:
        layer = [combine(merge, layer[k:k + split_every]) for k in range(0, len(layer), split_every)]
    (result,) = dask.compute(layer[0])
    return result


def _merge_all(merge, parts: list):
    return reduce(merge, parts)


def shared(value):
    """``value`` once for every partition: sent to the workers of a ``distributed`` client ahead of
    the graph (a fit with its rows, or 100 draws of 200,000 effects, 80 MB, which a graph should
    not embed), else one delayed object of the graph."""
    import dask

    try:
        from distributed import get_client

        client = get_client()
    except (ImportError, ValueError):          # no distributed, or no client: the threads share it
        return dask.delayed(value, traverse=False)
    return client.scatter(value, broadcast=True, hash=False)     # hash=False: no tokenising of a whole fit

