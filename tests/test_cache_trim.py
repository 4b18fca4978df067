"""The compilation cache's trim (``hierax._cache_trim``): least recently used entries go first,
down to a share of the cap, once a day."""

from __future__ import annotations

import os
import time

from hierax import _cache_trim
from hierax._cache_trim import KEEP, STAMP, trim, trim_later


def _entry(folder, name: str, size: int, age: float, atime_file: bool = False):
    path = folder / f"{name}-cache"
    path.write_bytes(b"x" * size)
    when = time.time() - age
    os.utime(path, (when, when))
    if atime_file:
        (folder / f"{name}-atime").write_bytes(b"\0" * 8)
    return path


def test_the_oldest_entries_go_until_the_cache_is_below_its_share_of_the_cap(tmp_path):
    paths = [_entry(tmp_path, f"e{k}", 100, age=1000 - k, atime_file=True) for k in range(10)]   # e0 oldest
    other = tmp_path / "unrelated.txt"
    other.write_text("kept")
    deleted = trim(str(tmp_path), max_bytes=500)
    kept = [p for p in paths if p.exists()]
    assert sum(p.stat().st_size for p in kept) <= KEEP * 500
    assert deleted == 100 * (10 - len(kept))
    assert kept == paths[-len(kept):]                        # the newest stay
    assert not (tmp_path / "e0-atime").exists() and (tmp_path / "e9-atime").exists()
    assert other.exists()


def test_a_cache_under_its_cap_is_left_alone(tmp_path):
    paths = [_entry(tmp_path, f"e{k}", 100, age=k) for k in range(5)]
    assert trim(str(tmp_path), max_bytes=500) == 0
    assert all(p.exists() for p in paths)


def test_a_trim_runs_at_most_once_a_day(tmp_path, monkeypatch):
    paths = [_entry(tmp_path, f"e{k}", 100, age=100 - k) for k in range(10)]
    thread = trim_later(str(tmp_path), 500)
    assert thread is not None
    thread.join(10)
    assert (tmp_path / STAMP).exists() and sum(p.exists() for p in paths) <= 4
    assert trim_later(str(tmp_path), 100) is None             # stamped today: not again
    monkeypatch.setattr(_cache_trim, "TRIM_EVERY", 0.0)
    assert trim_later(str(tmp_path), 100) is not None


def test_a_folder_that_cannot_be_written_is_not_trimmed(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert trim_later(str(blocker / "cache"), 100) is None
