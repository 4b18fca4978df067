"""Cluster-randomised trials: how many clusters a trial needs, by formula and by simulation.

In a cluster-randomised trial whole clusters (clinics, schools, villages) are randomised, so
people in one cluster share its effect and carry less information than as many independent
people. With an intraclass correlation rho and m people a cluster the variance of an arm's mean
is inflated by the design effect

    DE = 1 + ((1 + cv^2) m - 1) rho                (Eldridge, Ashby and Kerry 2006; cv: the
                                                    coefficient of variation of cluster sizes)

and the effective sample size is n / DE. For a gaussian outcome with K clusters in two equal arms
the difference of the arms' means has variance 4 (tau^2 + sigma^2 / m) / K, and a test with K - 2
degrees of freedom (the clusters' means' t test, which the REML analysis with Satterthwaite's df
reproduces when the clusters' variance is estimated above zero) has power

    P(|T| > t_{K-2, 1 - alpha/2}),  T ~ noncentral t(K - 2, delta / se)      (:func:`analytic_power`)

Power by simulation (:func:`power`) makes no such assumption: it simulates trials from any model
hierax can simulate (``hx.simulate``, the given parameters), fits each as the analysis would be
done (REML with Satterthwaite or Kenward-Roger df for a gaussian outcome, Laplace and a Wald z
test otherwise, as simr does) and counts the significant ones; its Monte Carlo interval is the
binomial's. The fits fan out over any ``concurrent.futures.Executor`` (each worker compiles the
analysis once and reuses it); :func:`power_curve` repeats it over numbers of clusters.

Simulation also shows what a formula hides: with a binary outcome and 10 clusters an arm, the
Wald z test rejects a true null about 9% of the time at alpha 0.05 (2,000 lme4 trials and
hierax's alike, ``tests/reference/crt_power.R``), so its "power" is flattered too; simulate the
null (effect 0) beside the alternative to see the test's real size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from hierax.errors import DataError, ModelError
from hierax.workflow.refit import fan_out


def design_effect(icc: float, cluster_size: float, cv: float = 0.0) -> float:
    """1 + ((1 + cv^2) m - 1) rho: the variance inflation of a mean over clusters of mean size m."""
    _check_icc(icc)
    if cluster_size < 1 or cv < 0:
        raise ModelError("cluster_size must be at least 1 and cv (of the cluster sizes) at least 0")
    return 1.0 + ((1.0 + cv ** 2) * cluster_size - 1.0) * icc


def effective_sample_size(n: int, icc: float, cluster_size: float, cv: float = 0.0) -> float:
    """n / design effect: as many independent people as the trial's n clustered ones are worth."""
    return n / design_effect(icc, cluster_size, cv)


def analytic_power(effect: float, sd: float, icc: float, clusters: int, cluster_size: int,
                   alpha: float = 0.05) -> float:
    """Power of the two-sided test of a difference ``effect`` between two arms of ``clusters`` / 2
    clusters of ``cluster_size`` people, total sd ``sd`` (tau^2 + sigma^2 = sd^2, tau^2 = icc
    sd^2), by the noncentral t with clusters - 2 df (module docstring)."""
    _check_icc(icc)
    if clusters < 4 or clusters % 2:
        raise ModelError("clusters must be even and at least 4 (two arms of at least two)")
    se = np.sqrt(4.0 * sd ** 2 * design_effect(icc, cluster_size) / (clusters * cluster_size))
    df = clusters - 2
    critical = stats.t.ppf(1.0 - alpha / 2.0, df)
    ncp = effect / se
    return float(stats.nct.sf(critical, df, ncp) + stats.nct.cdf(-critical, df, ncp))


