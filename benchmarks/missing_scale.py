"""NUTS on a gaussian model with a missing predictor imputed in the fit (``mi(x)``): hierax against
a hand-written NumPyro model of the same joint model (issue 18, acceptance item 4).

The model, simulated by :func:`simulate` (numpy, fixed seed): ``--rows N`` rows (default 10,000,
a multiple of 20) in N / 20 groups of 20 (labels ``g00000``, ... so that their order as strings
is their order as numbers),

    z ~ N(0, 1),  x = 0.6 z + N(0, 0.8^2),  u_g ~ N(0, 0.5^2),  y = 1 + 1 x + 0.5 z + u_g + N(0, 1),

and exactly 20% of x missing at random given z (MAR): the missing rows are drawn without
replacement with weights exp(z), so rows with large z lose x more often and complete cases are
not a random sample. Both tools fit the joint model

    y_i ~ N(Intercept + b_x x_i + b_z z_i + u_g[i], sigma),  u_g ~ N(0, sd_g^2)
    x_i ~ N(x_Intercept + x_b_z z_i, x_sigma)        (observed x: its likelihood; missing: a latent)

hierax as ``hx.fit(hx.bf("y ~ mi(x) + z + (1 | g)") + hx.bf("x | mi() ~ z"), data)`` (which, for this
model, integrates the missing x and the group effects out and draws them afterwards:
``hierax.latent_sampler``; its ``fit.parameterisation`` is printed in the JSON's "meta"), NumPyro
with the missing x as a parameter vector ``x_mis`` (its prior x's model, centred), the group
effects non-centred (u = sd_g * z_u, z_u ~ N(0, 1)).

Priors, explicit and the same for both (hierax's defaults would be scaled to the data):
Intercept ~ Normal(0, 5), b[mi(x)] and b[z] ~ Normal(0, 2.5), sd[g][(Intercept)] ~
HalfStudentT(3, 1), sigma ~ HalfStudentT(3, 1); x's model: Intercept ~ Normal(0, 5), b[z] ~
Normal(0, 2.5), sigma ~ HalfStudentT(3, 1). HalfStudentT(df, s) is |StudentT(df, 0, s)| (NumPyro:
``FoldedDistribution(StudentT(df, 0, s))``). Both runs print the priors they used (hierax:
``fit.priors`` and x's model's ``spec.prior_table``).

Two runs, each in a fresh process of its own (``suite.run_in_session``), ``--chains`` chains x
``--warmup`` warm-up + ``--draws`` draws (default 4 x 1,000 + 1,000), timed from model building
to draws in NumPy (compilation included, interpreter start-up and imports not), as
``nuts_scale.py`` and ``suite.py`` do:

- ``hierax``: ``hx.fit`` at its default sampler settings (the automatic target_accept, float64),
  an empty compilation cache (its first fit of this model on a machine).
- ``numpyro``: hand-written in NumPyro 0.22 from ``.venv-peers``, NUTS at its defaults
  (target_accept 0.8, float32), chains in parallel over 4 forced host devices.

The driver computes ArviZ's bulk ESS (``suite.min_bulk_ess``) of the same scalars alike for both:
the outcome's fixed effects, sigma and sd, x's model's coefficients and sigma (the
"hyperparameters") and every latent x (N / 5 of them); it reports the minimum over the
hyperparameters and over everything, wall time, ESS/s (of the minimum over everything) and
hierax's ESS/s over NumPyro's. The group effects count too (as in ``nuts_scale.py``): the minimum is
over every scalar.
A run stopped at the timeout counts as at most 1.5 x chains x draws ESS in that time (an upper
bound; a ratio against it is a lower bound, ">="). The two must sample the same posterior, or the
comparison measures nothing: for each hyperparameter, z = (mean_hierax - mean_numpyro) /
sqrt(mcse_h^2 + mcse_n^2), mcse = posterior sd / sqrt(bulk ESS), flagged above 4; for the latent
x the largest |z| and how many exceed 4 (for information: among thousands, a few above 4 are
chance). Target (at the full size and settings): hierax's ESS/s >= 1.5x NumPyro's. The results end
the output as one line of JSON.

Usage: ``python benchmarks/missing_scale.py [--rows N] [--chains C] [--warmup W] [--draws D]
[--timeout S] [--tools hierax numpyro] [--seed K]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import min_bulk_ess, run_in_session  # noqa: E402  (shared with the sampler suite)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
OUTCOME, PREDICTOR = "y ~ mi(x) + z + (1 | g)", "x | mi() ~ z"
GROUP_SIZE, FULL_ROWS, MISSING = 20, 10_000, 0.2
# the scalars compared, named as hierax's summary() names them
HYPER = ("(Intercept)", "mi(x)", "z", "sd[g][(Intercept)]", "sigma", "x: (Intercept)", "x: z", "x: sigma")
FIXED = ("(Intercept)", "mi(x)", "z", "x: (Intercept)", "x: z")
TRUTH = dict(zip(HYPER, (1.0, 1.0, 0.5, 0.5, 1.0, 0.0, 0.6, 0.8)))
TOOLS = ("hierax", "numpyro")
RATIO_TARGET, MCSE_TARGET = 1.5, 4.0
# the priors both tools use: (family, parameters); HalfStudentT(df, s) = |StudentT(df, 0, s)|
PRIORS = {"Intercept": ("Normal", 0.0, 5.0), "b": ("Normal", 0.0, 2.5), "sd": ("HalfStudentT", 3.0, 1.0),
          "sigma": ("HalfStudentT", 3.0, 1.0), "x: Intercept": ("Normal", 0.0, 5.0), "x: b": ("Normal", 0.0, 2.5),
          "x: sigma": ("HalfStudentT", 3.0, 1.0)}


def simulate(rows: int, seed: int) -> pd.DataFrame:
    """The data: ``rows`` rows in groups of 20, x missing (NaN) in exactly 20% of rows, more
    often where z is large (weights exp(z), drawn without replacement)."""
    rng = np.random.default_rng(seed)
    groups = rows // GROUP_SIZE
    g = np.repeat(np.arange(groups), GROUP_SIZE)
    z = rng.normal(0.0, 1.0, rows)
    x = 0.6 * z + rng.normal(0.0, 0.8, rows)
    u = rng.normal(0.0, 0.5, groups)
    y = 1.0 + 1.0 * x + 0.5 * z + u[g] + rng.normal(0.0, 1.0, rows)
    weights = np.exp(z)
    missing = rng.choice(rows, size=int(round(MISSING * rows)), replace=False, p=weights / weights.sum())
    x[missing] = np.nan
    return pd.DataFrame({"y": y, "x": x, "z": z, "g": [f"g{i:05d}" for i in g]})


# ---- runners (each in a fresh process of its own)

def run_hierax(tool: str, csv: str, out: str, seed: int, chains: int, warmup: int, draws: int):
    from peers.common import import_hierax_for_nuts

    hx = import_hierax_for_nuts()  # imports before the clock, as the NumPyro runner's

    data = pd.read_csv(csv)
    makers = {"Normal": hx.Normal, "HalfStudentT": hx.HalfStudentT}
    priors = {key: makers[kind](*numbers) for key, (kind, *numbers) in PRIORS.items()}
    start = time.perf_counter()
    fit = hx.fit(hx.bf(OUTCOME) + hx.bf(PREDICTOR), data, chains=chains, warmup=warmup, draws=draws, seed=seed,
                 priors=priors)
    posterior = {name: fit.idata.posterior[name].values for name in fit.idata.posterior.data_vars}
    sub = fit.submodels[0]
    sub_posterior = {name: sub.idata.posterior[name].values for name in sub.idata.posterior.data_vars}
    seconds = time.perf_counter() - start
    post, sub_post = fit.idata.posterior, sub.idata.posterior
    assert list(post["fixed"].values) == ["(Intercept)", "mi(x)", "z"], post["fixed"].values
    assert list(post["g__term"].values) == ["(Intercept)"], post["g__term"].values
    assert list(sub_post["fixed"].values) == ["(Intercept)", "z"], sub_post["fixed"].values
    missing_rows = np.flatnonzero(data["x"].isna().to_numpy())
    assert np.array_equal(post["Ymi_row_x"].values, missing_rows), "latent x not in the data's row order"
    out_draws = {"(Intercept)": posterior["beta"][..., 0], "mi(x)": posterior["beta"][..., 1],
                 "z": posterior["beta"][..., 2], "sd[g][(Intercept)]": posterior["sd_g"][..., 0],
                 "sigma": posterior["sigma"], "x: (Intercept)": sub_posterior["beta"][..., 0],
                 "x: z": sub_posterior["beta"][..., 1], "x: sigma": sub_posterior["sigma"],
                 "Ymi_x": posterior["Ymi_x"], "b_g": posterior["b_g"][..., 0]}
    stats = fit.idata.sample_stats
    meta = {"seconds": seconds, "divergences": int(stats["diverging"].sum()),
            "steps": float(stats["n_steps"].mean()), "step size": float(stats["step_size"].mean()),
            "timing": fit.timing, "parameterisation": fit.parameterisation, "warnings": list(fit.warnings),
            "adaptation": fit.adaptation,
            "priors": f"outcome:\n{fit.priors}\nx's model:\n{sub.spec.prior_table}",
            "note": f"hierax, target_accept {fit.adaptation['target_accept']}"
                    + "".join(f" (raised after {r['divergent']} divergent in {r['phase']} at {r['target_accept']})"
                              for r in fit.adaptation["raised"]) + ", float64, timing "
                    + ", ".join(f"{k} {v:.1f} s" for k, v in fit.timing.items())}
    _write(out, out_draws, meta)


def run_numpyro(tool: str, csv: str, out: str, seed: int, chains: int, warmup: int, draws: int):
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    def prior(key):
        kind, a, b = PRIORS[key]
        return dist.Normal(a, b) if kind == "Normal" else dist.FoldedDistribution(dist.StudentT(a, 0.0, b))

    def joint(y, z, g, levels, x_obs, obs_rows, mis_rows):
        # x's model; the missing x are parameters whose prior is x's model (centred)
        x_intercept = numpyro.sample("x_Intercept", prior("x: Intercept"))
        x_slope = numpyro.sample("x_b_z", prior("x: b"))
        x_sigma = numpyro.sample("x_sigma", prior("x: sigma"))
        x_mean = x_intercept + x_slope * z
        numpyro.sample("x_obs", dist.Normal(x_mean[obs_rows], x_sigma), obs=x_obs)
        x_mis = numpyro.sample("x_mis", dist.Normal(x_mean[mis_rows], x_sigma).to_event(1))
        x = jnp.zeros(z.shape[0], z.dtype).at[obs_rows].set(x_obs).at[mis_rows].set(x_mis)
        # the outcome's model, group effects non-centred
        intercept = numpyro.sample("Intercept", prior("Intercept"))
        b = numpyro.sample("b", prior("b").expand([2]).to_event(1))
        tau = numpyro.sample("sd_g", prior("sd"))
        z_g = numpyro.sample("z_g", dist.Normal(0.0, 1.0).expand([levels]).to_event(1))
        u = numpyro.deterministic("b_g", z_g * tau)
        sigma = numpyro.sample("sigma", prior("sigma"))
        numpyro.sample("y", dist.Normal(intercept + b[0] * x + b[1] * z + u[g], sigma), obs=y)

    data = pd.read_csv(csv)
    index, levels = pd.factorize(data["g"], sort=True)       # hierax's level order: labels sorted as strings
    x_all = data["x"].to_numpy()
    observed = ~np.isnan(x_all)
    start = time.perf_counter()
    f32 = jnp.float32
    mcmc = MCMC(NUTS(joint), num_warmup=warmup, num_samples=draws, num_chains=chains, chain_method="parallel",
                progress_bar=False)
    mcmc.run(jax.random.PRNGKey(seed), jnp.asarray(data["y"].to_numpy(), f32), jnp.asarray(data["z"].to_numpy(), f32),
             jnp.asarray(index.astype(np.int32)), len(levels), jnp.asarray(x_all[observed], f32),
             jnp.asarray(np.flatnonzero(observed).astype(np.int32)),
             jnp.asarray(np.flatnonzero(~observed).astype(np.int32)),
             extra_fields=("diverging", "num_steps", "adapt_state.step_size"))
    samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    seconds = time.perf_counter() - start
    extra = mcmc.get_extra_fields(group_by_chain=True)
    out_draws = {"(Intercept)": samples["Intercept"], "mi(x)": samples["b"][..., 0], "z": samples["b"][..., 1],
                 "sd[g][(Intercept)]": samples["sd_g"], "sigma": samples["sigma"],
                 "x: (Intercept)": samples["x_Intercept"], "x: z": samples["x_b_z"], "x: sigma": samples["x_sigma"],
                 "Ymi_x": samples["x_mis"], "b_g": samples["b_g"]}
    text = {"Normal": "Normal({:g}, {:g})", "HalfStudentT": "FoldedDistribution(StudentT({:g}, 0, {:g}))"}
    priors = "; ".join(f"{key} {text[kind].format(a, b)}" for key, (kind, a, b) in PRIORS.items())
    meta = {"seconds": seconds, "divergences": int(np.asarray(extra["diverging"]).sum()),
            "steps": float(np.asarray(extra["num_steps"]).mean()),
            "step size": float(np.asarray(extra["adapt_state.step_size"]).mean()), "priors": priors,
            "note": f"numpyro {numpyro.__version__}, jax {jax.__version__}, x_mis centred, group effects "
                    "non-centred, target_accept 0.8, float32"}
    _write(out, out_draws, meta)


def _write(out: str, draws: dict, meta: dict):
    np.savez(out, meta=json.dumps(meta, default=float),
             **{f"draws/{k}": np.asarray(v, float) for k, v in draws.items()})


# ---- driver

def launch(arguments: list, timeout: float, python: str = sys.executable, env: dict | None = None) -> dict:
    return run_in_session([python, str(Path(__file__).resolve()), "--runner", *arguments], timeout, env)


def _stats(values: np.ndarray) -> dict:
    """Posterior mean, sd, bulk ESS and MCSE of the mean (sd / sqrt(ESS)) of each scalar of
    ``values`` (chain, draw, ...), as arrays of the trailing shape."""
    flat = values.reshape(values.shape[0], values.shape[1], -1)
    ess = az.ess(az.convert_to_dataset({"x": flat}), method="bulk")["x"].values
    sd = flat.reshape(-1, flat.shape[-1]).std(axis=0, ddof=1)
    return {"mean": flat.mean(axis=(0, 1)), "sd": sd, "ess": ess, "mcse": sd / np.sqrt(ess)}


def scalar_stats(draws: dict) -> dict:
    """Per hyperparameter: posterior mean, sd, bulk ESS and MCSE; the latent x's as arrays."""
    out = {name: {k: float(v[0]) for k, v in _stats(draws[name]).items()} for name in HYPER}
    out["Ymi_x"] = _stats(draws["Ymi_x"])
    return out


