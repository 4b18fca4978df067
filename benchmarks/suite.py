"""The sampler benchmark suite: hierax against NumPyro, PyMC, nutpie, bambi and brms on issue 5's
models (nutpie drives the JAX log density of the PyMC model).

Every tool fits every model in a fresh process of its own (``benchmarks/peers/*_run.py`` and
``brms_run.R``), 4 chains x 1,000 warm-up + 1,000 draws, with the same priors
(``benchmarks/peers/models.py``). Each runner times model building, compilation and sampling
(not interpreter start-up and imports) and hands over its draws; this driver computes, for every
tool alike, ArviZ's bulk ESS of every scalar parameter (fixed effects, sds, correlations, sigma
and every group effect) and reports the minimum, min ESS per second of that time, and hierax's
ratio to the best peer and to brms.

Peers run from their own environment, ``.venv-peers`` (``make bench`` builds it: PyMC and bambi
need other versions of ArviZ's companions than hierax's environment has); brms runs where
``Rscript`` can load it (Debian: ``apt-get install r-cran-brms``). A tool that is missing or fails
is reported as such, never left out silently.

Last, with hierax among the tools, ``refit.py`` runs in a process of its own (target 4: refits
in a warm process, cold and warm-started), and the driver prints each issue 5 target beside what
this run measured and whether it is met (:func:`verdicts`).

Usage: ``python benchmarks/suite.py [--models ...] [--tools ...] [--timeout S] [--timeout-for MODEL=S ...]
[--refits N]``.
``--timeout-for`` gives one model a timeout of its own: a long one where a peer's bound would
otherwise decide a ratio (on grouseticks nutpie needs about 650 s), without waiting that long on
models where every peer stops anyway (large_100k).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
ROOT = HERE.parent
sys.path.insert(0, str(PEERS))
from models import MODELS, load  # noqa: E402

TOOLS = ("hierax", "numpyro", "pymc", "nutpie", "bambi", "brms")
DEFAULT_MODELS = ("radon_intercepts", "radon_slopes", "sleepstudy", "cbpp", "grouseticks", "large_100k", "large_1m")
SKIP = {(tool, "large_1m") for tool in ("numpyro", "pymc", "nutpie", "bambi", "brms")}  # an hour or more each: noted, not run


def run_tool(tool: str, model: str, seed: int, timeout: float, peers_python: str, work: Path,
             env: dict | None = None) -> dict:
    """Run one tool on one model; returns its draws and meta, or {"error": ...}."""
    out = work / f"{tool}-{model}"
    if tool == "brms":
        csv = work / f"{model}.csv"
        if not csv.exists():
            load(model).to_csv(csv, index=False)
        command = ["Rscript", str(PEERS / "brms_run.R"), model, str(out), str(seed), str(csv)]
    else:
        python = sys.executable if tool == "hierax" else peers_python
        command = [python, str(PEERS / f"{tool}_run.py"), model, f"{out}.npz", "--seed", str(seed)]
    start = time.perf_counter()
    failure = run_in_session(command, timeout, env, cwd=PEERS)
    if failure:
        return failure
    result = _read_brms(out) if tool == "brms" else _read_npz(f"{out}.npz")
    result["process_s"] = time.perf_counter() - start
    return result


def _read_npz(path) -> dict:
    with np.load(path) as f:
        meta = json.loads(str(f["meta"]))
        draws = {k.removeprefix("draws/"): f[k] for k in f.files if k.startswith("draws/")}
    return {"meta": meta, "draws": draws}


def _read_brms(prefix: Path) -> dict:
    table = pd.read_csv(f"{prefix}.csv")
    chains = table.pop(".chain").to_numpy()
    ids = np.unique(chains)
    stacked = np.stack([table[chains == c].to_numpy() for c in ids])           # (chain, draw, params)
    return {"meta": json.loads(Path(f"{prefix}.json").read_text()), "draws": {"all": stacked}}


def run_in_session(command: list, timeout: float, env: dict | None = None, cwd=None) -> dict:
    """Run ``command`` in a session of its own, so that a timeout stops its workers too (PyMC's
    and Stan's chains): {} when it succeeds, else {"error": ...} (and "timeout" when stopped)."""
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
                                   env={**os.environ, **(env or {})}, start_new_session=True)
    except FileNotFoundError as error:
        return {"error": f"not available ({error.filename})"}
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return {"error": f"stopped after {timeout:.0f} s", "timeout": timeout}
    if process.returncode != 0:
        last = (stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"failed: {last[:160]}"}
    return {}


def min_bulk_ess(draws: dict) -> tuple[float, str]:
    """Min bulk ESS over every scalar of every array (chain, draw, ...), and which array it was in."""
    worst, where = np.inf, ""
    for name, values in draws.items():
        flat = values.reshape(values.shape[0], values.shape[1], -1)
        ess = az.ess(az.convert_to_dataset({"x": flat}), method="bulk")["x"].values
        if np.nanmin(ess) < worst:
            worst, where = float(np.nanmin(ess)), name
    return worst, where


