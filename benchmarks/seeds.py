"""One suite model fitted at several seeds in one warm process: how much a single suite run's
ESS per second owes to its seed (issue 5).

The first fit compiles and is not reported; each seed's fit then reports its time (sampling
alone, nothing compiled), its min bulk ESS over all parameters, its ESS per second, the divergent
transitions kept, and the escalations of the target acceptance rate it needed.

Usage: ``python benchmarks/seeds.py [--model grouseticks] [--seeds 1 2 3 4 5 6 7 8]``
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import hierax as hx  # configures JAX first
import arviz as az
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
from hierax_run import priors  # noqa: E402
from models import MODELS, load  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="grouseticks", choices=sorted(MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(1, 9)))
    args = parser.parse_args()
    model, data = MODELS[args.model], load(args.model)
    fit_args = dict(family=model["family"], priors=priors(model["priors"], model["formula"]))
    hx.fit(model["formula"], data, seed=0, **fit_args)                    # compiles
    rows = []
    for seed in args.seeds:
        start = time.perf_counter()
        fit = hx.fit(model["formula"], data, seed=seed, **fit_args)
        seconds = time.perf_counter() - start
        ess = min(float(v.min()) for v in az.ess(fit.idata, method="bulk").data_vars.values())
        raised = "; ".join(f"{r['phase']} at {r['target_accept']}: {r['divergent']} divergent"
                           for r in fit.adaptation["raised"])
        rows.append({"seed": seed, "seconds": seconds, "min bulk ESS": ess, "ESS/s": ess / seconds,
                     "divergences": int(fit.idata.sample_stats["diverging"].sum()),
                     "final target": f"{fit.adaptation['target_accept']:.2f}", "raised": raised or "-"})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows).set_index("seed")
    print(f"\n{args.model} at {len(rows)} seeds in one warm process; {platform.machine()}, hierax {hx.__version__}")
    print(table.to_string(float_format=lambda v: f"{v:.1f}"))
    print(f"mean ESS/s {table['ESS/s'].mean():.1f}, median {table['ESS/s'].median():.1f}")


if __name__ == "__main__":
    main()
