"""Bad and unusual files: restoring and reporting saved fits, and the paths a command writes to.

``hierax.results.io.restore`` and ``hierax report`` must name what a file is when it is not a
hierax fit (missing, a folder, empty, text, another program's netCDF, truncated) and how to get
one; every output path (``--out``, ``--report``, ``report -o``, ``demo --report``) is refused
before any data are read, so the data in these rows are missing on purpose: the message must be
about the output. Saving never leaves a half-written file, nor replaces a good one, when it
fails or is interrupted. Valid-but-odd rows: a REML and a Laplace fit saved and restored.
"""

from __future__ import annotations


import dataclasses
import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.cli.main import main
from hierax.cli.paths import check_output
from hierax.errors import DataError, HieraxError
from hierax.report import write_report
from hierax.results.io import load, restore, save, write_atomic

from .conftest import Case, assert_cli_error, cli_in_process, params, run_case

rng = np.random.default_rng(3)
GROUPS = np.repeat(np.arange(6), 5)
DATA = pd.DataFrame({"y": 1.0 + rng.normal(size=6)[GROUPS] + rng.normal(size=30), "x": rng.normal(size=30),
                     "g": [f"g{k}" for k in GROUPS], "n": rng.poisson(3.0 * np.exp(0.3 * rng.normal(size=6))[GROUPS])})
FORMULA = "y ~ x + (1 | g)"
SAVE_FIX = "--out FIT.nc"


cli = cli_in_process


@functools.cache
def reml_fit():
    return hx.fit(FORMULA, DATA, method="reml")


