"""NUTS on a large bernoulli GLMM: hierax's default sampler and its embedded Laplace option
against a hand-written NumPyro model (issue 17, acceptance item 3).

The model is ``laplace_scale.py``'s (a): bernoulli, ``y ~ x + (1 + x | g)``, logit link, 100,000
rows in 5,000 groups of 20; truth Intercept -0.5, x 1.0, sd(Intercept) 1.0, sd(x) 0.5, correlation
0.3, x ~ N(0, 1), simulated by ``laplace_scale.simulate("a", seed)``. ``--rows N`` keeps the first
N rows (whole groups: N a multiple of 20), for quick checks at a smaller size.

Runs, each in a fresh process of its own (``suite.run_in_session``), ``--chains`` chains x
``--warmup`` warm-up + ``--draws`` draws (default 4 x 1,000 + 1,000), timed from model building
to draws in NumPy (compilation included, interpreter start-up and imports not), as ``suite.py``
and ``families.py`` do:

- ``hierax``: ``hx.fit(..., family="bernoulli")`` at hierax's defaults, "the default sampler".
  Since session 15 that is, for this model (one grouping factor of >= 1,000 levels, two effects a
  level), the embedded Laplace with adaptive quadrature's correction
  (``hierax.density.embedded_correction``): NUTS over the fixed effects, sds and correlation with
  the group effects integrated out, the effects drawn afterwards; its check
  (``fit.parameterisation``: the Pareto k of a finer quadrature's importance weights and
  ``shift``, how far they move each fixed effect and sd, in posterior sds) is recorded, and had it
  failed the fit would have sampled every effect instead. Float64, an empty compilation cache
  (its first fit of this model on a machine).
- ``hierax-sized``: the same default sampler in a run sized for 400 ESS (``--sized``, default 4
  chains x 100 + 250; 1,000 draws give the group effects' minimum about 560: the minimum of
  10,000 estimates, so it grows with the draws, not the warm-up), the second reading
  of target 3's "400 ESS in under 60 s": the time a user waits for that many, not a run of
  Stan's default length. Its own fresh process and empty cache.
- ``hierax-full``: ``collapse=False``, every group effect sampled (parameterisation "auto", the
  automatic target_accept: 0.8 here, since the one grouping factor has 5,000 levels), the
  reference the embedded Laplace is judged against.
- ``hierax-laplace`` (not run by default): ``collapse="laplace"``, the embedded Laplace asked for;
  for this model the same as the default.
- ``numpyro``: hand-written in NumPyro 0.22 from ``.venv-peers`` as ``families.py``'s runner
  (non-centred effects u = (z L') * sd, z ~ N(0, I), L ~ LKJCholesky), NumPyro's NUTS at its
  defaults (target_accept 0.8, float32), chains in parallel over 4 forced host devices.

Priors: every tool uses hierax's defaults for this model (hierax's by its default rule, printed
from ``fit.priors`` in the run; NumPyro's written out to match): Intercept ~ StudentT(3, 0, 2.5),
b[x] ~ Normal(0, 2.5 / sd(x)) (sd with ddof 1, rounded to 4 significant digits as hierax does:
2.498 at 100,000 rows of seed 17, 2.469 at 2,000), sd[g][(Intercept)] and sd[g][x] ~
half-StudentT(3, 0, 1) (NumPyro: ``FoldedDistribution(StudentT(3, 0, 1))``), cor[g] ~ LKJ(2)
(NumPyro: ``LKJCholesky(2, concentration=2)``).

The driver computes ArviZ's bulk ESS (``suite.min_bulk_ess``) of every scalar alike for each tool:
both fixed effects, both sds, the correlation and every group effect (5,000 x 2), and reports the
minimum over the hyperparameters and over everything, wall time, ESS/s (of the minimum over
everything) and each hierax run's ESS/s over NumPyro's. A run stopped at the timeout
counts as at most 1.5 x chains x draws ESS in that time (an upper bound; a ratio against it is a
lower bound, ">="). Then, for each fixed effect, sd and the correlation, each embedded run against
full NUTS (``hierax-full``, or the default where it sampled every effect): z = (mean_laplace -
mean_full) / sqrt(mcse_l^2 + mcse_f^2), mcse = posterior sd / sqrt(bulk ESS), flagged above 4,
beside the check's shift; and the same z for NumPyro. Targets (at the full size and settings): hierax's
default min ESS >= 400 in under 60 s, its ESS/s >= 3x NumPyro's; Laplace within 4 MCSE of full NUTS
on every fixed effect and sd, or its check saying it is not. The results end the output as one
line of JSON.

Usage: ``python benchmarks/nuts_scale.py [--rows N] [--chains C] [--warmup W] [--draws D]
[--sized C W D] [--timeout S] [--tools hierax hierax-sized hierax-full hierax-laplace numpyro]
[--seed K]``.
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
from laplace_scale import simulate  # noqa: E402  (model (a)'s data)
from suite import min_bulk_ess, run_in_session  # noqa: E402  (shared with the sampler suite)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
FORMULA = "y ~ x + (1 + x | g)"
GROUP_SIZE, FULL_ROWS = 20, 100_000
# scalar hyperparameters, named as hierax's summary() and its Laplace check name them
HYPER = ("(Intercept)", "x", "sd[g][(Intercept)]", "sd[g][x]", "cor[g][(Intercept),x]")
SDS_AND_FIXED = HYPER[:4]        # what the Laplace target is judged on (and what its check's shift covers)
TRUTH = dict(zip(HYPER, (-0.5, 1.0, 1.0, 0.5, 0.3)))
TOOLS = ("hierax", "hierax-sized", "hierax-full", "hierax-laplace", "numpyro")
DEFAULT_TOOLS = ("hierax", "hierax-sized", "hierax-full", "numpyro")
SIZED = (4, 100, 250)            # hierax-sized's chains, warm-up and draws: a run sized for 400 ESS
ESS_TARGET, SECONDS_TARGET, RATIO_TARGET, MCSE_TARGET = 400, 60.0, 3.0, 4.0


# ---- runners (each in a fresh process of its own)

def run_hierax(tool: str, csv: str, out: str, seed: int, chains: int, warmup: int, draws: int):
    from peers.common import import_hierax_for_nuts

    hx = import_hierax_for_nuts()  # imports before the clock, as the NumPyro runner's

    data = pd.read_csv(csv)
    collapse = {"hierax-laplace": "laplace", "hierax-full": False}.get(tool)
    start = time.perf_counter()
    fit = hx.fit(FORMULA, data, family="bernoulli", chains=chains, warmup=warmup, draws=draws, seed=seed,
                 collapse=collapse)
    posterior = {name: fit.idata.posterior[name].values for name in fit.idata.posterior.data_vars}
    seconds = time.perf_counter() - start
    post = fit.idata.posterior
    assert list(post["fixed"].values) == ["(Intercept)", "x"], post["fixed"].values
    assert list(post["g__term"].values) == ["(Intercept)", "x"], post["g__term"].values
    out_draws = {"(Intercept)": posterior["beta"][..., 0], "x": posterior["beta"][..., 1],
                 "sd[g][(Intercept)]": posterior["sd_g"][..., 0], "sd[g][x]": posterior["sd_g"][..., 1],
                 "cor[g][(Intercept),x]": posterior["cor_g"][..., 0], "b_g": posterior["b_g"]}
    stats = fit.idata.sample_stats
    meta = {"seconds": seconds, "divergences": int(stats["diverging"].sum()),
            "steps": float(stats["n_steps"].mean()), "step size": float(stats["step_size"].mean()),
            "timing": fit.timing, "parameterisation": fit.parameterisation, "warnings": list(fit.warnings),
            "adaptation": fit.adaptation, "priors": str(fit.priors),
            "note": f"target_accept {fit.adaptation['target_accept']}"
                    + "".join(f" (raised after {r['divergent']} divergent in {r['phase']} at {r['target_accept']})"
                              for r in fit.adaptation["raised"]) + ", float64"}
    _write(out, out_draws, meta)


def run_numpyro(tool: str, csv: str, out: str, seed: int, chains: int, warmup: int, draws: int):
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    data = pd.read_csv(csv)
    # hierax's default prior on b[x]: Normal(0, 2.5 / sd(x)), sd with ddof 1, to 4 significant digits
    b_scale = float(f"{2.5 / np.std(data['x'].to_numpy(), ddof=1):.4g}")

    def glmm(x, g, levels, y=None):
        intercept = numpyro.sample("Intercept", dist.StudentT(3.0, 0.0, 2.5))
        slope = numpyro.sample("b_x", dist.Normal(0.0, b_scale))
        tau = numpyro.sample("sd_g", dist.FoldedDistribution(dist.StudentT(3.0, 0.0, 1.0)).expand([2]).to_event(1))
        L = numpyro.sample("L_g", dist.LKJCholesky(2, concentration=2.0))
        z = numpyro.sample("z_g", dist.Normal(0.0, 1.0).expand([levels, 2]).to_event(2))
        numpyro.deterministic("cor_g", L[1, 0])
        u = numpyro.deterministic("b_g", (z @ L.T) * tau)
        eta = intercept + slope * x + u[g, 0] + u[g, 1] * x
        numpyro.sample("y", dist.Bernoulli(logits=eta), obs=y)

    index, levels = pd.factorize(data["g"], sort=True)       # hierax's level order: labels sorted as strings
    start = time.perf_counter()
    mcmc = MCMC(NUTS(glmm), num_warmup=warmup, num_samples=draws, num_chains=chains, chain_method="parallel",
                progress_bar=False)
    mcmc.run(jax.random.PRNGKey(seed), jnp.asarray(data["x"].to_numpy()), jnp.asarray(index.astype(np.int32)),
             len(levels), y=jnp.asarray(data["y"].to_numpy()),
             extra_fields=("diverging", "num_steps", "adapt_state.step_size"))
    samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    seconds = time.perf_counter() - start
    extra = mcmc.get_extra_fields(group_by_chain=True)
    out_draws = {"(Intercept)": samples["Intercept"], "x": samples["b_x"], "sd[g][(Intercept)]": samples["sd_g"][..., 0],
                 "sd[g][x]": samples["sd_g"][..., 1], "cor[g][(Intercept),x]": samples["cor_g"], "b_g": samples["b_g"]}
    priors = (f"Intercept StudentT(3, 0, 2.5); b[x] Normal(0, {b_scale:g}); sd[g][*] FoldedDistribution(StudentT(3, 0, "
              "1)); L_g LKJCholesky(2, concentration=2)")
    meta = {"seconds": seconds, "divergences": int(np.asarray(extra["diverging"]).sum()),
            "steps": float(np.asarray(extra["num_steps"]).mean()),
            "step size": float(np.asarray(extra["adapt_state.step_size"]).mean()), "priors": priors,
            "note": f"numpyro {numpyro.__version__}, jax {jax.__version__}, non-centred, target_accept 0.8, float32"}
    _write(out, out_draws, meta)


def _write(out: str, draws: dict, meta: dict):
    np.savez(out, meta=json.dumps(meta, default=float), **{f"draws/{k}": np.asarray(v, float) for k, v in draws.items()})


# ---- driver

def launch(arguments: list, timeout: float, python: str = sys.executable, env: dict | None = None) -> dict:
    return run_in_session([python, str(Path(__file__).resolve()), "--runner", *arguments], timeout, env)


def scalar_stats(draws: dict) -> dict:
    """Per hyperparameter: posterior mean, sd, bulk ESS and MCSE of the mean (sd / sqrt(ESS))."""
    out = {}
    for name in HYPER:
        values = draws[name]
        ess = float(az.ess(az.convert_to_dataset({"x": values}), method="bulk")["x"].values)
        sd = float(np.std(values, ddof=1))
        out[name] = {"mean": float(np.mean(values)), "sd": sd, "ess": ess, "mcse": sd / np.sqrt(ess)}
    return out


def tool_row(tool: str, result: dict, path: Path, args) -> dict:
    """The run's row (and, under "stats", its hyperparameters' summaries); the draws file is removed."""
    row = {"tool": tool}
    if "error" in result:
        print(f"  {tool:15s} {result['error']}", flush=True)
        row["note"] = result["error"]
        if "timeout" in result:     # it cannot have done better than 1.5 x its draws in the time it had
            row["ESS/s bound"] = 1.5 * args.chains * args.draws / result["timeout"]
        return row
    with np.load(path) as f:
        meta = json.loads(str(f["meta"]))
        draws = {k.removeprefix("draws/"): f[k] for k in f.files if k.startswith("draws/")}
    path.unlink()
    hyper_ess, hyper_where = min_bulk_ess({k: draws[k] for k in HYPER})
    effects_ess, _ = min_bulk_ess({"b_g": draws["b_g"]})
    ess, where = (hyper_ess, hyper_where) if hyper_ess <= effects_ess else (effects_ess, "b_g")
    row.update({"seconds": meta["seconds"], "min ESS hyper": hyper_ess, "min ESS effects": effects_ess, "min ESS": ess,
                "ESS/s": ess / meta["seconds"], "divergences": meta["divergences"], "mean steps": meta["steps"],
                "step size": meta["step size"], "note": f"min in {where}; {meta['note']}",
                "stats": scalar_stats(draws), "meta": meta})
    print(f"  {tool:15s} {meta['seconds']:8.1f} s  min ESS {ess:6.0f} (in {where}; hyper {hyper_ess:.0f})  ESS/s "
          f"{ess / meta['seconds']:7.2f}  div {meta['divergences']}  steps {meta['steps']:.1f}  load "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runner", nargs=7, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=FULL_ROWS, help=f"first N rows, a multiple of {GROUP_SIZE} "
                        f"(default {FULL_ROWS:,})")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run (default 1800)")
    parser.add_argument("--tools", nargs="+", default=list(DEFAULT_TOOLS), choices=list(TOOLS))
    parser.add_argument("--sized", type=int, nargs=3, default=list(SIZED), metavar=("CHAINS", "WARMUP", "DRAWS"),
                        help="hierax-sized's run: the default sampler sized for 400 ESS (default %(default)s)")
    parser.add_argument("--seed", type=int, default=17, help="seed of the simulated data and of every sampler "
                        "(default 17, laplace_scale.py's)")
    args = parser.parse_args()
    if args.runner:
        tool, csv, out, *numbers = args.runner
        runner = run_numpyro if tool == "numpyro" else run_hierax
        runner(tool, csv, out, *map(int, numbers))
        return
    if args.rows <= 0 or args.rows % GROUP_SIZE or args.rows > FULL_ROWS:
        parser.error(f"--rows must be a positive multiple of {GROUP_SIZE}, at most {FULL_ROWS:,}")

    print(f"nuts_scale: {platform.node()}, {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M %Z')}; load {os.getloadavg()}\n"
          f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}\n"
          f"model (a): {FORMULA}, bernoulli, {args.rows:,} rows, {args.rows // GROUP_SIZE:,} groups of {GROUP_SIZE}; "
          f"{args.chains} chains x {args.warmup} + {args.draws}; timeout {args.timeout:.0f} s; seed {args.seed}",
          flush=True)
    peers = str(PEERS_PYTHON) if PEERS_PYTHON.exists() else sys.executable
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        csv = work / "a.csv"
        simulate("a", args.seed).iloc[:args.rows].to_csv(csv, index=False)
        for tool in args.tools:
            out = work / f"{tool}.npz"
            env = {"HIERAX_CACHE_DIR": str(work / f"cache-{tool}")} if tool != "numpyro" else None  # empty cache
            settings = args.sized if tool == "hierax-sized" else (args.chains, args.warmup, args.draws)
            result = launch([tool, str(csv), str(out), str(args.seed), *map(str, settings)], args.timeout,
                            python=peers if tool == "numpyro" else sys.executable, env=env)
            rows.append(tool_row(tool, result, out, args))
            if tool == "hierax-sized":
                rows[-1]["note"] = "{} x {} + {}; ".format(*settings) + rows[-1].get("note", "")
    report(rows, args)


def _ratio(ours: dict, peer: dict) -> tuple[str, float]:
    """ours' ESS/s over peer's, as printed (">=" against a stopped peer's bound) and as a number."""
    rate, bound = peer.get("ESS/s"), peer.get("ESS/s bound")
    if ours.get("ESS/s") is None or (rate is None and bound is None):
        return "", np.nan
    value = ours["ESS/s"] / (rate if rate is not None else bound)
    return (f"{value:.3g}" if rate is not None else f">= {value:.3g}"), value


def _z(a: dict, b: dict) -> float:
    return (a["mean"] - b["mean"]) / np.sqrt(a["mcse"] ** 2 + b["mcse"] ** 2)


def report(rows: list, args):
    """Print the tables, the comparison with full NUTS, the verdicts on target 3 and the JSON."""
    by_tool = {r["tool"]: r for r in rows}
    peer = by_tool.get("numpyro", {})
    for row in rows:
        if row["tool"] != "numpyro":
            row["vs NumPyro"], row["vs NumPyro value"] = _ratio(row, peer)
    _print_tables(rows, args)
    stats = {r["tool"]: r["stats"] for r in rows if "stats" in r}
    comparison = _comparison(stats, by_tool)
    for row in rows:
        for message in row.get("meta", {}).get("warnings", []):
            print(f"  {row['tool']} warning: {message}")
    verdicts = _verdicts(by_tool, comparison, args)
    print()
    print("\n".join(verdicts))

    results = {"rows": args.rows, "groups": args.rows // GROUP_SIZE, "chains": args.chains, "warmup": args.warmup,
               "draws": args.draws, "seed": args.seed, "timeout": args.timeout, "tools": rows,
               "comparison": comparison, "verdicts": verdicts}
    print("\nresults (JSON):")
    print(json.dumps(_plain(results)))


def _print_tables(rows: list, args):
    """Times and ESS by tool, their notes, their priors and their posterior means."""
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.max_colwidth", 120)
    table = pd.DataFrame([{k: v for k, v in r.items() if k not in ("stats", "meta")} for r in rows])
    columns = [c for c in ("tool", "seconds", "min ESS hyper", "min ESS effects", "min ESS", "ESS/s", "vs NumPyro",
                           "divergences", "mean steps", "step size") if c in table]
    print(f"\nNUTS on (a), {args.rows:,} rows, {args.chains} chains x {args.warmup} + {args.draws} (bulk ESS; "
          f"'min ESS' over every scalar, the {args.rows // GROUP_SIZE:,} x 2 group effects included; ESS/s of it):")
    print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("\n" + table[["tool", "note"]].to_string(index=False))

    print("\npriors:")
    for row in rows:
        if "meta" in row:
            text = row["meta"]["priors"]
            print(f"  {row['tool']}:\n    " + text.replace("\n", "\n    "))

    stats = {r["tool"]: r["stats"] for r in rows if "stats" in r}
    if stats:
        print("\nposterior means (posterior sd, bulk ESS):")
        means = pd.DataFrame({"truth": TRUTH, **{tool: {name: f"{s[name]['mean']:.4f} ({s[name]['sd']:.3f}, "
                                                              f"{s[name]['ess']:.0f})" for name in HYPER}
                                                   for tool, s in stats.items()}})
        print(means.to_string())


def _embedded(by_tool: dict) -> list:
    """The hierax runs that integrated the effects out by the embedded Laplace (by default or as asked)."""
    return [tool for tool in ("hierax", "hierax-laplace")
            if by_tool.get(tool, {}).get("meta", {}).get("parameterisation", {}).get("g", {}).get("choice") == "laplace"]


def _full_nuts(by_tool: dict) -> str | None:
    """The run that sampled every effect (full NUTS): ``hierax-full``, or the default where it did."""
    if "stats" in by_tool.get("hierax-full", {}):
        return "hierax-full"
    if "stats" in by_tool.get("hierax", {}) and "hierax" not in _embedded(by_tool):
        return "hierax"
    return None


def _comparison(stats: dict, by_tool: dict) -> list:
    """Each hyperparameter's z against hierax's full NUTS (each embedded Laplace run's and
    NumPyro's), printed, with each embedded run's own check beside it."""
    comparison, full_tool = [], _full_nuts(by_tool)
    if full_tool is None:
        return comparison
    full = stats[full_tool]
    checks = {tool: by_tool[tool]["meta"]["parameterisation"]["g"] for tool in _embedded(by_tool)}
    for name in HYPER:
        line = {"parameter": name, "full mean": full[name]["mean"], "full mcse": full[name]["mcse"]}
        for tool, check in checks.items():
            z = _z(stats[tool][name], full[name])
            line.update({f"{tool} mean": stats[tool][name]["mean"], f"z {tool}": z,
                         f"flag {tool}": "> 4" if abs(z) > MCSE_TARGET else "",
                         f"{tool} check shift (sds)": check.get("shift", {}).get(name, np.nan)})
        if "numpyro" in stats:
            z = _z(stats["numpyro"][name], full[name])
            line.update({"numpyro mean": stats["numpyro"][name]["mean"], "z numpyro": z,
                         "flag numpyro": "> 4" if abs(z) > MCSE_TARGET else ""})
        comparison.append(line)
    print(f"\nagainst full NUTS ({full_tool}): z = (mean - full mean) / sqrt(mcse^2 + full mcse^2), "
          "mcse = sd / sqrt(bulk ESS); flagged above 4:")
    print(pd.DataFrame(comparison).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for tool, check in checks.items():
        print(f"  {tool} check: {json.dumps(check, default=float)}")
    return comparison


def _verdicts(by_tool: dict, comparison: list, args) -> list:
    """Target 3's verdicts: the default sampler's time and ESS, each sampler's ratio to NumPyro,
    and the embedded Laplace against full NUTS or its own check."""
    verdicts = [f"targets are judged at {FULL_ROWS:,} rows, 4 chains x 1000 + 1000; this run: {args.rows:,} rows, "
                f"{args.chains} x {args.warmup} + {args.draws}" + ("" if (args.rows, args.chains, args.warmup,
                                                                           args.draws) == (FULL_ROWS, 4, 1000, 1000)
                                                                  else " (NOT the acceptance measurement)")]
    ours = by_tool.get("hierax", {})
    if "hierax" in by_tool:
        if "min ESS" in ours:
            met = ours["min ESS"] >= ESS_TARGET and ours["seconds"] < SECONDS_TARGET
            verdicts.append(f"default sampler: min bulk ESS >= {ESS_TARGET} in < {SECONDS_TARGET:g} s: "
                            f"{ours['min ESS']:.0f} in {ours['seconds']:.1f} s -> {'met' if met else 'NOT met'}")
        else:
            verdicts.append(f"default sampler: min bulk ESS >= {ESS_TARGET} in < {SECONDS_TARGET:g} s: "
                            f"{ours.get('note')} -> NOT met")
    sized = by_tool.get("hierax-sized")
    if sized is not None:
        chains, warmup, draws = args.sized
        if "min ESS" in sized:
            met = sized["min ESS"] >= ESS_TARGET and sized["seconds"] < SECONDS_TARGET
            fell_back = sized["meta"]["parameterisation"]["g"].get("choice") != "laplace"
            verdicts.append(f"default sampler sized for {ESS_TARGET} ESS ({chains} x {warmup} + {draws}): min bulk ESS "
                            f">= {ESS_TARGET} in < {SECONDS_TARGET:g} s: {sized['min ESS']:.0f} in "
                            f"{sized['seconds']:.1f} s"
                            + (" (its embedded Laplace failed its check: every effect sampled)" if fell_back else "")
                            + f" -> {'met' if met else 'NOT met'}")
        else:
            verdicts.append(f"default sampler sized for {ESS_TARGET} ESS ({chains} x {warmup} + {draws}): "
                            f"{sized.get('note')} -> NOT met")
    for tool in ("hierax", "hierax-laplace"):
        if tool in by_tool and "numpyro" in by_tool:
            text, value = by_tool[tool].get("vs NumPyro", ""), by_tool[tool].get("vs NumPyro value", np.nan)
            if text.startswith(">=") and value < RATIO_TARGET:
                verdict = "not determined (NumPyro stopped at the timeout: a lower bound below the target)"
            else:
                verdict = "met" if value >= RATIO_TARGET else "NOT met"
            verdicts.append(f"{tool}: ESS/s >= {RATIO_TARGET:g}x NumPyro's: {text or 'n/a'}x -> {verdict}"
                            + ("" if tool == "hierax" else " (for information; the target is the default sampler's)"))
    for tool in _embedded(by_tool):
        if not comparison:
            break
        worst = max((c for c in comparison if c["parameter"] in SDS_AND_FIXED), key=lambda c: abs(c[f"z {tool}"]))
        failed = [w for w in by_tool[tool]["meta"]["warnings"] if "collapse='laplace'" in w]
        if abs(worst[f"z {tool}"]) <= MCSE_TARGET:
            verdict = "met (matches)" + (" though its check says it does not" if failed else "")
        else:
            verdict = "met (its check says it does not match)" if failed else "NOT met (and its check did not say)"
        verdicts.append(f"{tool} (embedded Laplace) within {MCSE_TARGET:g} MCSE of full NUTS on every fixed effect "
                        f"and sd, or its check says not: largest |z| {abs(worst[f'z {tool}']):.2f} "
                        f"({worst['parameter']}) -> {verdict}")
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
