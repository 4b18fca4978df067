"""``benchmarks/bench_all.py``, the resumable ``make bench``: its key follows the committed code that
decides the measurements, refuses to exist with uncommitted changes there, and a script counts as
finished only with exit status 0 and the same command."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

DRIVER = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_all.py"


@pytest.fixture
def bench(tmp_path, monkeypatch):
    """The driver, pointed at a small git repository of its own."""
    spec = importlib.util.spec_from_file_location("bench_all", DRIVER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for path, text in {"src/m.py": "x = 1\n", "benchmarks/suite.py": "pass\n", "benchmarks/README.md": "a\n",
                       "pyproject.toml": "[project]\n", "notes.txt": "n\n"}.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    module.commit = lambda: subprocess.run([*git, "commit", "-qam", "next"], check=True)
    return module


def test_the_key_ignores_the_readme_and_files_outside_the_code(bench, tmp_path):
    key = bench.code_key()
    assert len(key) == 16
    for path in ("benchmarks/README.md", "notes.txt"):
        (tmp_path / path).write_text("changed\n")
        assert bench.code_key() == key, path
    bench.commit()
    assert bench.code_key() == key


@pytest.mark.parametrize("path", ["src/m.py", "benchmarks/suite.py", "pyproject.toml"])
def test_a_change_to_the_code_gives_no_key_until_committed_then_a_new_one(bench, tmp_path, path):
    key = bench.code_key()
    (tmp_path / path).write_text("changed\n")
    assert bench.code_key() is None
    bench.commit()
    assert bench.code_key() not in (None, key)


def test_an_untracked_file_in_the_code_or_a_rename_into_it_gives_no_key(bench, tmp_path):
    (tmp_path / "src" / "new.py").write_text("y = 2\n")
    assert bench.code_key() is None
    assert len(bench.code_key(committed_only=True)) == 16
    (tmp_path / "src" / "new.py").unlink()
    git = ["git", "-C", str(tmp_path)]
    subprocess.run([*git, "mv", "benchmarks/README.md", "benchmarks/renamed.py"], check=True)
    assert bench.code_key() is None


def test_a_script_is_finished_only_with_exit_status_0_and_the_same_command(bench, tmp_path):
    command = ["benchmarks/suite.py", "--refits", "3"]
    assert not bench.finished(tmp_path, "suite", command)
    for rc, recorded, done in [(1, command, False), (0, command[:-1], False), (0, command, True)]:
        (tmp_path / "suite.json").write_text(json.dumps({"rc": rc, "command": recorded}))
        assert bench.finished(tmp_path, "suite", command) is done


def test_a_truncated_record_is_not_finished(bench, tmp_path):
    (tmp_path / "suite.json").write_text('{"rc": 0, "comm')
    assert not bench.finished(tmp_path, "suite", ["benchmarks/suite.py"])


@pytest.mark.parametrize("line, verdict", [
    ("radon_slopes      >= 3x the best peer      5.2   True", True),
    ("target 1 (poisson: faster glmer >= 2x hierax refit): 3.1x, |diff| 2e-07 -> met", True),
    ("target 2 (sleepstudy: hierax's median at most 2x lme4's): 2.40x -> NOT met", True),
    ("hierax: ESS/s >= 1.5x NumPyro's: >= 1.2x -> not determined (NumPyro stopped at the timeout)", True),
    ("MET     ml-10m's shape in under 10 minutes: 7.1 min", True),
    ("hierax (cached)  cbpp  0.78  1878  parameterisation {'herd': 'auto'}, target_accept 0.95  NaN", False),
    ("sampler.py:112: UserWarning: 3 divergent transitions: the sampler met curvature", False),
])
def test_the_summary_picks_verdicts_not_tables_or_warnings(bench, line, verdict):
    picked = bool(bench.VERDICT.search(line)) and "warn" not in line.lower()
    assert picked is verdict


def test_make_bench_runs_the_driver():
    makefile = (DRIVER.parent.parent / "Makefile").read_text()
    recipe = makefile.split("\nbench:", 1)[1].split("\n\n", 1)[0]
    assert "benchmarks/bench_all.py" in recipe
