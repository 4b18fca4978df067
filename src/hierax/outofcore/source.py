"""Out-of-core data as a Dask frame: a ``dask.dataframe.DataFrame``, or Parquet files by path or glob.

Dask is an optional dependency (``pip install 'hierax[dask]'``); it is imported only here, and
only when such data are given, so an in-memory fit never loads it.
"""

from __future__ import annotations

import difflib
import glob
import os

from hierax.errors import DataError, ModelError

INSTALL = "pip install 'hierax[dask]'"


def is_out_of_core(data) -> bool:
    """Whether ``data`` name out-of-core data: a Dask frame, or a path (str or os.PathLike, a glob
    allowed) or a list of paths to Parquet files."""
    if type(data).__module__.split(".")[0] == "dask":
        return True
    if isinstance(data, (str, os.PathLike)):
        return True
    return isinstance(data, (list, tuple)) and bool(data) and all(isinstance(p, (str, os.PathLike)) for p in data)


def dask_frame(data, columns: tuple | None):
    """``data`` as a Dask frame of the ``columns`` a formula uses (all its columns for None;
    Parquet read lazily: nothing is loaded until a pass runs).

    Raises
    ------
    ModelError
        Dask is not installed.
    DataError
        No file matches a path, a file is not Parquet, or a column is missing.
    """
    try:
        import dask.dataframe as dd
    except ImportError:
        raise ModelError(f"out-of-core data (a Dask frame or Parquet files) need Dask: {INSTALL}") from None
    if isinstance(data, dd.DataFrame):
        frame = data
    elif type(data).__module__.split(".")[0] == "dask":
        raise DataError(f"data is a {type(data).__name__} from Dask; pass a dask.dataframe.DataFrame (for a Series, "
                        "series.to_frame())")
    else:
        frame = _read_parquet(dd, _paths(data))
    if columns is None:
        return frame
    _check_columns(frame, columns)
    return frame[list(columns)]


def _paths(data) -> list:
    given = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    paths = []
    for item in given:
        text = os.fspath(item)
        if os.path.isdir(text):
            found = sorted(glob.glob(os.path.join(text, "*.parquet")))
        else:
            found = sorted(glob.glob(text)) if glob.has_magic(text) else ([text] if os.path.exists(text) else [])
        if not found:
            raise DataError(f"no Parquet file matches {text!r}; give the path of a .parquet file, a folder of them, or "
                            "a glob such as 'ratings/part-*.parquet'")
        paths += found
    return paths


def _read_parquet(dd, paths: list):
    try:
        return dd.read_parquet(paths)
    except ImportError as error:
        raise ModelError(f"reading Parquet files needs pyarrow ({error}): {INSTALL}") from None
    except Exception as error:            # pyarrow's errors for a file that is not Parquet have no common class
        raise DataError(f"could not read {paths[0]!r}{' and others' if len(paths) > 1 else ''} as Parquet "
                        f"({type(error).__name__}: {error}); give Parquet files, or read other formats with "
                        "dask.dataframe (e.g. dd.read_csv) and pass the frame") from None


def _check_columns(frame, columns: tuple) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        hints = [f"{c!r} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(c, list(frame.columns), 1))
                 else repr(c) for c in missing]
        raise DataError(f"the data lack column(s) {', '.join(hints)} that the formula uses; its columns are "
                        f"{list(frame.columns)[:20]}")