def tool_row(tool: str, result: dict, path: Path, args) -> dict:
    """The run's row (and, under "stats", its summaries); the draws file is removed."""
    row = {"tool": tool}
    if "error" in result:
        print(f"  {tool:10s} {result['error']}", flush=True)
        row["note"] = result["error"]
        if "timeout" in result:     # it cannot have done better than 1.5 x its draws in the time it had
            row["ESS/s bound"] = 1.5 * args.chains * args.draws / result["timeout"]
        return row
    with np.load(path) as f:
        meta = json.loads(str(f["meta"]))
        draws = {k.removeprefix("draws/"): f[k] for k in f.files if k.startswith("draws/")}
    path.unlink()
    hyper_ess, hyper_where = min_bulk_ess({k: draws[k] for k in HYPER})
    latent_ess, _ = min_bulk_ess({"Ymi_x": draws["Ymi_x"]})
    effects_ess, _ = min_bulk_ess({"b_g": draws["b_g"]})
    ess, where = min((hyper_ess, hyper_where), (latent_ess, "Ymi_x"), (effects_ess, "b_g"))
    row.update({"seconds": meta["seconds"], "min ESS hyper": hyper_ess, "min ESS latent x": latent_ess,
                "min ESS": ess, "ESS/s": ess / meta["seconds"], "min ESS b_g": effects_ess,
                "divergences": meta["divergences"], "mean steps": meta["steps"], "step size": meta["step size"],
                "note": f"min in {where}; {meta['note']}", "stats": scalar_stats(draws), "meta": meta})
    print(f"  {tool:10s} {meta['seconds']:8.1f} s  min ESS {ess:6.0f} (in {where}; hyper {hyper_ess:.0f})  ESS/s "
          f"{ess / meta['seconds']:7.2f}  div {meta['divergences']}  steps {meta['steps']:.1f}  load "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runner", nargs=7, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=FULL_ROWS, help=f"rows, a multiple of {GROUP_SIZE} "
                        f"(default {FULL_ROWS:,})")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run (default 1800)")
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=list(TOOLS))
    parser.add_argument("--seed", type=int, default=18, help="seed of the simulated data and of both samplers "
                        "(default 18)")
    args = parser.parse_args()
    if args.runner:
        tool, csv, out, *numbers = args.runner
        runner = run_numpyro if tool == "numpyro" else run_hierax
        runner(tool, csv, out, *map(int, numbers))
        return
    if args.rows <= 0 or args.rows % GROUP_SIZE:
        parser.error(f"--rows must be a positive multiple of {GROUP_SIZE}")

    data = simulate(args.rows, args.seed)
    missing = data["x"].isna()
    print(f"missing_scale: {platform.node()}, {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M %Z')}; load {os.getloadavg()}\n"
          f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}\n"
          f"model: {OUTCOME} + {PREDICTOR}, gaussian, {args.rows:,} rows, {args.rows // GROUP_SIZE:,} groups of "
          f"{GROUP_SIZE}; x missing in {int(missing.sum()):,} rows ({missing.mean():.0%}; mean z "
          f"{data['z'][missing].mean():.2f} where missing, {data['z'][~missing].mean():.2f} where observed); "
          f"{args.chains} chains x {args.warmup} + {args.draws}; timeout {args.timeout:.0f} s; seed {args.seed}",
          flush=True)
    peers = str(PEERS_PYTHON) if PEERS_PYTHON.exists() else sys.executable
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        csv = work / "data.csv"
        data.to_csv(csv, index=False)
        for tool in args.tools:
            out = work / f"{tool}.npz"
            env = {"HIERAX_CACHE_DIR": str(work / f"cache-{tool}")} if tool != "numpyro" else None  # empty cache
            result = launch([tool, str(csv), str(out), str(args.seed), str(args.chains), str(args.warmup),
                             str(args.draws)], args.timeout, python=peers if tool == "numpyro" else sys.executable,
                            env=env)
            rows.append(tool_row(tool, result, out, args))
    report(rows, args)


