"""Every benchmark of ``make bench``, resumable across sessions on the same code.

The whole list takes about five hours on the project's 2-core machine, longer than a working
session, and a session's processes end with it. So each script's output is kept under
``benchmarks/results/<key>/`` (its log and a JSON record: command, exit status, start, end, wall
time, machine), where ``<key>`` is a hash of everything that decides what the benchmarks measure:
the committed ``src/``, ``pyproject.toml``, the default stack's constraints and the benchmark
scripts (not this driver, the README, the figures or the results). A later ``make bench`` on the
same key skips the scripts that already finished with exit status 0 and runs the rest, so one
run of the whole list can span sessions; any change to the code gives a new key and a fresh run.
With uncommitted changes in those paths there is no key: the results go to a temporary folder and
nothing is skipped.

Every target is still measured against its peer within one script's run (each script times
hierax and the peer side by side); what spans sessions is only the list. ``--summary`` prints, for
each script of the key, its state and the lines where it judges a target ("met" / "NOT met").
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

# (name, arguments after the Python interpreter): what `make bench` runs, in this order.
BENCHMARKS = (
    ("suite", ["benchmarks/suite.py", "--timeout", "180", "--timeout-for", "grouseticks=900", "--refits", "3"]),
    ("precision", ["benchmarks/precision.py"]),
    ("radon_nuts", ["benchmarks/radon_nuts.py", "--repeats", "3"]),
    ("reml", ["benchmarks/reml.py", "--repeats", "5", "--timeout", "600"]),
    ("laplace", ["benchmarks/laplace.py", "--repeats", "5"]),
    ("sbc_radon", ["benchmarks/sbc_radon.py", "--simulations", "100", "--workers", "2"]),
    ("sbc_cluster", ["benchmarks/sbc_cluster.py", "--simulations", "200"]),
    ("threads", ["benchmarks/threads.py", "--repeats", "3"]),
    ("families", ["benchmarks/families.py", "--timeout", "1200", "--repeats", "3"]),
    ("laplace_scale", ["benchmarks/laplace_scale.py", "--repeats", "3"]),
    ("nuts_scale", ["benchmarks/nuts_scale.py"]),
    ("fresh_process", ["benchmarks/fresh_process.py", "--repeats", "5"]),
    ("missing_scale", ["benchmarks/missing_scale.py"]),
    ("crt_power", ["benchmarks/crt_power.py"]),
    ("npmle_radon", ["benchmarks/npmle_radon.py"]),
    ("ratings", ["benchmarks/ratings.py"]),
    ("outofcore", ["benchmarks/outofcore.py"]),
)

# What decides the measurements; within benchmarks/, everything but these.
KEYED_PATHS = ("src", "pyproject.toml", ".ci/constraints-default.txt", "benchmarks")
UNKEYED = re.compile(r"^benchmarks/(README\.md|bench_all\.py|results/|figures/)")
VERDICT = re.compile(r"\bnot met\b|\bmet\b|\bNOT MET\b|\bMET\b", re.IGNORECASE)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def code_key() -> str | None:
    """A short hash of the committed files that decide the measurements, or None when any of them
    has uncommitted changes (then the results belong to no commit and cannot be resumed)."""
    changed = [line[3:] for line in _git("status", "--porcelain", "--", *KEYED_PATHS).splitlines()]
    if any(not UNKEYED.match(path) for path in changed):
        return None
    listing = [line for line in _git("ls-tree", "-r", "HEAD", "--", *KEYED_PATHS).splitlines()
               if not UNKEYED.match(line.split("\t", 1)[1])]
    return hashlib.sha256("\n".join(listing).encode()).hexdigest()[:16]


def machine() -> dict:
    """Where the run happened: enough to tell a quiet 2-core machine from a busy or bigger one."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return {"host": platform.node(), "cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_at_start": os.getloadavg()[0], "commit": _git("rev-parse", "HEAD").strip()}


def finished(folder: Path, name: str, command: list[str]) -> bool:
    """Whether this script already ran to exit status 0 with this command for this key."""
    record = folder / f"{name}.json"
    if not record.exists():
        return False
    done = json.loads(record.read_text())
    return done.get("rc") == 0 and done.get("command") == command


def run_one(folder: Path, name: str, command: list[str]) -> int:
    """Run one script, its output to ``<name>.log`` (and the terminal); its record written last, so
    that an interrupted script is run again next time."""
    started = datetime.datetime.now(datetime.timezone.utc)
    print(f"== {name}: {' '.join(command)} ({started:%Y-%m-%d %H:%M} UTC)", flush=True)
    tick = time.perf_counter()
    with open(folder / f"{name}.log", "w") as log:
        process = subprocess.Popen([sys.executable, *command], cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:
            log.write(line)
            log.flush()
            sys.stdout.write(line)
        rc = process.wait()
    record = {"command": command, "rc": rc, "started": started.isoformat(timespec="seconds"),
              "ended": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "wall_s": round(time.perf_counter() - tick, 1), **machine()}
    (folder / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
    return rc


def summary(folder: Path) -> None:
    """Each script's state and its verdict lines."""
    for name, command in BENCHMARKS:
        record = folder / f"{name}.json"
        if not record.exists():
            print(f"{name}: not run")
            continue
        done = json.loads(record.read_text())
        state = "same command" if done["command"] == command else "OTHER command"
        load = done.get("load_at_start")
        print(f"{name}: rc {done['rc']}, {done['wall_s']:.0f} s, {done['started']} ({state}, commit "
              f"{done['commit'][:7]}, load at start {'?' if load is None else f'{load:.1f}'})")
        log = folder / f"{name}.log"
        for line in (log.read_text().splitlines() if log.exists() else []):
            if VERDICT.search(line) and not line.lstrip().startswith(("#", "warn")):
                print(f"    {line.strip()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=[name for name, _ in BENCHMARKS], help="run only these")
    parser.add_argument("--fresh", action="store_true", help="run every script, even those already finished")
    parser.add_argument("--summary", action="store_true", help="print the key's results and stop")
    parser.add_argument("--dry-run", action="store_true", help="say what would run and stop")
    args = parser.parse_args()
    key = code_key()
    if key is None:
        folder = Path(tempfile.mkdtemp(prefix="hierax-bench-"))
        print(f"uncommitted changes in {', '.join(KEYED_PATHS)}: results go to {folder} and nothing is skipped")
    else:
        folder = RESULTS / key
        folder.mkdir(parents=True, exist_ok=True)
        print(f"code key {key}: results in {folder.relative_to(ROOT)}")
    if args.summary:
        summary(folder)
        return 0
    failed = []
    for name, command in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        if key is not None and not args.fresh and finished(folder, name, command):
            print(f"== {name}: finished earlier for this key, skipped (--fresh runs it again)")
            continue
        if args.dry_run:
            print(f"== {name}: would run {' '.join(command)}")
            continue
        if run_one(folder, name, command) != 0:
            failed.append(name)
    if not args.dry_run:
        summary(folder)
    if failed:
        print(f"exit status not 0: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
