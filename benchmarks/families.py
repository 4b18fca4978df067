"""Negative-binomial and beta GLMMs: hierax NUTS against hand-written NumPyro, and hierax Laplace
against glmmTMB (issue 16, acceptance item 3).

Two simulated data sets with known parameters, ``y ~ x + (1 | g)`` with equal groups:

- ``negbinomial``: 50,000 rows, 1,000 groups; log mean 1 + 0.5 x + u[g], u ~ N(0, 0.5^2),
  NB2 shape 2 (brms's ``negbinomial``; glmmTMB's ``nbinom2``; NumPyro's ``NegativeBinomial2``).
- ``beta``: 10,000 rows, 500 groups; logit mean 0.3 + 0.5 x + u[g], u ~ N(0, 0.5^2), precision
  phi 20 (brms's ``beta``; glmmTMB's ``beta_family()``; NumPyro's ``Beta(mu phi, (1 - mu) phi)``).

NUTS (target 1): every tool fits every model in a fresh process of its own, 4 chains x 1,000
warm-up + 1,000 draws, with the same priors (Intercept ~ N(0, 2.5), b ~ N(0, 2.5),
sd ~ half-N(0, 1), shape ~ Gamma(2, 0.5), phi ~ Gamma(2, 0.1); Gamma by shape and rate), timed
from model building to draws in NumPy (compilation included, interpreter start-up and imports
not), as ``suite.py`` does. hierax runs at its defaults with an empty compilation cache (its
first fit of the model on a machine) and, with ``--cached``, again in a new process with the
cache the first left; NumPyro is hand-written as in ``peers/numpyro_run.py`` (non-centred, its NUTS
defaults: target_accept 0.8, float32, chains in parallel over 4 host devices). The driver computes
ArviZ's bulk ESS of every scalar (fixed effects, sd, shape or phi, every group effect) alike for
both and reports the minimum and min ESS per second. A run stopped at the timeout counts as at
most 6,000 ESS in that time (an upper bound; a ratio against it is a lower bound, ">=").

Laplace (target 2): hierax ``method="laplace"`` in a fresh process, its first fit (compilation
included) and the median of ``--repeats`` refits of the same model in that process; glmmTMB
(``benchmarks/glmmtmb_times.R``: one untimed fit, then the mean of ``--repeats`` refits, R
start-up excluded) on the same CSV files. The ratio judged is hierax's refit over glmmTMB's; the
first fit's is shown beside it. The two log-likelihoods should agree to 1e-4.

Usage: ``python benchmarks/families.py [--models negbinomial beta] [--timeout S] [--cached]
[--repeats N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import min_bulk_ess, run_in_session  # noqa: E402  (shared with the sampler suite)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FORMULA = "y ~ x + (1 | g)"
SIZES = {"negbinomial": (50_000, 1_000), "beta": (10_000, 500)}
TRUTH = {"negbinomial": {"Intercept": 1.0, "x": 0.5, "sd": 0.5, "dispersion": 2.0},
         "beta": {"Intercept": 0.3, "x": 0.5, "sd": 0.5, "dispersion": 20.0}}
DISPERSION = {"negbinomial": "shape", "beta": "phi"}
PRIORS = {"Intercept": 2.5, "b": 2.5, "sd": 1.0, "shape": (2.0, 0.5), "phi": (2.0, 0.1)}
MAX_ESS = 6000
NUTS_TARGET, LAPLACE_TARGET, LOGLIK_TOL = 1.5, 2.0, 1e-4


def simulate(model: str, seed: int = 16) -> pd.DataFrame:
    rows, levels = SIZES[model]
    rng = np.random.default_rng(seed)
    truth = TRUTH[model]
    g = np.repeat(np.arange(levels), rows // levels)
    x = rng.normal(size=rows)
    eta = truth["Intercept"] + truth["x"] * x + rng.normal(0.0, truth["sd"], size=levels)[g]
    if model == "negbinomial":
        mu, shape = np.exp(eta), truth["dispersion"]
        y = rng.poisson(rng.gamma(shape, mu / shape)).astype(float)
    else:
        mu, phi = 1.0 / (1.0 + np.exp(-eta)), truth["dispersion"]
        y = np.clip(rng.beta(mu * phi, (1.0 - mu) * phi), 1e-9, 1.0 - 1e-9)
    return pd.DataFrame({"y": y, "x": x, "g": np.char.add("g", g.astype(str))})


# ---- runners (each in a fresh process of its own)

def run_hierax(model: str, csv: str, out: str, seed: int):
    from peers.common import import_hierax_for_nuts

    hx = import_hierax_for_nuts()  # imports before the clock, as the NumPyro runner's

    data = pd.read_csv(csv)
    a, b = PRIORS[DISPERSION[model]]
    priors = {"Intercept": hx.Normal(0, PRIORS["Intercept"]), "b": hx.Normal(0, PRIORS["b"]),
              "sd": hx.HalfNormal(PRIORS["sd"]), DISPERSION[model]: hx.Gamma(a, b)}
    start = time.perf_counter()
    fit = hx.fit(FORMULA, data, family=model, priors=priors, seed=seed)
    posterior = {name: fit.idata.posterior[name].values for name in fit.idata.posterior.data_vars}
    seconds = time.perf_counter() - start
    stats = fit.idata.sample_stats
    table = fit.summary()["estimate"]
    means = {"Intercept": table["(Intercept)"], "x": table["x"], "sd": table["sd[g][(Intercept)]"],
             "dispersion": table[DISPERSION[model]]}
    meta = {"seconds": seconds, "divergences": int(stats["diverging"].sum()), "means": means,
            "steps": float(stats["n_steps"].mean()), "tree depth": float(stats["tree_depth"].mean()),
            "step size": float(stats["step_size"].mean()), "timing": fit.timing,
            "note": f"target_accept {fit.adaptation['target_accept']}, {fit.parameterisation['g']}"}
    _write(out, posterior, meta)


def run_numpyro(model: str, csv: str, out: str, seed: int):
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    data = pd.read_csv(csv)
    a, b = PRIORS[DISPERSION[model]]

    def glmm(x, g, levels, y=None):
        intercept = numpyro.sample("Intercept", dist.Normal(0.0, PRIORS["Intercept"]))
        slope = numpyro.sample("b_x", dist.Normal(0.0, PRIORS["b"]))
        sd = numpyro.sample("sd_g", dist.HalfNormal(PRIORS["sd"]))
        z = numpyro.sample("z_g", dist.Normal(0.0, 1.0).expand([levels]).to_event(1))
        u = numpyro.deterministic("r_g", z * sd)
        eta = intercept + slope * x + u[g]
        if model == "negbinomial":
            shape = numpyro.sample("shape", dist.Gamma(a, b))
            numpyro.sample("y", dist.NegativeBinomial2(jnp.exp(eta), shape), obs=y)
        else:
            phi = numpyro.sample("phi", dist.Gamma(a, b))
            mu = jax.nn.sigmoid(eta)
            numpyro.sample("y", dist.Beta(mu * phi, (1.0 - mu) * phi), obs=y)

    index, levels = pd.factorize(data["g"], sort=True)
    start = time.perf_counter()
    mcmc = MCMC(NUTS(glmm), num_warmup=1000, num_samples=1000, num_chains=4, chain_method="parallel",
                progress_bar=False)
    mcmc.run(jax.random.PRNGKey(seed), jnp.asarray(data["x"].to_numpy()), jnp.asarray(index.astype(np.int32)),
             len(levels), y=jnp.asarray(data["y"].to_numpy()),
             extra_fields=("diverging", "num_steps", "adapt_state.step_size"))
    samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    seconds = time.perf_counter() - start
    extra = mcmc.get_extra_fields()
    draws = {k: v for k, v in samples.items() if k != "z_g"}
    means = {"Intercept": draws["Intercept"].mean(), "x": draws["b_x"].mean(), "sd": draws["sd_g"].mean(),
             "dispersion": draws[DISPERSION[model]].mean()}
    steps = np.asarray(extra["num_steps"])
    meta = {"seconds": seconds, "divergences": int(np.asarray(extra["diverging"]).sum()),
            "means": {k: float(v) for k, v in means.items()}, "steps": float(steps.mean()),
            "tree depth": float(np.log2(steps + 1).mean()),
            "step size": float(np.asarray(extra["adapt_state.step_size"]).mean()),
            "note": f"numpyro {numpyro.__version__}, non-centred, target_accept 0.8, float32"}
    _write(out, draws, meta)


def run_laplace(model: str, csv: str, out: str, repeats: int):
    import hierax as hx

    data = pd.read_csv(csv)
    times, timings = [], []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        fit = hx.fit(FORMULA, data, family=model, method="laplace")
        times.append(time.perf_counter() - start)
        timings.append(fit.timing)
    fixef = fit.fixef()
    meta = {"first": times[0], "again": float(np.median(times[1:])), "times": times, "loglik": fit.loglik,
            "timing first": timings[0], "timing again": timings[-1], "fixef": str(fixef), "varcorr": str(fit.varcorr())}
    Path(out).write_text(json.dumps(meta, default=float))


def _write(out: str, draws: dict, meta: dict):
    np.savez(out, meta=json.dumps(meta, default=float), **{f"draws/{k}": np.asarray(v, float) for k, v in draws.items()})


# ---- driver

def launch(arguments: list, timeout: float, python: str = sys.executable, env: dict | None = None) -> dict:
    return run_in_session([python, str(Path(__file__).resolve()), "--runner", *arguments], timeout, env)


def nuts_row(label: str, model: str, result: dict, path: Path) -> dict:
    row = {"model": model, "rows": SIZES[model][0], "groups": SIZES[model][1], "tool": label}
    if "error" in result:
        print(f"  {model:12s} {label:22s} {result['error']}", flush=True)
        row["note"] = result["error"]
        if "timeout" in result:
            row["ESS/s bound"] = MAX_ESS / result["timeout"]
        return row
    with np.load(path) as f:
        meta = json.loads(str(f["meta"]))
        draws = {k.removeprefix("draws/"): f[k] for k in f.files if k.startswith("draws/")}
    ess, where = min_bulk_ess(draws)
    row.update({"seconds": meta["seconds"], "min ESS": ess, "ESS/s": ess / meta["seconds"],
                "divergences": meta["divergences"], "mean steps": meta["steps"], "step size": meta["step size"],
                **{f"mean {k}": v for k, v in meta["means"].items()},
                "note": f"min in {where}; {meta['note']}"})
    print(f"  {model:12s} {label:22s} {meta['seconds']:8.1f} s  min ESS {ess:6.0f} (in {where})  ESS/s "
          f"{ess / meta['seconds']:7.2f}  div {meta['divergences']}  steps {meta['steps']:.1f}  load "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runner", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--models", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per NUTS run (default 900)")
    parser.add_argument("--cached", action="store_true", help="run hierax NUTS a second time with a warm cache")
    parser.add_argument("--repeats", type=int, default=5, help="Laplace refits per tool (default 5)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["nuts", "laplace"])
    args = parser.parse_args()
    if args.runner:
        kind, model, csv, out, number = args.runner
        if kind == "laplace":
            run_laplace(model, csv, out, int(number))
        else:
            {"hierax": run_hierax, "numpyro": run_numpyro}[kind](model, csv, out, int(number))
        return

    print(f"families: {platform.machine()}, {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M %Z')}; "
          f"load {os.getloadavg()}; 4 chains x 1000 + 1000; NUTS timeout {args.timeout:.0f} s", flush=True)
    nuts, laplace = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for model in args.models:
            simulate(model).to_csv(work / f"{model}.csv", index=False)
        if "nuts" not in args.skip:
            for model in args.models:
                csv = str(work / f"{model}.csv")
                cache = {"HIERAX_CACHE_DIR": str(work / f"cache-{model}")}
                labels = [("hierax (empty cache)", "hierax")] + ([("hierax (cached)", "hierax")] if args.cached else [])
                for label, tool in labels + [("numpyro", "numpyro")]:
                    out = work / f"{tool}-{model}.npz"
                    out.unlink(missing_ok=True)
                    result = launch([tool, model, csv, str(out), str(args.seed)], args.timeout,
                                    env=cache if tool == "hierax" else None)
                    nuts.append(nuts_row(label, model, result, out))
        if "laplace" not in args.skip:
            tmb = glmmtmb(args.repeats, work, args.models)
            for model in args.models:
                out = work / f"laplace-{model}.json"
                result = launch(["laplace", model, str(work / f"{model}.csv"), str(out), str(args.repeats)], 900)
                ours = json.loads(out.read_text()) if not result else {}
                theirs = tmb.get(model, {})
                row = {"model": model, "rows": SIZES[model][0], "groups": SIZES[model][1],
                       "hierax first s": ours.get("first", np.nan), "hierax refit s": ours.get("again", np.nan),
                       "glmmTMB s": theirs.get("seconds", np.nan),
                       "hierax logLik": ours.get("loglik", np.nan), "glmmTMB logLik": theirs.get("loglik", np.nan)}
                row["refit / glmmTMB"] = row["hierax refit s"] / row["glmmTMB s"]
                row["first / glmmTMB"] = row["hierax first s"] / row["glmmTMB s"]
                row["|logLik diff|"] = abs(row["hierax logLik"] - row["glmmTMB logLik"])
                laplace.append(row)
                print(f"  laplace {model}: hierax {ours or result}\n  glmmTMB {theirs}  load {os.getloadavg()[0]:.2f}",
                      flush=True)
    report(nuts, laplace, args)


def glmmtmb(repeats: int, work: Path, models: list) -> dict:
    command = ["Rscript", str(HERE / "glmmtmb_times.R"), str(repeats), str(work), *models]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    except (FileNotFoundError, subprocess.TimeoutExpired) as error:
        print(f"glmmTMB not timed: {error}", flush=True)
        return {}
    if done.returncode != 0:
        print(f"glmmTMB failed: {done.stderr[-1000:]}", flush=True)
        return {}
    return json.loads(done.stdout)


def report(nuts: list, laplace: list, args):
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    verdicts = []
    if nuts:
        table = pd.DataFrame(nuts)
        for model, frame in table.groupby("model", sort=False):
            peer = frame[frame["tool"] == "numpyro"].iloc[0]
            rate = peer.get("ESS/s")
            bound = pd.isna(rate) and not pd.isna(peer.get("ESS/s bound", np.nan))
            rate = peer.get("ESS/s bound") if bound else rate
            table.loc[frame.index, "vs NumPyro"] = [f"{'>= ' if bound else ''}{r / rate:.3g}" if not pd.isna(r) else ""
                                                    for r in frame.get("ESS/s", pd.Series(np.nan, frame.index))]
        columns = [c for c in ("model", "rows", "groups", "tool", "seconds", "min ESS", "ESS/s", "vs NumPyro", "divergences",
                               "mean steps", "step size") if c in table]
        print("\nNUTS, 4 chains x 1000 + 1000 (min bulk ESS over every scalar, group effects included):")
        print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        means = [c for c in table if c.startswith("mean ") and c != "mean steps"]
        print("\nposterior means (truth: " + "; ".join(f"{m} {TRUTH[m]}" for m in args.models) + "):")
        print(table[["model", "tool", *means, "note"]].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        for model, frame in table.groupby("model", sort=False):
            ours = frame[frame["tool"] == "hierax (empty cache)"].iloc[0]
            ratio = ours.get("vs NumPyro", "")
            value = float(ratio.removeprefix(">= ")) if isinstance(ratio, str) and ratio else np.nan
            if isinstance(ratio, str) and ratio.startswith(">=") and value < NUTS_TARGET:
                verdict = "not determined (NumPyro stopped at the timeout: a lower bound below the target)"
            else:
                verdict = "met" if value >= NUTS_TARGET else "NOT met"
            verdicts.append(f"target 1 (NUTS >= {NUTS_TARGET}x NumPyro's ESS/s), {model} {SIZES[model][0]} rows: "
                            f"{ratio or 'n/a'}x (hierax from an empty cache) -> {verdict}")
    if laplace:
        table = pd.DataFrame(laplace)
        print(f"\nLaplace: hierax first fit and median of {args.repeats} refits in one process; glmmTMB mean of "
              f"{args.repeats} refits after one untimed fit:")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
        for _, row in table.iterrows():
            met = row["refit / glmmTMB"] <= LAPLACE_TARGET
            agree = row["|logLik diff|"] <= LOGLIK_TOL
            verdicts.append(f"target 2 (Laplace within {LAPLACE_TARGET}x glmmTMB), {row['model']}: refit "
                            f"{row['refit / glmmTMB']:.3g}x, first fit {row['first / glmmTMB']:.3g}x -> "
                            f"{'met' if met else 'NOT met'} (refit); logLik |diff| {row['|logLik diff|']:.2e} -> "
                            f"{'agree' if agree else 'DISAGREE'} to {LOGLIK_TOL:g}")
    print()
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