def _ratio(ours: dict, peer: dict) -> tuple[str, float]:
    """ours' ESS/s over peer's, as printed (">=" against a stopped peer's bound) and as a number."""
    rate, bound = peer.get("ESS/s"), peer.get("ESS/s bound")
    if ours.get("ESS/s") is None or (rate is None and bound is None):
        return "", np.nan
    value = ours["ESS/s"] / (rate if rate is not None else bound)
    return (f"{value:.3g}" if rate is not None else f">= {value:.3g}"), value


def _z(a: dict, b: dict):
    return (a["mean"] - b["mean"]) / np.sqrt(a["mcse"] ** 2 + b["mcse"] ** 2)


def report(rows: list, args):
    """Print the tables, the agreement between the tools, the verdict and the JSON."""
    by_tool = {r["tool"]: r for r in rows}
    peer = by_tool.get("numpyro", {})
    for row in rows:
        if row["tool"] != "numpyro":
            row["vs NumPyro"], row["vs NumPyro value"] = _ratio(row, peer)
    _print_tables(rows, args)
    comparison, latent = _comparison(by_tool)
    for row in rows:
        for message in row.get("meta", {}).get("warnings", []):
            print(f"  {row['tool']} warning: {message}")
    verdicts = _verdicts(by_tool, comparison, args)
    print()
    print("\n".join(verdicts))

    for row in rows:      # the latent x's per-value arrays stay out of the JSON; their summary is in "latent"
        row.get("stats", {}).pop("Ymi_x", None)
    results = {"rows": args.rows, "groups": args.rows // GROUP_SIZE, "missing": int(round(MISSING * args.rows)),
               "chains": args.chains, "warmup": args.warmup, "draws": args.draws, "seed": args.seed,
               "timeout": args.timeout, "tools": rows, "comparison": comparison, "latent": latent,
               "verdicts": verdicts}
    print("\nresults (JSON):")
    print(json.dumps(_plain(results)))