def trial_design(clusters: int, cluster_size: int, cv: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """A two-arm trial's rows: ``cluster`` (c000, c001, ...), ``treatment`` (0 for the first
    half of the clusters, 1 for the rest) and a placeholder response ``y``; with ``cv`` > 0 the
    cluster sizes are drawn from a gamma distribution with mean ``cluster_size`` and that
    coefficient of variation (at least 2 people each)."""
    if clusters < 4 or clusters % 2:
        raise ModelError("clusters must be even and at least 4 (two arms of at least two)")
    rng = np.random.default_rng(seed)
    sizes = np.full(clusters, int(cluster_size))
    if cv > 0:
        sizes = np.maximum(2, np.round(rng.gamma(1.0 / cv ** 2, cluster_size * cv ** 2, clusters))).astype(int)
    cluster = np.repeat(np.arange(clusters), sizes)
    return pd.DataFrame({"cluster": [f"c{k:03d}" for k in cluster], "treatment": (cluster >= clusters // 2).astype(int),
                         "y": rng.integers(0, 2, len(cluster)).astype(float)})


@dataclass(frozen=True)
class Power:
    """Power by simulation: the share of ``nsim`` simulated trials whose test of ``term`` was
    significant at ``alpha``, its Monte Carlo se and 95% (Wilson) interval, and each trial's p."""

    power: float
    mc_se: float
    interval: tuple
    nsim: int
    p_values: np.ndarray
    failed: int

    def __repr__(self) -> str:
        low, high = self.interval
        return f"Power({self.power:.3f}, MC se {self.mc_se:.3f}, 95% [{low:.3f}, {high:.3f}], {self.nsim} trials)"


def _wilson(successes: int, n: int) -> tuple:
    z = 1.959963984540054
    p = successes / n
    centre = (p + z ** 2 / (2 * n)) / (1 + z ** 2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z ** 2 / (4 * n ** 2)) / (1 + z ** 2 / n)
    return float(centre - half), float(centre + half)


def one_trial(formula: str, design: pd.DataFrame, params: dict, term: str, family: str, df: str | None,
              seed: int) -> float:
    """The p-value of ``term`` in one simulated trial (NaN where the fit fails). Top level, so
    that a process pool can run it."""
    from hierax.api import fit as fit_model
    from hierax.workflow.simulate import model, simulate

    data = simulate(model(formula, design, family=family), params, seed=seed).data
    try:
        if family == "gaussian":
            fit = fit_model(formula, data, method="reml")
            return float(fit.fixef(df=df or "satterthwaite").loc[term, "p"])
        fit = fit_model(formula, data, family=family, method="laplace")
        return float(2.0 * stats.norm.sf(abs(fit.fixef().loc[term, "statistic"])))
    except (ModelError, DataError):
        return float("nan")


def power(formula: str, params: dict, term: str, clusters: int, cluster_size: int, family: str = "gaussian",
          cv: float = 0.0, nsim: int = 1000, alpha: float = 0.05, df: str | None = None, seed: int = 0,
          executor=None) -> Power:
    """Power by simulation (module docstring) of the test of ``term`` in ``formula`` (e.g.
    ``"y ~ treatment + (1 | cluster)"`` over :func:`trial_design`'s columns), the trials drawn
    from ``params`` (named as ``fit.summary()`` names them); ``executor``: any
    ``concurrent.futures.Executor`` to spread the trials over (default: this process)."""
    if nsim < 1:
        raise ModelError("nsim must be at least 1")
    design = trial_design(clusters, cluster_size, cv, seed)
    if family == "gaussian":        # a placeholder response that varies (the model refuses a constant one)
        design["y"] = np.random.default_rng(seed).normal(size=len(design))
    seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(nsim) % (2 ** 31 - 1)]
    arguments = [(formula, design, params, term, family, df, s) for s in seeds]
    fanned = fan_out(one_trial, arguments, executor, False, "power")
    p_values = np.full(nsim, np.nan)          # a trial lost with its worker counts as a failed fit
    p_values[fanned.done] = fanned.results
    failed = int(np.isnan(p_values).sum())
    significant = int(np.sum(p_values < alpha))          # a failed fit counts as not significant
    share = significant / nsim
    return Power(share, float(np.sqrt(share * (1 - share) / nsim)), _wilson(significant, nsim), nsim, p_values,
                 failed)


def power_curve(formula: str, params: dict, term: str, clusters, cluster_size: int, **options) -> pd.DataFrame:
    """:func:`power` at each number of ``clusters``: one row each, with its MC se and interval."""
    rows = []
    for k in clusters:
        result = power(formula, params, term, int(k), cluster_size, **options)
        rows.append({"clusters": int(k), "power": result.power, "mc_se": result.mc_se, "lower": result.interval[0],
                     "upper": result.interval[1], "failed": result.failed})
    return pd.DataFrame(rows).set_index("clusters")


def _check_icc(icc: float) -> None:
    if not (0.0 <= icc < 1.0):
        raise ModelError(f"icc={icc!r}: an intraclass correlation is in [0, 1)")
