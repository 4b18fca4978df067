"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari and Gelman 2018).

Draw parameters from the prior, data from the model given them, and fit: if the sampler and the
model's code are right, the rank of each true value among its posterior draws is uniform over
simulations. Any departure (a sampler that is off, a prior in the fit that differs from the one
that made the data) shows as a non-uniform rank histogram.

Each simulation runs the same compiled sampler: the simulated response and the centring weights
are runtime arguments of the log density, so a worker compiles once, whatever the number of
simulations it runs. ``executor`` takes any ``concurrent.futures.Executor``:

- processes, with the "spawn" start method (a forked JAX process can hang):
  ``ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))``;
- a Dask cluster, local or remote: ``distributed.Client(...).get_executor()`` (tested with a
  two-worker ``LocalCluster``: a worker lost mid-run has its tasks run again on the others);
- Ray, through an object with ``submit(fn, *args)`` returning
  ``ray.remote(fn).remote(*args).future()`` (a ``concurrent.futures.Future``; not tested here).

Results are taken as they finish; a simulation that fails is recorded (``SBCResult.failed``)
and the others are kept.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from hierax.errors import HieraxError
from hierax.workflow.refit import RefitSpec, compiled_sampler, fan_out, worker_cached
from hierax.model import layout
from hierax.model.layout import PARAMS

GROUP_EFFECTS_RANKED = 3      # per block: the first levels' effects are ranked too
FAILED_COLUMNS = ["simulation", "seed", "error"]