def runs_of(tool: str, work: Path) -> list[tuple[str, dict]]:
    """(row label, environment) per run: hierax runs twice, first with an empty compilation cache
    (its first fit of this model on a machine), then again in a new process with the cache the
    first run left (any later fit of a model of this structure and size)."""
    if tool != "hierax":
        return [(tool, {})]
    cache = str(work / "hierax-cache")
    return [("hierax (empty cache)", {"HIERAX_CACHE_DIR": cache}), ("hierax (cached)", {"HIERAX_CACHE_DIR": cache})]


def table_for(model: str, tools: tuple, args, work: Path) -> pd.DataFrame:
    rows = []
    for tool in tools:
        if (tool, model) in SKIP:
            rows.append({"tool": tool, "note": "not run (hours at this size)"})
            continue
        if tool == "hierax":
            shutil.rmtree(work / "hierax-cache", ignore_errors=True)
        for label, env in runs_of(tool, work):
            timeout = args.timeout_for.get(model, args.timeout)
            rows.append(one_row(label, model, run_tool(tool, model, args.seed, timeout, args.peers_python, work, env)))
    frame = pd.DataFrame(rows).set_index("tool")
    frame.insert(0, "model", model)
    return frame


MAX_ESS = 6000   # 1.5 x the 4,000 draws: more than any run here reached (antithetic chains can exceed the draws)


def one_row(label: str, model: str, result: dict) -> dict:
    if "error" in result:
        print(f"  {model:17s} {label:20s} {result['error']}", flush=True)
        row = {"tool": label, "note": result["error"]}
        if "timeout" in result:          # it cannot have done better than MAX_ESS in the time it had
            row["ESS/s bound"] = MAX_ESS / result["timeout"]
        return row
    meta = result["meta"]
    ess, where = min_bulk_ess(result["draws"])
    print(f"  {model:17s} {label:20s} {meta['seconds']:8.2f} s  min ESS {ess:7.0f}  ESS/s {ess / meta['seconds']:8.1f}"
          f"  div {meta['divergences']}", flush=True)
    return {"tool": label, "seconds": meta["seconds"], "min bulk ESS": ess, "ESS/s": ess / meta["seconds"],
            "divergences": meta["divergences"], "peak MB": meta.get("peak_mb"),
            "note": f"min in {where}; {meta.get('note', '')}".strip("; ")}


def ratios(frame: pd.DataFrame) -> tuple[dict, dict]:
    """hierax's ESS/s (empty and warm compilation cache) over the best Python peer's, the best
    Python peer's without divergent transitions (a run with them is not a trustworthy sample),
    and brms's: as printed, and as numbers. A peer stopped at the timeout T counts as
    MAX_ESS / T, an upper bound on its ESS/s, and a ratio against such a bound is a lower bound,
    printed as ">= x"."""
    rate = frame["ESS/s"] if "ESS/s" in frame else pd.Series(np.nan, index=frame.index)
    bound = frame["ESS/s bound"] if "ESS/s bound" in frame else pd.Series(np.nan, index=frame.index)
    best_rate = rate.fillna(bound)
    is_bound = rate.isna() & bound.notna()
    divergent = frame["divergences"] if "divergences" in frame else pd.Series(np.nan, index=frame.index)
    ours = {k: rate.get(f"hierax ({k})", np.nan) for k in ("empty cache", "cached")}
    python_peers = [i for i in frame.index if not i.startswith("hierax") and i != "brms"]
    peers = best_rate.reindex(python_peers).dropna()
    clean = peers[divergent.reindex(peers.index) == 0]      # a stopped run's divergences are unknown: not clean

    out = {"best peer": peers.idxmax() if len(peers) else None,
           "best peer without divergences": clean.idxmax() if len(clean) else None}
    numbers = {}
    brms = best_rate.reindex(["brms"]).dropna()
    for k, value in ours.items():
        for name, tools in ((f"vs best peer, {k}", peers), (f"vs best clean peer, {k}", clean), (f"vs brms, {k}", brms)):
            numbers[name] = value / tools.max() if len(tools) else np.nan
            bound = len(tools) and is_bound[tools.idxmax()]
            out[name] = f">= {numbers[name]:.3g}" if bound else f"{numbers[name]:.3g}" if len(tools) else np.nan
    return out, numbers


RATIO_TARGETS = {"radon_intercepts": 3.0, "radon_slopes": 3.0, "sleepstudy": 3.0, "cbpp": 1.5, "grouseticks": 1.5,
                 "large_100k": 10.0}   # hierax's ESS/s over the best peer's (issue 5, targets 1-3)
BRMS_TARGET = 20.0                     # and over brms's, for the first three
REFIT_MODELS = ("radon_intercepts", "radon_slopes", "sleepstudy", "cbpp", "grouseticks")


