"""Predictions for out-of-core new data: the fit's ``predict`` on each partition, as a Dask frame.

The rows never come to the client: each partition is encoded and predicted where it lies, and
the result is a lazy Dask frame with the partitions (and index) of the new data. Every
partition draws the same parameter draws (one seed, chosen on the client when none is given),
so the intervals of all rows come from one set of draws, as for an in-memory frame.
"""

from __future__ import annotations

from hierax.config import check_seed
from hierax.outofcore.passes import shared
from hierax.outofcore.source import dask_frame


def predict_partitions(predict, fit, newdata, **options):
    """``predict(fit, partition, **options)`` over the partitions of ``newdata`` (a Dask frame,
    or Parquet files), as a Dask frame."""
    frame = dask_frame(newdata, None)
    needed = [c for c in fit.design_info.formula.variables if c in frame.columns]
    frame = frame[needed]
    options = {**options, "seed": check_seed(options.get("seed"))}
    meta = predict(fit, frame.head(1, npartitions=-1), **options).iloc[:0]
    return frame.map_partitions(_predict_partition, predict, shared(fit), options, meta, meta=meta)


def _predict_partition(part, predict, fit, options, meta):
    import dask

    if not len(part):
        return meta
    # a lazy posterior (hierax.outofcore.lazy) is drawn here, in this task's thread, not as new
    # tasks of the cluster the task runs on (whose threads may all be waiting on such tasks)
    with dask.config.set(scheduler="sync"):
        return predict(fit, part, **options)
