"""Every Python block of the README runs as written, top to bottom, as a reader would paste it.

The blocks share one namespace (a later block uses the fit of an earlier one, as the README's
prose does) and run in a fresh folder, so the files they write land there.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def hierax_commands(text: str) -> list[list[str]]:
    """The ``hierax ...`` lines of the README's shell blocks, split as a shell would (comments dropped)."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "hierax":
                commands.append(words[1:])
    return commands


def test_readme_has_python_blocks():
    assert len(python_blocks(README.read_text())) >= 2


@pytest.mark.sampling
def test_readme_python_blocks_run(tmp_path, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme"}
    for number, block in enumerate(python_blocks(README.read_text()), start=1):
        try:
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)
        except Exception as error:  # pragma: no cover - the message says which block failed
            pytest.fail(f"README python block {number} failed: {type(error).__name__}: {error}")
    assert (tmp_path / "radon-report.html").stat().st_size > 10_000


@pytest.mark.sampling
def test_readme_shell_commands_run(tmp_path):
    """Each ``hierax`` command of the README's shell blocks, in order, in one fresh folder."""
    commands = hierax_commands(README.read_text())
    assert len(commands) >= 3
    for words in commands:
        done = subprocess.run([sys.executable, "-m", "hierax.cli.main", *words], cwd=tmp_path, capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, f"hierax {' '.join(words)}: {done.stderr[-2000:]}"
