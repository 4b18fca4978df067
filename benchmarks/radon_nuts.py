"""Radon `log_radon ~ floor + (1 + floor | county)`: hierax vs a hand-written NumPyro model.

Both run in this process on the same data with the same model and priors (the Stan reference's:
beta ~ N(0, 10), sds ~ half-N(0, 1), LKJ(2), sigma ~ half-N(0, 1)), 4 chains x 1,000 warm-up +
1,000 draws, chains in parallel over CPU devices, float64 for both. Each runs at target_accept 0.8
(Stan's and NumPyro's default) and at 0.95 (hierax's default, rstanarm's for group-level models);
hierax at its defaults also chooses centring per county and may raise the target to 0.99. The
NumPyro model is non-centred, as is usual.

Reported per tool: total wall time (model building and compilation included), sampling time
(total minus the time JAX reports spending on tracing and compiling), min bulk ESS (ArviZ, over
fixed effects, sds, the correlation, sigma and all 170 county effects), and min bulk ESS per
second of total time. Usage: ``python benchmarks/radon_nuts.py [--repeats N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import hierax as hx  # first: configures JAX (devices, float64) before anything else starts it
import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "radon_mn.csv"
PRIORS = {"Intercept": hx.Normal(0, 10), "b": hx.Normal(0, 10), "sd": hx.HalfNormal(1), "cor": hx.LKJ(2),
          "sigma": hx.HalfNormal(1)}


class CompileClock:
    """Sums JAX's own trace/lower/compile duration events while active."""

    def __init__(self):
        self.seconds = 0.0
        jax.monitoring.register_event_duration_secs_listener(self._listen)

    def _listen(self, event, duration, **kwargs):
        if "compile" in event or "trace" in event or "lowering" in event or "mlir" in event:
            self.seconds += duration


def load_radon() -> pd.DataFrame:
    if DATA.exists():
        return pd.read_csv(DATA)[["log_radon", "floor", "county"]]
    from hierax.datasets import radon

    return radon()


def min_ess(arrays: list[np.ndarray]) -> float:
    """Min bulk ESS over every scalar in arrays shaped (chain, draw, ...)."""
    flat = np.concatenate([a.reshape(a.shape[0], a.shape[1], -1) for a in arrays], axis=-1)
    ess = az.ess(az.convert_to_dataset({"x": flat}), method="bulk")["x"].values
    return float(np.min(ess))


def run_hierax(data, seed, clock, target_accept):
    clock.seconds = 0.0
    start = time.perf_counter()
    fit = hx.fit("log_radon ~ floor + (1 + floor | county)", data, priors=PRIORS, seed=seed,
                 target_accept=target_accept)
    total = time.perf_counter() - start
    p = fit.idata.posterior
    ess = min_ess([p["beta"].values, p["sd_county"].values, p["cor_county"].values, p["sigma"].values[..., None],
                   p["b_county"].values])
    return total, total - clock.seconds, ess, int(fit.idata.sample_stats["diverging"].sum()), \
        fit.adaptation["target_accept"]


def numpyro_model(county, floor, num_counties, y=None):
    import numpyro
    import numpyro.distributions as dist

    beta = numpyro.sample("beta", dist.Normal(0.0, 10.0).expand([2]).to_event(1))
    tau = numpyro.sample("tau", dist.HalfNormal(1.0).expand([2]).to_event(1))
    L = numpyro.sample("L", dist.LKJCholesky(2, concentration=2.0))
    z = numpyro.sample("z", dist.Normal(0.0, 1.0).expand([num_counties, 2]).to_event(2))
    u = numpyro.deterministic("u", (z @ L.T) * tau)
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    mu = beta[0] + u[county, 0] + (beta[1] + u[county, 1]) * floor
    numpyro.sample("y", dist.Normal(mu, sigma), obs=y)


def run_numpyro(data, seed, clock, target_accept):
    from numpyro.infer import MCMC, NUTS

    clock.seconds = 0.0
    start = time.perf_counter()
    codes, levels = pd.factorize(data["county"], sort=True)
    mcmc = MCMC(NUTS(numpyro_model, target_accept_prob=target_accept), num_warmup=1000, num_samples=1000, num_chains=4, chain_method="parallel",
                progress_bar=False)
    mcmc.run(jax.random.PRNGKey(seed), jnp.asarray(codes), jnp.asarray(data["floor"].to_numpy(float)), len(levels),
             y=jnp.asarray(data["log_radon"].to_numpy(float)), extra_fields=("diverging",))
    samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    total = time.perf_counter() - start
    cor = samples["L"][..., 1, 0]
    ess = min_ess([samples["beta"], samples["tau"], cor, samples["sigma"], samples["u"]])
    divergences = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
    return total, total - clock.seconds, ess, divergences, target_accept


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    data = load_radon()
    clock = CompileClock()
    rows = []
    runs = (("hierax, defaults", run_hierax, None), ("NumPyro, 0.95", run_numpyro, 0.95),
            ("hierax, 0.8", run_hierax, 0.8), ("NumPyro, 0.8 (default)", run_numpyro, 0.8))
    for r in range(args.repeats):
        for name, runner, target in runs:
            total, sampling, ess, div, used = runner(data, args.seed + r, clock, target)
            rows.append((name, total, sampling, ess, ess / total, div, used))
    table = pd.DataFrame(rows, columns=["tool", "total s", "sampling s", "min bulk ESS", "ESS/s (total)",
                                        "divergences", "target_accept"])
    summary = table.groupby("tool", sort=False).median()
    print(f"radon (1 + floor | county), 4 chains x 1000 + 1000; {platform.processor() or platform.machine()}, "
          f"{jax.local_device_count()} JAX CPU devices, {args.repeats} repeat(s) (median shown)")
    print(summary.to_markdown(floatfmt=(".1f",) * 6 + (".2f",)) if _has_tabulate() else summary.round(2).to_string())
    ess_per_s = summary["ESS/s (total)"]
    print("\nhierax / NumPyro, min bulk ESS per second of total time:")
    print(f"  at 0.95 (hierax defaults vs NumPyro at 0.95): {ess_per_s['hierax, defaults'] / ess_per_s['NumPyro, 0.95']:.2f}")
    print(f"  at 0.8: {ess_per_s['hierax, 0.8'] / ess_per_s['NumPyro, 0.8 (default)']:.2f}")


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
