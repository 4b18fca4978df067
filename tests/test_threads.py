"""Thread counts: one BLAS thread during fits and single-threaded XLA operations by default,
``HIERAX_THREADS=N`` for N (``hierax/_threads.py``; measured in ``benchmarks/threads.py``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from threadpoolctl import threadpool_info

from hierax import _threads
from hierax.errors import HieraxError


def _blas_threads() -> set:
    return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


def test_blas_runs_one_thread_inside_a_fit_and_is_given_back(monkeypatch):
    monkeypatch.delenv("HIERAX_THREADS", raising=False)
    with _threads.blas_limit():
        assert _blas_threads() == {1}
    monkeypatch.setenv("HIERAX_THREADS", "2")
    with _threads.blas_limit():
        assert _blas_threads() == {2}


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_thread_count_is_refused_with_the_fix(value):
    with pytest.raises(HieraxError, match="HIERAX_THREADS must be a whole number >= 1.*unset it"):
        _threads.configured_threads({"HIERAX_THREADS": value})


def test_xla_flag_follows_the_setting():
    assert _threads.xla_flags({}) == "--xla_cpu_multi_thread_eigen=false"
    assert _threads.xla_flags({"HIERAX_THREADS": "2"}) == ""
    assert _threads.xla_flags({"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=true"}) == ""   # the user's own wins


@pytest.mark.parametrize("setting, single", [(None, True), ("1", True), ("4", False)])
def test_a_new_process_starts_xla_as_set(setting, single):
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "HIERAX_THREADS", "HIERAX_JAX_VARIABLES")}
    if setting:
        env["HIERAX_THREADS"] = setting
    done = subprocess.run([sys.executable, "-c", "import os, hierax; print(os.environ['XLA_FLAGS'])"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert ("--xla_cpu_multi_thread_eigen=false" in done.stdout) == single