def _print_tables(rows: list, args):
    """Times and ESS by tool, their notes, their priors and their posterior means."""
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.max_colwidth", 160)
    table = pd.DataFrame([{k: v for k, v in r.items() if k not in ("stats", "meta")} for r in rows])
    columns = [c for c in ("tool", "seconds", "min ESS hyper", "min ESS latent x", "min ESS", "ESS/s", "vs NumPyro",
                           "min ESS b_g", "divergences", "mean steps", "step size") if c in table]
    missing = int(round(MISSING * args.rows))
    print(f"\nNUTS on {OUTCOME} + {PREDICTOR}, {args.rows:,} rows ({missing:,} x missing), {args.chains} chains x "
          f"{args.warmup} + {args.draws} (bulk ESS; 'min ESS' over the {len(HYPER)} hyperparameters, the "
          f"{missing:,} latent x and the {args.rows // 20:,} group effects; ESS/s of it):")
    print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("\n" + table[["tool", "note"]].to_string(index=False))

    print("\npriors:")
    for row in rows:
        if "meta" in row:
            print(f"  {row['tool']}:\n    " + row["meta"]["priors"].replace("\n", "\n    "))

    stats = {r["tool"]: r["stats"] for r in rows if "stats" in r}
    if stats:
        print("\nposterior means (posterior sd, bulk ESS):")
        means = pd.DataFrame({"truth": TRUTH, **{tool: {name: f"{s[name]['mean']:.4f} ({s[name]['sd']:.3f}, "
                                                              f"{s[name]['ess']:.0f})" for name in HYPER}
                                                   for tool, s in stats.items()}})
        print(means.to_string())