@functools.cache
def laplace_fit():
    return hx.fit("n ~ x + (1 | g)", DATA, family="poisson", method="laplace")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Files that are not hierax fits, a REML fit saved with and without its data, and folders."""
    import xarray as xr

    from hierax.results import _arviz

    path = tmp_path_factory.mktemp("files")
    DATA.to_csv(path / "data.csv", index=False)
    (path / "empty.nc").write_bytes(b"")
    (path / "noise.nc").write_bytes(bytes(range(256)) * 4)
    (path / "adir").mkdir()
    (path / "existing.nc").write_bytes(b"keep me")
    (path / "existing.html").write_text("keep me")
    xr.Dataset({"a": ("x", np.arange(3))}).to_netcdf(path / "other.nc", engine="h5netcdf")
    draws = xr.Dataset({"mu": (("chain", "draw"), np.zeros((2, 10)))})
    _arviz.to_netcdf(_arviz.results(posterior=draws), path / "arviz.nc")          # ArviZ's, not hierax's
    _arviz.to_netcdf(_arviz.results(posterior=draws.assign_attrs(hierax_formula=FORMULA)), path / "old.nc")
    save(reml_fit(), path / "reml.nc")                         # a fit from hx.fit carries its data
    save(dataclasses.replace(reml_fit(), data=None), path / "reml-nodata.nc")   # one that does not
    raw = (path / "reml.nc").read_bytes()
    (path / "truncated.nc").write_bytes(raw[: len(raw) // 3])
    return path


@pytest.fixture
def inside(folder, monkeypatch):
    monkeypatch.chdir(folder)
    return folder


RESTORE_CASES = [
    Case("restore-missing", lambda: restore("nothing.nc"), DataError, "no saved fit at nothing.nc", SAVE_FIX),
    Case("restore-folder", lambda: restore("adir"), DataError, "adir is a folder", "pass the .nc file in it"),
    Case("restore-empty", lambda: restore("empty.nc"), DataError, "empty.nc is empty", SAVE_FIX),
    Case("restore-csv", lambda: restore("data.csv"), DataError, "is a text file", SAVE_FIX),
    Case("restore-noise", lambda: restore("noise.nc"), DataError, "not a netcdf file", SAVE_FIX),
    Case("restore-other-netcdf", lambda: restore("other.nc"), DataError, "netcdf file but not a hierax fit",
         SAVE_FIX),
    Case("restore-arviz-file", lambda: restore("arviz.nc"), DataError, "not written by hierax", SAVE_FIX),
    Case("restore-attributes-missing", lambda: restore("old.nc"), DataError, "lacks hierax_family",
         "save it with --out"),
    Case("restore-truncated", lambda: restore("truncated.nc"), DataError, "damaged or incomplete", SAVE_FIX),
    Case("restore-other-rows", lambda: restore("reml.nc", DATA.iloc[:20]), DataError, "have 20 rows",
         "pass the data it was fitted to"),
    Case("restore-other-levels", lambda: restore("reml.nc", DATA.assign(g=DATA["g"].str.upper())), DataError,
         "levels of 'g' differ", "pass the data it was fitted to"),
    Case("restore-without-data", lambda: restore("reml-nodata.nc"), DataError, "holds no data",
         "pass the data it was fitted to"),
    Case("load-draws-of-reml", lambda: load("reml.nc"), DataError, "has no draws", "use restore("),
    Case("report-of-csv", lambda: cli("report", "data.csv", "-o", "r.html"), DataError, "not a saved hierax fit",
         SAVE_FIX),
    Case("report-of-missing", lambda: cli("report", "nothing.nc", "-o", "r.html"), DataError, "no saved fit",
         SAVE_FIX),
    Case("report-of-empty", lambda: cli("report", "empty.nc", "-o", "r.html"), DataError, "is empty", SAVE_FIX),
    Case("report-of-folder", lambda: cli("report", "adir", "-o", "r.html"), DataError, "is a folder",
         "pass the .nc file"),
    Case("report-of-other-netcdf", lambda: cli("report", "other.nc", "-o", "r.html"), DataError,
         "not a hierax fit", SAVE_FIX),
    Case("report-of-truncated", lambda: cli("report", "truncated.nc", "-o", "r.html"), DataError,
         "damaged or incomplete", SAVE_FIX),
    Case("report-without-its-data", lambda: cli("report", "reml-nodata.nc", "-o", "r.html"), DataError,
         "holds no data", "hierax report --data"),
]


@pytest.mark.parametrize("case", params(RESTORE_CASES))
def test_saved_files(case, inside):
    if case.id.startswith("report-"):
        assert_cli_error(case.call(), case.phrase, case.fix)
        assert not Path("r.html").exists()
    else:
        run_case(case)


def fit_to(*outputs: str):
    """``hierax fit`` with these output options and data that do not exist (so it must stop first)."""
    return lambda: cli("fit", FORMULA, "--data", "missing.csv", "--no-progress", *outputs)


OUTPUT_CASES = [
    Case("out-folder-missing", fit_to("--out", "nowhere/fit.nc"), DataError, "folder nowhere does not exist",
         "mkdir -p nowhere"),
    Case("report-folder-missing", fit_to("--report", "nowhere/r.html"), DataError, "folder nowhere does not exist",
         "mkdir -p nowhere"),
    Case("out-is-folder", fit_to("--out", "adir"), DataError, "adir is a folder", "such as adir/fit.nc"),
    Case("report-is-folder", fit_to("--report", "adir"), DataError, "adir is a folder", "such as adir/report.html"),
    Case("out-inside-a-file", fit_to("--out", "data.csv/fit.nc"), DataError, "data.csv is a file, not a folder",
         "choose a path inside a folder"),
    Case("out-unwritable", fit_to("--out", "/proc/fit.nc"), DataError, "cannot write in the folder /proc",
         "choose a folder you can write to"),
    Case("out-exists", fit_to("--out", "existing.nc"), DataError, "already exists", "--force"),
    Case("report-exists", fit_to("--report", "existing.html"), DataError, "already exists", "--force"),
    Case("out-same-as-report", fit_to("--out", "both.nc", "--report", "both.nc"), DataError, "same file",
         "give each its own name"),
    Case("out-is-the-data", lambda: cli("fit", FORMULA, "--data", "data.csv", "--out", "data.csv", "--force"),
         DataError, "would replace the data file", "choose another name"),
    Case("map-with-report", fit_to("--method", "map", "--report", "r.html"), HieraxError, "posterior mode",
         "--method nuts"),
    Case("report-output-folder-missing", lambda: cli("report", "reml.nc", "-o", "nowhere/r.html"), DataError,
         "folder nowhere does not exist", "mkdir -p nowhere"),
    Case("report-output-is-folder", lambda: cli("report", "reml.nc", "-o", "adir"), DataError, "is a folder",
         "such as adir/report.html"),
    Case("report-output-exists", lambda: cli("report", "reml.nc", "-o", "existing.html"), DataError,
         "already exists", "--force"),
    Case("report-output-is-the-fit", lambda: cli("report", "reml.nc", "-o", "reml.nc", "--force"), DataError,
         "would replace the saved fit", "choose another name"),
    Case("demo-report-folder-missing", lambda: cli("demo", "--report", "nowhere/demo.html"), DataError,
         "folder nowhere does not exist", "mkdir -p nowhere"),
]


@pytest.mark.parametrize("case", params(OUTPUT_CASES))
def test_outputs_refused_first(case, inside):
    before = {p.name: p.read_bytes() for p in inside.iterdir() if p.is_file()}
    assert_cli_error(case.call(), case.phrase, case.fix)
    after = {p.name: p.read_bytes() for p in inside.iterdir() if p.is_file()}
    assert after == before                                      # nothing written, nothing replaced


API_CASES = [
    Case("save-folder-missing", lambda: save(reml_fit(), "nowhere/fit.nc"), DataError, "does not exist",
         "create it first"),
    Case("save-exists", lambda: save(reml_fit(), "existing.nc"), DataError, "already exists", "overwrite=True"),
    Case("save-to-folder", lambda: save(reml_fit(), "adir"), DataError, "is a folder", "adir/fit.nc"),
    Case("report-api-folder-missing", lambda: write_report(reml_fit(), "nowhere/r.html"), DataError,
         "does not exist", "create it first"),
    Case("report-api-exists", lambda: write_report(reml_fit(), "existing.html"), DataError, "already exists",
         "overwrite=True"),
    Case("output-home-folder", lambda: check_output("~/new.nc", False, "--out", "fit.nc"), None,
         check=lambda path: path == Path.home() / "new.nc"),
    Case("output-force-existing", lambda: check_output("existing.nc", True, "--out", "fit.nc"), None,
         check=lambda path: path.name == "existing.nc"),
]


@pytest.mark.parametrize("case", params(API_CASES))
def test_saving(case, inside):
    run_case(case)


def test_failed_or_interrupted_save_leaves_the_old_file(inside):
    """A save that fails (OSError) or is interrupted removes its partial file; the old one stays."""
    def fail(error):
        def write(partial):
            partial.write_bytes(b"half")
            raise error
        return write

    with pytest.raises(DataError, match="cannot write existing.nc .*check the free space"):
        write_atomic(Path("existing.nc"), fail(OSError(28, "No space left on device")))
    with pytest.raises(KeyboardInterrupt):
        write_atomic(Path("existing.nc"), fail(KeyboardInterrupt()))
    assert Path("existing.nc").read_bytes() == b"keep me" and not Path("existing.nc.partial").exists()


@pytest.mark.parametrize("make", [reml_fit, laplace_fit], ids=["reml", "laplace"])
def test_mixed_fit_saved_and_restored(make, tmp_path):
    """A REML or Laplace fit restores with the same tables, warnings and likelihood, computing nothing."""
    fit = make()
    again = restore(save(fit, tmp_path / "fit.nc", data=DATA))
    assert type(again) is type(fit) and again.method == fit.method and again.formula == fit.formula
    for table in ("fixef", "varcorr", "ranef", "coef"):
        pd.testing.assert_frame_equal(getattr(again, table)(), getattr(fit, table)())
    assert (again.loglik, again.aic, again.df, again.warnings) == (fit.loglik, fit.aic, fit.df, fit.warnings)
    assert again.optimisation.evaluations == fit.optimisation.evaluations
    assert json.dumps(again.versions) == json.dumps(fit.versions)