def verdicts(frames: dict, summary: dict, numbers: dict, refits: pd.Series | None) -> pd.DataFrame:
    """Each issue 5 target, what this run measured (hierax from an empty compilation cache, its
    first fit on a machine; a ratio against a stopped peer's bound is a lower bound), and whether
    it is met (judged on the unrounded ratio)."""
    rows = []
    for model, frame in frames.items():
        if model in RATIO_TARGETS:
            key = "vs best peer, empty cache"
            rows.append((model, f">= {RATIO_TARGETS[model]:g}x the best peer", summary[model][key],
                         numbers[model][key] >= RATIO_TARGETS[model]))
            if RATIO_TARGETS[model] == 3.0 and "brms" in frame.index:
                key = "vs brms, empty cache"
                rows.append((model, f">= {BRMS_TARGET:g}x brms", summary[model][key], numbers[model][key] >= BRMS_TARGET))
        ours = frame.loc["hierax (empty cache)"] if "hierax (empty cache)" in frame.index else None
        if ours is not None and model == "large_100k":
            rows.append((model, "min bulk ESS >= 400 within 30 s", f"{ours['min bulk ESS']:.0f} in {ours['seconds']:.1f} s",
                         ours["min bulk ESS"] >= 400 and ours["seconds"] <= 30))
        if ours is not None and model == "large_1m":
            rows.append((model, "under 60 s and 2 GB", f"{ours['seconds']:.1f} s, {ours['peak MB'] * 2**20 / 1e9:.2f} GB",
                         ours["seconds"] < 60 and ours["peak MB"] * 2**20 < 2e9))
    if refits is not None:
        for model, seconds in refits.items():
            rows.append((model, "refit: first draw after warm-up < 0.5 s", f"{seconds:.2f} s (warm-started)", seconds < 0.5))
    return pd.DataFrame(rows, columns=["model", "target", "measured", "met"]).set_index("model")


def run_refits(models: list, refits: int) -> pd.Series | None:
    """``refit.py`` in a process of its own; its printed table, and per model the median time to
    the end of a warm-started refit's warm-up (its first kept draw is one iteration later)."""
    models = [m for m in models if m in REFIT_MODELS]
    if not models or not refits:
        return None
    command = [sys.executable, str(HERE / "refit.py"), "--refits", str(refits), "--models", *models]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"\nrefit.py failed:\n{done.stderr[-2000:]}", flush=True)
        return None
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("refits in a warm process"))
    print("\n" + "\n".join(lines[start:]), flush=True)
    rows = [ast.literal_eval(line) for line in lines[:start] if line.startswith("{")]
    warm = pd.DataFrame([r for r in rows if r["mode"] == "warm"])
    return warm.groupby("model", sort=False)["warm-up done s"].median()


def model_timeout(text: str) -> tuple[str, float]:
    """``MODEL=SECONDS`` from the command line, checked."""
    model, _, seconds = text.partition("=")
    if model not in MODELS:
        raise argparse.ArgumentTypeError(f"unknown model {model!r}: one of {', '.join(MODELS)}")
    try:
        return model, float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give MODEL=SECONDS, e.g. grouseticks=900") from None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), choices=list(MODELS))
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=list(TOOLS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per run (default 900)")
    parser.add_argument("--timeout-for", nargs="+", default=[], type=model_timeout, metavar="MODEL=S",
                        help="a timeout of its own for a model, e.g. grouseticks=900")
    parser.add_argument("--peers-python", default=str(ROOT / ".venv-peers" / "bin" / "python"))
    parser.add_argument("--refits", type=int, default=3, help="refits per model for target 4 (0: none)")
    args = parser.parse_args()
    args.timeout_for = dict(args.timeout_for)
    print(f"suite: {platform.machine()}, {platform.python_version()}, {time.strftime('%Y-%m-%d')}; "
          f"tools {args.tools}; 4 chains x 1000 + 1000; timeout {args.timeout:.0f} s"
          + "".join(f", {m} {t:.0f} s" for m, t in args.timeout_for.items()), flush=True)
    frames, summary, numbers = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            frames[model] = table_for(model, tuple(args.tools), args, Path(tmp))
            summary[model], numbers[model] = ratios(frames[model])
    pd.set_option("display.width", 200)
    print("\n" + pd.concat(frames.values()).to_string(float_format=lambda v: f"{v:.4g}"))
    print("\nhierax's min bulk ESS per second against the peers':")
    print(pd.DataFrame(summary).T.to_string(float_format=lambda v: f"{v:.3g}"))
    refits = run_refits(args.models, args.refits) if "hierax" in args.tools else None
    print("\nissue 5's targets in this run (hierax from an empty compilation cache):")
    print(verdicts(frames, summary, numbers, refits).to_string())


if __name__ == "__main__":
    main()
