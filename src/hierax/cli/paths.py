"""Output paths, checked before anything is read or sampled.

A fit can take minutes; finding only at the end that ``--out`` points into a folder that does not
exist (or one that cannot be written, or at the data file itself) loses that time, and a late
failure can leave a half-written file behind. So every output of a command is checked first,
here, and nothing the user already has is replaced without ``--force``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hierax.errors import DataError


def check_output(path: str | None, force: bool, option: str, example: str) -> Path | None:
    """``path`` as a writable new file (or an existing one with ``force``), else a DataError.

    Parameters
    ----------
    path : the user's text (``~`` is expanded), or None for an output not asked for.
    force : whether an existing file may be replaced.
    option : the option's name, for the message (``--out``).
    example : a file name to suggest where ``path`` is a folder (``fit.nc``).
    """
    if path is None:
        return None
    target = Path(path).expanduser()
    if target.is_dir():
        raise DataError(f"{option} {path} is a folder, not a file; give a file name in it, such as "
                        f"{target / example}")
    if target.exists() and not force:
        raise DataError(f"{option} {path} already exists; choose another name or add --force to replace it")
    _check_folder(target.parent, option, path)
    return target


def _check_folder(folder: Path, option: str, path: str) -> None:
    """The folder exists, is a folder and takes a new file (tried, as permissions can mislead)."""
    if not folder.exists():
        raise DataError(f"{option} {path}: the folder {folder} does not exist; create it first "
                        f"(mkdir -p {folder}) or choose another folder")
    if not folder.is_dir():
        raise DataError(f"{option} {path}: {folder} is a file, not a folder; choose a path inside a folder")
    try:
        handle, probe = tempfile.mkstemp(prefix=".hierax-write-test-", dir=folder)
    except OSError as error:
        raise DataError(f"{option} {path}: cannot write in the folder {folder} ({error.strerror}); choose a "
                        "folder you can write to") from None
    os.close(handle)
    os.remove(probe)


def check_distinct(paths: dict[str, Path | None], inputs: dict[str, str | None]) -> None:
    """No two outputs are the same file, and no output is one of the inputs (the data, the fit).

    Parameters
    ----------
    paths : the outputs by option name (None where not asked for).
    inputs : the input files by what they are ("the data"), None or non-file sources skipped.
    """
    seen: dict[Path, str] = {}
    for option, path in paths.items():
        if path is None:
            continue
        resolved = path.resolve()
        if resolved in seen:
            raise DataError(f"{seen[resolved]} and {option} name the same file {path}; give each its own name")
        seen[resolved] = option
    for what, source in inputs.items():
        option = seen.get(Path(source).expanduser().resolve()) if source else None
        if option is not None:
            raise DataError(f"{option} {source} would replace {what}; choose another name for {option}")
