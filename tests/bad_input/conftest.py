"""The bad-input table's runner: one :class:`Case` per bad or unusual input.

A case calls one user-facing entry point (Python API or CLI) and states what must happen:

- ``error``: the :class:`~hierax.errors.HieraxError` subclass raised (or, for the CLI, that the
  command exits with status 2 and prints one ``hierax: error:`` line with no traceback);
- ``phrase``: a key phrase of the message (case-insensitive), naming the problem;
- ``fix``: a phrase of the message that names the fix;
- or ``error=None`` for a valid-but-odd input that must succeed (``check`` may test the result),
  and ``warns`` for one that must succeed with a warning whose text contains that phrase.

Each module of this folder holds the table of one area (columns, formulas, priors, CLI, ...);
every later feature adds rows to these tables.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from typing import Callable

import pytest

from hierax.errors import HieraxError

# Frames of these packages must never reach a user of the CLI.
FOREIGN_FRAMES = re.compile(r'File ".*?/(jax|jaxlib|pandas|numpy|scipy|arviz|xarray|blackjax)/')


@dataclass(frozen=True)
class Case:
    """One row of the table: ``call()`` and what must come of it."""

    id: str
    call: Callable
    error: type | None = HieraxError
    phrase: str = ""
    fix: str = ""
    warns: str = ""
    check: Callable | None = None
    marks: tuple = field(default_factory=tuple)


def params(cases):
    """``pytest.mark.parametrize`` arguments for a table of cases, with their ids."""
    ids = [case.id for case in cases]
    assert len(set(ids)) == len(ids), "case ids must be distinct"
    return [pytest.param(case, id=case.id, marks=case.marks) for case in cases]


def run_case(case: Case) -> None:
    """Call the case and assert its expectation."""
    if case.error is None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = case.call()
        if case.warns:
            texts = [str(w.message).lower() for w in caught]
            assert any(case.warns.lower() in t for t in texts), f"no warning with {case.warns!r}: {texts}"
        if case.check is not None:
            # a check asserts, or returns a truth value (a lambda's comparison): False fails the case
            assert case.check(result) is not False, f"{case.id}: the check of the result failed"
        return
    assert issubclass(case.error, HieraxError), "bad input must raise a HieraxError subclass"
    with pytest.raises(case.error) as info:
        case.call()
    assert_message(str(info.value), case.phrase, case.fix)


def assert_message(message: str, phrase: str, fix: str) -> None:
    text = message.lower()
    assert phrase, "a case must state the phrase that names the problem"
    assert fix, "a case must state the phrase that names the fix"
    assert phrase.lower() in text, f"{phrase!r} not in message: {message}"
    assert fix.lower() in text, f"fix {fix!r} not in message: {message}"


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def cli_in_process(*args: str) -> CliResult:
    """``hierax ARGS`` in this process (fast: no new interpreter): exit status, standard output and error."""
    import contextlib
    import io

    from hierax.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = exit_.code
    return CliResult(code, out.getvalue(), err.getvalue())


def run_cli(*args: str, cwd=None, timeout: float = 300, stdin: str | None = None) -> CliResult:
    """Run ``python -m hierax.cli.main ARGS`` in a fresh process, as a user's shell would."""
    done = subprocess.run([sys.executable, "-m", "hierax.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, input=stdin)
    return CliResult(done.returncode, done.stdout, done.stderr)


def assert_cli_error(result: CliResult, phrase: str, fix: str) -> None:
    """Exit status 2, one ``hierax: error:`` message naming problem and fix, no foreign traceback."""
    assert result.returncode == 2, f"exit {result.returncode}: {result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert not FOREIGN_FRAMES.search(result.stderr), result.stderr[-3000:]
    assert "hierax: error:" in result.stderr or "error:" in result.stderr, result.stderr
    assert_message(result.stderr, phrase, fix)
