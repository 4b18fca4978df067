"""Every benchmark of ``make bench``, resumable across sessions on the same code.

The whole list takes about five hours on the project's 2-core machine, longer than a working
session, and a session's processes end with it. So each script's output is kept under
``benchmarks/results/<key>/`` (its log and a JSON record: command, exit status, start, end, wall
time, machine, load), where ``<key>`` is a hash of the committed code the benchmarks run: ``src/``,
``pyproject.toml``, the default stack's constraints and ``benchmarks/`` (its scripts, peer runners
and R scripts; not this driver, the README, the figures or the results). A later ``make bench`` on
the same key skips the scripts that already finished with exit status 0 and runs the rest, so one
run of the list can span sessions; any change to that code gives a new key and a fresh run, and a
change made while a script runs stops the run without recording that script as finished. With
uncommitted changes there is no key: the results go to a temporary folder and nothing is skipped.

Not in the key: the peers' versions (the Makefile pins them), R's packages, the data in
``../shared`` and the machine. Each invocation appends them to ``environment.txt`` beside the logs.

Each target is still measured within one script's run (hierax and its peer timed side by side;
``ratings.py`` against MixedModels.jl's published time); what spans sessions is only the list.
``--summary`` prints, for each script of the key, its state and the lines where it judges a target
(for the scripts that print no verdict, the end of its log: their targets are judged in
``benchmarks/README.md``).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
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
# How the scripts print a verdict: "... -> met", "...: NOT met", "not determined", ratings.py's
# "MET ..." and the suite's table of targets, whose last column is True or False.
VERDICT = re.compile(r"(->|:)\s*(met|not met|not determined)\b|^\s*(MET|NOT MET)\b|\s(True|False)\s*$",
                     re.IGNORECASE)
TAIL = 8        # lines of a log shown where it prints no verdict


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def code_key(committed_only: bool = False) -> str | None:
    """A short hash of the committed files that decide the measurements, or None when any of them
    has uncommitted changes, untracked files included (then the results belong to no commit and
    cannot be resumed). ``committed_only``: HEAD's key whatever the working tree holds."""
    status = _git("status", "--porcelain", "-z", "--no-renames", "--untracked-files=all", "--", *KEYED_PATHS)
    changed = [entry[3:] for entry in status.split("\0") if entry]
    if not committed_only and any(not UNKEYED.match(path) for path in changed):
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
    done = _record(folder, name)
    return done is not None and done.get("rc") == 0 and done.get("command") == command


def _record(folder: Path, name: str) -> dict | None:
    try:
        return json.loads((folder / f"{name}.json").read_text())
    except (FileNotFoundError, ValueError):
        return None


def run_one(folder: Path, name: str, command: list[str], key: str | None) -> int:
    """Run one script, its output to ``<name>.log`` (and the terminal); its record written last, so
    that an interrupted script is run again next time. Exit status None where the code changed
    while it ran (the run stops: its results would belong to neither key)."""
    where = machine()
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
    if key is not None and code_key() != key:
        print(f"the code changed while {name} ran: not recorded, and the run stops")
        return None
    record = {"command": command, "rc": rc, "started": started.isoformat(timespec="seconds"),
              "ended": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "wall_s": round(time.perf_counter() - tick, 1), **where}
    partial = folder / f"{name}.json.partial"
    partial.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(partial, folder / f"{name}.json")
    return rc


def summary(folder: Path) -> None:
    """Each script's state and its verdict lines."""
    for name, command in BENCHMARKS:
        done = _record(folder, name)
        if done is None:
            print(f"{name}: not run" + (" (a log without a record: interrupted or running)"
                                        if (folder / f"{name}.log").exists() else ""))
            continue
        state = "same command" if done["command"] == command else "OTHER command"
        load = done.get("load_at_start")
        print(f"{name}: rc {done['rc']}, {done['wall_s']:.0f} s, {done['started']} ({state}, commit "
              f"{done['commit'][:7]}, load at start {'?' if load is None else f'{load:.1f}'})")
        log = folder / f"{name}.log"
        lines = log.read_text().splitlines() if log.exists() else []
        verdicts = [line for line in lines if VERDICT.search(line) and "warn" not in line.lower()]
        if not verdicts:
            print(f"    (no verdict printed; judged in benchmarks/README.md) the log's last {TAIL} lines:")
        for line in verdicts or lines[-TAIL:]:
            print(f"    {line.rstrip()}")


def environment(folder: Path) -> None:
    """Append what the key leaves out (the peers', hierax's and R's package versions) to the folder's
    environment.txt, once per invocation."""
    parts = [f"== {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {json.dumps(machine())}"]
    for python in (sys.executable, ROOT / ".venv-peers" / "bin" / "python"):
        if Path(python).exists():
            freeze = subprocess.run([str(python), "-m", "pip", "freeze", "--exclude-editable"], capture_output=True,
                                    text=True).stdout
            parts.append(f"-- {python}:\n{freeze.strip()}")
    script = 'for (p in c("lme4", "glmmTMB", "brms", "rstan")) cat(p, tryCatch(format(packageVersion(p)), error = function(e) "absent"), "\\n")'
    try:
        r = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=60)
        parts.append(f"-- R:\n{r.stdout.strip()}")
    except (FileNotFoundError, subprocess.TimeoutExpired):
        parts.append("-- R: not found")
    with open(folder / "environment.txt", "a") as out:
        out.write("\n".join(parts) + "\n")


@contextlib.contextmanager
def only_run(folder: Path):
    """One invocation at a time per key: two on two cores would distort each other's timings."""
    with open(folder / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"another make bench is running on {folder}; wait for it or stop it") from None
        yield


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=[name for name, _ in BENCHMARKS], help="run only these")
    parser.add_argument("--fresh", action="store_true", help="run every script, even those already finished")
    parser.add_argument("--summary", action="store_true", help="print the results of HEAD's key and stop")
    parser.add_argument("--dry-run", action="store_true", help="say what would run and stop")
    args = parser.parse_args()
    if args.summary:
        key = code_key(committed_only=True)
        print(f"code key {key} (HEAD's)")
        summary(RESULTS / key)
        return 0
    key = code_key()
    if key is None:
        print(f"uncommitted changes in {', '.join(KEYED_PATHS)}: results go to a temporary folder and nothing is "
              "skipped")
    else:
        print(f"code key {key}: results in {(RESULTS / key).relative_to(ROOT)}")
    todo = [(name, command) for name, command in BENCHMARKS if not args.only or name in args.only]
    if key is not None and not args.fresh:
        for name, command in todo:
            if finished(RESULTS / key, name, command):
                print(f"== {name}: finished earlier for this key, skipped (--fresh runs it again)")
        todo = [(name, command) for name, command in todo if not finished(RESULTS / key, name, command)]
    if args.dry_run:
        for name, command in todo:
            print(f"== {name}: would run {' '.join(command)}")
        return 0
    folder = RESULTS / key if key is not None else Path(tempfile.mkdtemp(prefix="hierax-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    failed = []
    with only_run(folder):
        environment(folder)
        for name, command in todo:
            rc = run_one(folder, name, command, key)
            if rc is None:
                return 2
            if rc != 0:
                failed.append(name)
        summary(folder)
    if failed:
        print(f"exit status not 0: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