def _comparison(by_tool: dict) -> tuple[list, dict]:
    """Each hyperparameter's z, hierax against NumPyro, printed; and a summary of the latent x's."""
    if not all("stats" in by_tool.get(tool, {}) for tool in TOOLS):
        return [], {}
    ours, peer = by_tool["hierax"]["stats"], by_tool["numpyro"]["stats"]
    comparison = []
    for name in HYPER:
        z = float(_z(ours[name], peer[name]))
        comparison.append({"parameter": name, "hierax mean": ours[name]["mean"], "hierax mcse": ours[name]["mcse"],
                           "numpyro mean": peer[name]["mean"], "numpyro mcse": peer[name]["mcse"], "z": z,
                           "flag": "> 4" if abs(z) > MCSE_TARGET else ""})
    print("\nhierax against NumPyro: z = (mean_hierax - mean_numpyro) / sqrt(mcse_h^2 + mcse_n^2), mcse = sd / "
          "sqrt(bulk ESS); flagged above 4:")
    print(pd.DataFrame(comparison).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    z = _z(ours["Ymi_x"], peer["Ymi_x"])
    worst = int(np.argmax(np.abs(z)))
    shift = np.abs(ours["Ymi_x"]["mean"] - peer["Ymi_x"]["mean"]) / peer["Ymi_x"]["sd"]
    latent = {"count": int(z.size), "largest |z|": float(np.abs(z)[worst]), "at (position)": worst,
              "above 4": int(np.sum(np.abs(z) > MCSE_TARGET)), "above 3": int(np.sum(np.abs(z) > 3)),
              "expected above 3 by chance": float(z.size * 0.0027),
              "largest |mean difference| / posterior sd": float(np.max(shift))}
    print(f"latent x ({latent['count']:,}): largest |z| {latent['largest |z|']:.2f} (position {worst}), "
          f"{latent['above 4']} above 4, {latent['above 3']} above 3 ({latent['expected above 3 by chance']:.1f} "
          f"expected by chance); largest |mean difference| {np.max(shift):.3f} posterior sds")
    return comparison, latent


def _verdicts(by_tool: dict, comparison: list, args) -> list:
    """The target's verdict, and whether the two samples agree."""
    full = (args.rows, args.chains, args.warmup, args.draws) == (FULL_ROWS, 4, 1000, 1000)
    verdicts = [f"the target is judged at {FULL_ROWS:,} rows, 4 chains x 1000 + 1000; this run: {args.rows:,} rows, "
                f"{args.chains} x {args.warmup} + {args.draws}" + ("" if full else " (NOT the acceptance measurement)")]
    if comparison:
        worst = max(comparison, key=lambda c: abs(c["z"]))
        agree = abs(worst["z"]) <= MCSE_TARGET
        verdicts.append(f"hierax and NumPyro agree within {MCSE_TARGET:g} MCSE on every hyperparameter: largest |z| "
                        f"{abs(worst['z']):.2f} ({worst['parameter']}) -> "
                        + ("yes" if agree else "NO: the ratio means nothing"))
    if "hierax" in by_tool and "numpyro" in by_tool:
        text, value = by_tool["hierax"].get("vs NumPyro", ""), by_tool["hierax"].get("vs NumPyro value", np.nan)
        if text.startswith(">=") and value < RATIO_TARGET:
            verdict = "not determined (NumPyro stopped at the timeout: a lower bound below the target)"
        else:
            verdict = "met" if value >= RATIO_TARGET else "NOT met"
        verdicts.append(f"hierax: ESS/s >= {RATIO_TARGET:g}x NumPyro's: {text or 'n/a'}x -> {verdict}")
    return verdicts


def _plain(value):
    """``value`` as plain JSON: NumPy numbers as Python's, NaN and infinities as null."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


if __name__ == "__main__":
    main()
