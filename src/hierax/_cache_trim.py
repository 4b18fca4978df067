"""Keeping the persistent compilation cache under its size, once a day, off the critical path.

JAX can cap the cache itself (``jax_compilation_cache_max_size``), but it does so on every write:
under a file lock it lists the whole folder, reads every entry's access-time file and sums the
sizes. With the 9,400 entries a day of test runs left (session 14), each write took 0.23 s (1.8 s
with the folder not in the OS's cache), and a first NUTS fit of a new small poisson model wrote 8
entries: 2 to 14 s of waiting that grows with the folder. A second process waiting for that lock
more than 10 s gave up with a warning on every entry. So hierax turns JAX's cap off and
trims the folder itself: at most once a day (a stamp file records the last trim done), on a daemon
thread started when hierax is imported, oldest entries first (by the file's last access or
modification), down to ``KEEP`` of the cap. A cache entry deleted while another process reads it
costs that process one compilation, nothing more: JAX reports the failed read and compiles.
"""

from __future__ import annotations

import os
import threading
import time

STAMP = ".hierax-trimmed"
TRIM_EVERY = 24 * 3600.0   # seconds between trims
KEEP = 0.8                 # a trim leaves the cache at this share of its cap, so it is not trimmed again at once
ENTRY = "-cache"           # JAX's suffix of an entry (jax/_src/lru_cache.py); "-atime" files are its own cap's


def trim_later(folder: str, max_bytes: int) -> threading.Thread | None:
    """Start a daemon thread that trims ``folder`` (:func:`trim`) if the last trim is older than
    ``TRIM_EVERY``, and stamps it when done (a process that exits first, as ``hierax --help``
    does, leaves the trim to the next one). Costs one ``stat`` where nothing is due; returns the
    thread (None: nothing due, or a folder that cannot be made)."""
    stamp = os.path.join(folder, STAMP)
    try:
        if time.time() - os.stat(stamp).st_mtime < TRIM_EVERY:
            return None
    except OSError:             # no stamp yet (or no folder): due
        pass
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:             # a folder we cannot make: JAX will not cache there either
        return None
    thread = threading.Thread(target=_trim_and_stamp, args=(folder, max_bytes), name="hierax-cache-trim", daemon=True)
    thread.start()
    return thread


def _trim_and_stamp(folder: str, max_bytes: int) -> None:
    trim(folder, max_bytes)
    try:
        with open(os.path.join(folder, STAMP), "w"):
            pass
    except OSError:
        pass


def trim(folder: str, max_bytes: int) -> int:
    """Delete the least recently used entries of ``folder`` until it holds at most ``KEEP *
    max_bytes``, if it holds more than ``max_bytes``; return the bytes deleted. Entries that
    vanish meanwhile (another process trimming) are skipped."""
    entries, total = [], 0
    try:
        with os.scandir(folder) as listing:
            for item in listing:
                if not item.name.endswith(ENTRY):
                    continue
                try:
                    stat = item.stat()
                except OSError:
                    continue
                entries.append((max(stat.st_atime, stat.st_mtime), stat.st_size, item.path))
                total += stat.st_size
    except OSError:
        return 0
    if total <= max_bytes:
        return 0
    deleted = 0
    for _, size, path in sorted(entries):
        if total - deleted <= KEEP * max_bytes:
            break
        try:
            os.remove(path)
            deleted += size
        except OSError:
            continue
        try:                    # JAX's access-time file, if its own cap wrote one
            os.remove(path[:-len(ENTRY)] + "-atime")
        except OSError:
            pass
    return deleted
