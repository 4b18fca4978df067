"""Out-of-core data on a Dask cluster (issue 20, item 1): REML and NUTS fits of Parquet files too big
to hold comfortably, the client's memory flat in the number of rows, and the same answers as the
same rows in memory.

Data: ``outofcore_data.py`` writes 20,000,000 rows of ``y ~ x + (1 + x | g)`` with 100,000 groups
as twenty Parquet files of 1,000,000 rows (never whole in memory); the first k files are the
k-million-row subsets. Each fit runs in a fresh process (its peak RSS is the client's: the two
workers of the ``distributed.LocalCluster`` are processes of their own) and reads the files
through the cluster, ``hx.fit(formula, [paths], ...)``.

Targets (issue 20, item 1):
- the client's peak memory under 4 GB on 20M rows, and flat: the 4M fit at most 0.25 GB above the 1M fit;
- on the 2,000,000-row subset read both ways (pandas in memory, the files through Dask), REML's
  estimates equal to 1e-8 relative and NUTS's draws the same for the same seed.

At ``--workflow-at`` million rows (20) the NUTS fit's process then makes
``fit.ranef(diagnostics=False)`` (the lazy effects drawn chunk by chunk) and ``fit.ppc_stats`` of every row through the cluster, and
reports their time and the client's peak after each.

Usage: python benchmarks/outofcore.py [--data-dir DIR] [--sizes 1,4,20] [--chains 4 --warmup 1000 --draws 1000]
       [--workflow-at 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FORMULA = "y ~ x + (1 + x | g)"
PER_FILE = 1_000_000
PEAK_LIMIT_GB = 4.0
FLAT_LIMIT_GB = 0.25
RELATIVE_LIMIT = 1e-8


def paths(folder: Path, files: int) -> list:
    return [str(folder / f"part-{k:05d}.parquet") for k in range(files)]


def cluster():
    from distributed import Client, LocalCluster

    local = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    return local, Client(local)


def child_fit(folder: Path, files: int, method: str, nuts: dict, workflow: bool) -> dict:
    """One fit through the cluster; with ``workflow``, then (a NUTS fit) its ranef table without
    per-effect diagnostics, drawn chunk by chunk from the lazy effects, and a posterior predictive
    check of every row."""
    import hierax as hx

    local, client = cluster()
    try:
        start = time.perf_counter()
        settings = nuts if method == "nuts" else {"method": method}
        fit = hx.fit(FORMULA, paths(folder, files), **settings)
        seconds = time.perf_counter() - start
        out = {"seconds": seconds, "timing": fit.timing, "fixef": fit.fixef()["estimate"].tolist()}
        if method == "nuts":
            table = fit.summary()
            out["min_ess_bulk"] = float(table["ess_bulk"].min())
            out["max_r_hat"] = float(table["r_hat"].max())
        out["peak_gb"] = peak_gb()
        if method == "nuts" and workflow:
            start = time.perf_counter()
            effects = fit.ranef(diagnostics=False)          # with ArviZ's ESS and R-hat of each: 18.5 min
            out.update(ranef_seconds=time.perf_counter() - start, ranef_rows=len(effects), ranef_peak_gb=peak_gb())
            start = time.perf_counter()
            check = fit.ppc_stats(data=paths(folder, files), num_draws=100, seed=1)
            out.update(ppc_seconds=time.perf_counter() - start, ppc_peak_gb=peak_gb(), ppc_p=check["p"].to_dict())
    finally:
        client.close()
        local.close()
    return out


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def child_equal(folder: Path, nuts: dict) -> dict:
    """The 2M subset fitted in memory and through the cluster: largest relative difference of the
    REML estimates, largest difference of the NUTS draws."""
    import numpy as np
    import pandas as pd

    import hierax as hx

    files = paths(folder, 2)
    frame = pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)
    memory = {"reml": hx.fit(FORMULA, frame, method="reml").output,
              "nuts": hx.fit(FORMULA, frame, **nuts).idata.posterior}        # the fits' draws, not the fits
    del frame
    local, client = cluster()
    try:
        a, b = memory["reml"], hx.fit(FORMULA, files, method="reml").output
        relative = max(float(np.max(np.abs(x / y - 1.0))) for x, y in
                       ((b.theta, a.theta), (b.beta, a.beta), (np.array([b.objective]), np.array([a.objective])),
                        (np.array([b.sigma]), np.array([a.sigma]))))
        posterior = hx.fit(FORMULA, files, **nuts).idata.posterior
    finally:
        client.close()
        local.close()
    draws = max(float(np.max(np.abs(posterior[v].values - d.values))) for v, d in memory["nuts"].data_vars.items())
    return {"reml_relative": relative, "nuts_draws_difference": draws}


def run_child(settings: list, *args) -> dict:
    out = subprocess.run([sys.executable, __file__, *settings, "--child", *map(str, args)], capture_output=True,
                         text=True)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs="*")
    parser.add_argument("--data-dir", default="/tmp/hierax-outofcore")
    parser.add_argument("--sizes", default="1,4,20", help="millions of rows (files) to fit")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--workflow-at", type=int, default=20,
                        help="millions of rows at which the NUTS fit's ranef and a predictive check are timed too")
    args = parser.parse_args()
    nuts = {"chains": args.chains, "warmup": args.warmup, "draws": args.draws, "seed": 1}
    folder = Path(args.data_dir)
    if args.child:
        kind, *rest = args.child
        result = child_equal(folder, nuts) if kind == "equal" else \
            child_fit(folder, int(rest[0]), rest[1], nuts, rest[2] == "1")
        print(json.dumps(result))
        return
    settings = ["--data-dir", str(folder), "--chains", str(args.chains), "--warmup", str(args.warmup),
                "--draws", str(args.draws)]
    sizes = [int(s) for s in args.sizes.split(",")]
    if not folder.exists():
        subprocess.run([sys.executable, str(HERE / "outofcore_data.py"), str(folder), str(max(max(sizes), 2) * PER_FILE)],
                       check=True)
    print(f"machine: {platform.node()}, {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M')}; "
          f"2-worker LocalCluster; NUTS {nuts}")
    results = {}
    print(f"{'rows':>12} {'method':>6} {'seconds':>9} {'client peak GB':>15}  notes")
    for size in sizes:
        for method in ("reml", "nuts"):
            r = results[size, method] = run_child(settings, "fit", size, method, int(size == args.workflow_at))
            notes = r.get("error", "")
            if "min_ess_bulk" in r:
                notes = f"min bulk ESS {r['min_ess_bulk']:.0f}, max R-hat {r['max_r_hat']:.3f}; " \
                        f"passes {r['timing'].get('setup', float('nan')):.1f} s"
            elif "timing" in r:
                notes = f"passes {r['timing']['setup']:.1f} s, optimisation {r['timing']['optimisation']:.1f} s"
            print(f"{size * PER_FILE:>12,} {method:>6} {r.get('seconds', float('nan')):>9.1f} "
                  f"{r.get('peak_gb', float('nan')):>15.2f}  {notes}")
            if "ranef_seconds" in r:
                print(f"{'':>12} {'':>6} then ranef(diagnostics=False) ({r['ranef_rows']:,} rows) {r['ranef_seconds']:.1f} s, client peak "
                      f"{r['ranef_peak_gb']:.2f} GB; ppc_stats of every row (100 draws) {r['ppc_seconds']:.1f} s, "
                      f"client peak {r['ppc_peak_gb']:.2f} GB; p-values {r['ppc_p']}")
    equal = run_child(settings, "equal")
    print(f"2,000,000 rows both ways: REML largest relative difference {equal.get('reml_relative', float('nan')):.2e}; "
          f"NUTS largest difference of the draws {equal.get('nuts_draws_difference', float('nan')):.2e}"
          + (f" ({equal['error']})" if "error" in equal else ""))
    verdicts = []
    largest = max(sizes)
    for method in ("reml", "nuts"):
        peak = results[largest, method].get("peak_gb", float("inf"))
        verdicts.append((f"{method}: client peak at {largest}M rows under {PEAK_LIMIT_GB} GB ({peak:.2f})",
                         peak < PEAK_LIMIT_GB))
        if 1 in sizes and 4 in sizes:
            growth = results[4, method].get("peak_gb", float("inf")) - results[1, method].get("peak_gb", 0.0)
            verdicts.append((f"{method}: 4M fit at most {FLAT_LIMIT_GB} GB above 1M ({growth:+.2f} GB)",
                             growth <= FLAT_LIMIT_GB))
    verdicts.append((f"REML on 2M both ways within {RELATIVE_LIMIT:g} relative", equal.get("reml_relative", 1.0) <= RELATIVE_LIMIT))
    verdicts.append(("NUTS on 2M both ways: the same draws", equal.get("nuts_draws_difference", 1.0) == 0.0))
    for text, met in verdicts:
        print(f"  {text}: {'met' if met else 'NOT MET'}")
    if not all(met for _, met in verdicts):
        sys.exit(1)


if __name__ == "__main__":
    main()
