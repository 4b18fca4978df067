"""Ctrl-C in a real CLI fit: SIGINT to a ``hierax fit`` process while it samples keeps the draws.

The process runs on a pseudo-terminal so that its progress bar shows (tqdm hides it elsewhere);
the signal is sent once the bar says "sampling", as a user's Ctrl-C would come.
"""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time

import numpy as np
import pandas as pd
import pytest

from hierax.results.io import restore


class _Terminal:
    """Reads everything the process writes to its terminal, in a thread, so that the process never
    blocks on a full pseudo-terminal buffer (its progress bar writes several times a second)."""

    def __init__(self, fd: int):
        self.fd, self.chunks = fd, []
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 4096)
            except OSError:            # the process closed its end
                return
            if not data:
                return
            self.chunks.append(data.decode(errors="replace"))

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def wait_for(self, marker: str, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while marker not in self.text and time.monotonic() < end:
            time.sleep(0.2)
        return marker in self.text


@pytest.mark.sampling
def test_sigint_while_sampling_keeps_draws_and_writes_out(tmp_path):
    rng = np.random.default_rng(7)
    g = np.repeat(np.arange(8), 6)
    pd.DataFrame({"y": rng.normal(size=48) + rng.normal(size=8)[g], "x": rng.normal(size=48), "g": g}).to_csv(
        tmp_path / "data.csv", index=False)
    out = tmp_path / "fit.nc"
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))   # a new pty is 0 columns wide
    # A shell without job control starts a background command (`pytest ... &`) with SIGINT ignored;
    # a child inherits that, Python then installs no KeyboardInterrupt handler, and the fit would run
    # to its end whatever the test sends. A handler here is reset to the default action in the child
    # (an ignored signal is not), as when a user starts the fit from a terminal.
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "hierax.cli.main", "fit", "y ~ x + (1 | g)", "--data", str(tmp_path / "data.csv"),
             "--chains", "2", "--warmup", "100", "--draws", "1000000", "--seed", "3", "--out", str(out)],
            stdout=subprocess.PIPE, stderr=secondary, stdin=subprocess.DEVNULL, text=True)
    finally:
        signal.signal(signal.SIGINT, ignored)
    os.close(secondary)
    terminal = _Terminal(primary)
    try:
        assert terminal.wait_for("sampling", timeout=300), terminal.text[-2000:]
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=300)
        terminal.thread.join(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(primary)
    shown = terminal.text
    assert process.returncode == 130, shown[-3000:]
    assert "Traceback" not in shown, shown[-3000:]
    assert "hierax: interrupted: kept" in shown
    fit = restore(out)
    kept = fit.idata.posterior.sizes["draw"]
    assert fit.interrupted and 0 < kept < 1_000_000
    assert "interrupted" in stdout and np.isfinite(fit.summary()["estimate"]).all()