@dataclass(frozen=True)
class SBCResult:
    """Ranks of the true values among ``num_draws`` posterior draws, one row per simulation.

    Attributes
    ----------
    ranks : DataFrame, simulations x parameters, values 0..num_draws.
    num_draws : posterior draws each rank is taken among (after thinning).
    divergent : divergent transitions per simulation.
    seconds : wall time of the whole run.
    failed : one row per simulation that raised instead of finishing (its ``simulation`` number,
        ``seed`` and ``error``), left out of ``ranks``; empty when every simulation ran.
    """

    ranks: pd.DataFrame
    num_draws: int
    divergent: np.ndarray
    seconds: float
    failed: pd.DataFrame = dataclasses.field(default_factory=lambda: pd.DataFrame(columns=FAILED_COLUMNS))

    def __repr__(self) -> str:
        verdict = "passed" if self.passed() else "FAILED"
        failed = f" ({len(self.failed)} more failed: see .failed)" if len(self.failed) else ""
        return (f"SBCResult({len(self.ranks)} simulations{failed}, {self.ranks.shape[1]} parameters, ranks among "
                f"{self.num_draws} draws, {int(np.sum(self.divergent))} divergent transitions, {self.seconds:.1f} s; "
                f"uniformity {verdict} (see .uniformity(), .plot()))")

    def uniformity(self, bins: int | None = None) -> pd.DataFrame:
        """Per parameter, two tests that the ranks are uniform: chi-square over ``bins`` equal bins
        (any shape of departure) and Kolmogorov-Smirnov on the scaled ranks (rank + 1/2) / (L + 1)
        (more power against a shift, the usual sign of a prior or likelihood that differs)."""
        bins = bins or max(5, min(20, len(self.ranks) // 5))
        rows = {}
        for name, ranks in self.ranks.items():
            values = ranks.to_numpy()
            counts = np.bincount(np.minimum(values * bins // (self.num_draws + 1), bins - 1), minlength=bins)
            chi2 = stats.chisquare(counts)
            ks = stats.kstest((values + 0.5) / (self.num_draws + 1), "uniform")
            rows[name] = (chi2.statistic, chi2.pvalue, ks.statistic, ks.pvalue)
        return pd.DataFrame.from_dict(rows, orient="index", columns=["chi2", "p_chi2", "ks", "p_ks"])

    def passed(self, alpha: float = 0.01) -> bool:
        """Whether every parameter passes both tests at level alpha / (2 x parameters) (Bonferroni)."""
        table = self.uniformity()
        threshold = alpha / (2 * len(table))
        return bool(((table["p_chi2"] > threshold) & (table["p_ks"] > threshold)).all())

    def plot(self, kind: str = "hist", parameters=None):
        """Rank histograms with the 99% band of counts under uniformity (``kind="hist"``), or the
        ECDF of the scaled ranks minus the uniform CDF with a pointwise 99% band (``"ecdf"``)."""
        from hierax.plots.sbc import sbc_plot

        return sbc_plot(self, kind, parameters)


def sbc(model, num_simulations: int = 100, chains: int = 2, warmup: int = 300, draws: int = 300, thin: int = 3,
        seed: int = 0, executor=None, fit_priors: dict | None = None, progress: bool = True) -> SBCResult:
    """Run simulation-based calibration of ``model`` (from :func:`hierax.model`).

    Parameters
    ----------
    num_simulations : data sets to simulate and fit.
    chains, warmup, draws : NUTS settings of each fit; ``thin`` keeps every ``thin``-th draw, so
        ranks are taken among chains x draws / thin draws (less autocorrelated).
    executor : a ``concurrent.futures.Executor`` to fan out over (a process pool, or a Dask
        cluster's ``client.get_executor()``); None runs here, in turn. Each worker compiles the
        sampler once; results are kept as they finish.
    fit_priors : priors to fit with instead of the model's (the data are still simulated from
        the model's): to show what a mis-specified fit does to the ranks.

    A simulation that raises (or whose worker is lost for good) is left out of the ranks with a
    warning and listed in ``.failed``; the others are kept. Where every one fails, the first
    error is raised.
    """
    if num_simulations < 2:
        raise HieraxError("num_simulations must be at least 2")
    if draws % thin:
        raise HieraxError(f"draws ({draws}) must be a multiple of thin ({thin})")
    refit = RefitSpec(model.formula, model.data, model.family, model.link, model.spec_priors(), chains, warmup, draws)
    seeds = [int(s) for s in np.random.default_rng(seed).integers(0, 2**31 - 1, size=num_simulations)]
    start = time.perf_counter()
    fanned = fan_out(run_simulation, [(refit, fit_priors, thin, s) for s in seeds], executor, progress, "SBC")
    ranks = pd.DataFrame([r[0] for r in fanned.results], index=fanned.done)
    failed = pd.DataFrame([(k, seeds[k], error) for k, error in fanned.failed], columns=FAILED_COLUMNS)
    if len(failed):
        warnings.warn(f"SBC: {len(failed)} of {num_simulations} simulations failed and are left out of the ranks "
                      f"(see .failed); the first: {failed['error'].iloc[0]}", UserWarning, stacklevel=2)
    return SBCResult(ranks, chains * draws // thin, np.array([r[1] for r in fanned.results]),
                     time.perf_counter() - start, failed)


def run_simulation(refit: RefitSpec, fit_priors: dict | None, thin: int, seed: int) -> tuple[dict, int]:
    """One simulation: (ranks by parameter, divergent transitions). Runs in a worker, which keeps
    the compiled pieces for the next simulation of the same model."""
    calibrator = worker_cached(lambda: _Calibrator(refit, fit_priors), "sbc", refit.key(), repr(fit_priors))
    return calibrator.run(seed, thin)


class _Calibrator:
    """Prior draws and simulated data (from the model's priors), and the sampler (with the fit's)."""

    def __init__(self, refit: RefitSpec, fit_priors: dict | None):
        import jax

        from hierax.workflow.prior import draw_prior_params
        from hierax.workflow.simulate import simulate_response

        truth_spec = refit.model().spec
        self.sampler = compiled_sampler(refit.model(fit_priors).spec, refit.chains, refit.warmup, refit.draws)

        @jax.jit
        def simulate(key):
            param_key, y_key = jax.random.split(key)
            params = draw_prior_params(param_key, truth_spec)
            return params, simulate_response(y_key, truth_spec, params)

        self.simulate = simulate

    def run(self, seed: int, thin: int) -> tuple[dict, int]:
        import jax

        sim_key, fit_key, effects_key = jax.random.split(jax.random.PRNGKey(seed), 3)
        truth, y = self.simulate(sim_key)
        output = self.sampler.sample(fit_key, {"y": np.asarray(y)})
        ranks = _ranks(self.sampler.spec, jax.device_get(truth), self.sampler.params(output, effects_key), thin)
        return ranks, int(np.sum(output.diverging))


def _ranks(spec, truth, params, thin: int) -> dict:
    """Rank of each true value among the thinned draws (draws below it)."""
    from hierax.results.idata import cor_pairs

    def rank(true_value, draws):
        return int(np.sum(np.asarray(draws)[:, ::thin] < true_value))

    out = {}
    for k in range(spec.thresholds):
        out[layout.threshold_label(k + 1)] = rank(truth[PARAMS.thresholds][k], params[PARAMS.thresholds][..., k])
    for j, name in enumerate(spec.fixed_names):
        out[name] = rank(truth[PARAMS.fixed][j], params[PARAMS.fixed][..., j])
    for p in spec.dpar_predictors:
        for j, name in enumerate(p.fixed_names):
            out[name] = rank(truth[PARAMS.formula_fixed][p.dpar][j], params[PARAMS.formula_fixed][p.dpar][..., j])
    for block in spec.all_blocks:
        for k, term in enumerate(block.terms):
            out[layout.sd_label(block, term)] = rank(truth[PARAMS.sd][block.name][k], params[PARAMS.sd][block.name][..., k])
            for level in range(min(GROUP_EFFECTS_RANKED, block.num_levels)):
                out[layout.effect_label(block, block.levels[level], term)] = rank(
                    truth[PARAMS.effects][block.name][level, k], params[PARAMS.effects][block.name][..., level, k])
        if block.has_cor:
            L_true = truth[PARAMS.cor_chol][block.name]
            R_true = L_true @ L_true.T
            L = params[PARAMS.cor_chol][block.name]
            R = np.einsum("cdik,cdjk->cdij", L, L)
            for i, j in cor_pairs(block.terms):
                out[layout.cor_label(block, block.terms[i], block.terms[j])] = rank(R_true[i, j], R[..., i, j])
    for dpar in spec.scalar_dpars:
        out[dpar.name] = rank(truth[dpar.name], params[dpar.name])
    return out
