"""Crossed REML at ratings scale (issue 20, acceptance item 3).

``rating ~ 1 + (1 | user) + (1 | item)`` by REML on synthetic ratings shaped like MovieLens
(``ratings_data.py``: power-law ratings per user and item popularity):

- ml-1m's shape: 1,000,000 ratings of 6,040 users x 3,706 items;
- ml-10m's shape: 10,000,000 ratings of 70,000 users x 10,700 items.

Each fit runs in a fresh process (reading the Parquet file, ``hx.fit``, the summary), with
hierax's default of one BLAS thread (and, for the 1M case, again with ``HIERAX_THREADS`` at the cores,
which is faster on a quiet machine and far slower beside a busy process; the target is judged with
every core, as MixedModels.jl's published time was measured); it reports wall time,
peak memory (the process's maximum resident set), the number of evaluations and where the time
went (timers wrapped around the pieces of ``hierax.linalg.wide`` and the LAPACK/BLAS calls).
lme4 evaluates its REML criterion at hierax's estimates in the same run
(``ratings_lme4_at.R``: one evaluation, about 45 s after 90 s of set-up); they must agree to 1e-6.
``--lme4-fit`` also fits with lme4 to convergence (``ratings_lme4.R``; an hour or more on 2 cores)
and compares the optima. MixedModels.jl cannot be run here
(no Julia); its published ml-1m time, 36.7 s, is the issue's yardstick (5x faster: 7.3 s).

Usage: ``python benchmarks/ratings.py [--data-dir DIR] [--cases 1m,10m] [--no-lme4] [--lme4-fit]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = {"1m": (1_000_000, 6_040, 3_706), "10m": (10_000_000, 70_000, 10_700)}
FORMULA = "rating ~ 1 + (1 | user) + (1 | item)"
MIXEDMODELS_ML1M = 36.7          # seconds, published; the target is 5x faster
TIMED = {  # module attribute -> label: the pieces of one evaluation and of the fit
    ("hierax.engines.lmm", "cross_products"): "cross-products of [Z X y]",
    ("hierax.engines.lmm", "_subsample_start"): "start: subsample fit",
    ("hierax.linalg.wide", "middle"): "middle term (dsyrk + sparse product)",
    ("scipy.linalg.lapack", "dpotrf"): "Cholesky (dpotrf)",
    ("scipy.linalg.lapack", "dpotri"): "inverse (dpotri)",
    ("scipy.linalg.lapack", "dtrtri"): "inverse factor (dtrtri)",
    ("hierax.linalg.triangular", "dense_norms"): "levels' forms, dense (dtrmm)",
    ("hierax.linalg.triangular", "sparse_norms"): "levels' forms, sparse",
    ("hierax.linalg.wide", "factorisation"): "estimates at the optimum",
}


def child(path: str) -> dict:
    """In a fresh process: read, fit, summarise; times, memory and the optimisation record."""
    import importlib
    import resource

    start = time.perf_counter()
    import pandas as pd

    import hierax as hx

    spent = {label: 0.0 for label in TIMED.values()}
    for (module, name), label in TIMED.items():
        _time_calls(importlib.import_module(module), name, label, spent)
    frame = pd.read_parquet(path)
    frame["user"] = frame["user"].astype(str)
    frame["item"] = frame["item"].astype(str)
    read = time.perf_counter() - start
    fit = hx.fit(FORMULA, data=frame, method="reml")
    str(fit)
    record = fit.optimisation
    return {"seconds": time.perf_counter() - start, "read": read, "fit": time.perf_counter() - start - read,
            "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, "objective": record.objective,
            "evaluations": record.evaluations, "optimiser": record.optimiser, "converged": record.converged,
            "theta": list(record.end), "spent": spent}


def _time_calls(module, name: str, label: str, spent: dict) -> None:
    original = getattr(module, name)

    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - t

    setattr(module, name, timed)


def run_child(path: Path, threads: int | None) -> dict:
    env = dict(os.environ)
    env.pop("HIERAX_THREADS", None)
    if threads:
        env["HIERAX_THREADS"] = str(threads)
    out = subprocess.run([sys.executable, __file__, "--child", str(path)], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def lme4(path: Path, script: str, *args) -> dict | None:
    """Rscript ``script`` on the CSV copy of ``path`` (made once), its JSON; None without R."""
    if shutil.which("Rscript") is None:
        return None
    csv = path.with_suffix(".csv")
    if not csv.exists():
        import pandas as pd

        pd.read_parquet(path).to_csv(csv, index=False)
    out = subprocess.run(["Rscript", str(HERE / script), str(csv), *map(str, args)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def data_file(directory: Path, case: str) -> Path:
    rows, users, items = CASES[case]
    path = directory / f"ratings_{case}.parquet"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(HERE / "ratings_data.py"), str(rows), str(users), str(items),
                        str(path)], check=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child")
    parser.add_argument("--data-dir", default="/tmp/hierax-ratings")
    parser.add_argument("--cases", default="1m,10m")
    parser.add_argument("--no-lme4", action="store_true", help="skip lme4's criterion at hierax's theta")
    parser.add_argument("--lme4-fit", action="store_true", help="also fit with lme4 to convergence (hours)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')}")
    verdicts = []
    for case in args.cases.split(","):
        path = data_file(Path(args.data_dir), case)
        cores = os.cpu_count() or 1
        for threads in ((None, cores) if case == "1m" and cores > 1 else (None,)):   # 10m: one setting (minutes each)
            r = run_child(path, threads)
            if threads is None:
                default = r
            name = "default (1 BLAS thread)" if threads is None else f"HIERAX_THREADS={threads}"
            print(f"\n{case} {name}: {r['seconds']:.1f} s in all (read {r['read']:.1f} s, fit and print "
                  f"{r['fit']:.1f} s), peak {r['peak_gb']:.2f} GB, {r['evaluations']} evaluations "
                  f"({r['optimiser']}; converged {r['converged']}), REML criterion {r['objective']:.7f}")
            for label, seconds in r["spent"].items():
                print(f"    {label:40s} {seconds:7.2f} s")
            if case == "1m":
                # judged with every core, as MixedModels.jl's published time was measured (a BLAS of
                # a thread per core); hierax's default of one thread is shown beside, not judged
                judged = threads is not None or cores == 1
                verdicts.append((f"1m {name}: 5x MixedModels.jl's published {MIXEDMODELS_ML1M} s "
                                 f"(<= {MIXEDMODELS_ML1M / 5:.2f} s)" + ("" if judged else " [shown, not judged]"),
                                 r["seconds"] <= MIXEDMODELS_ML1M / 5, f"{r['seconds']:.1f} s"))
            if case == "10m":
                verdicts.append((f"10m {name}: under 10 minutes and 16 GB", r["seconds"] < 600 and r["peak_gb"] < 16,
                                 f"{r['seconds']:.0f} s, {r['peak_gb']:.1f} GB"))
        if case == "1m" and not args.no_lme4:
            at = lme4(path, "ratings_lme4_at.R", *default["theta"])
            if at is not None:
                difference = abs(default["objective"] - at["REMLcrit"])
                print(f"\nlme4 {at['lme4']} at hierax's theta: REML criterion {at['REMLcrit']:.7f} "
                      f"(set-up {at['setup_seconds']:.0f} s, one evaluation {at['evaluation_seconds']:.0f} s)")
                verdicts.append(("1m: REML criterion equal to lme4's at the same theta within 1e-6", difference <= 1e-6,
                                 f"|difference| {difference:.2e}"))
        if case == "1m" and args.lme4_fit:
            ref = lme4(path, "ratings_lme4.R", "REML")
            if ref is not None:
                tight = ref["converged"]
                difference = default["objective"] - tight["criterion"]
                print(f"lme4 fitted to convergence: {tight['seconds']:.0f} s ({tight['feval']} evaluations), "
                      f"{ref['default']['seconds']:.0f} s with its defaults; REML criterion {tight['criterion']:.7f}")
                verdicts.append(("1m: REML criterion at the optimum equal to lme4's converged one within 1e-6",
                                 abs(difference) <= 1e-6, f"hierax - lme4 = {difference:.2e}"))
    print()
    for label, ok, detail in verdicts:
        print(f"{'MET    ' if ok else 'NOT MET'} {label}: {detail}")


if __name__ == "__main__":
    main()
