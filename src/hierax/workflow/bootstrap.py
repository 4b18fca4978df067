"""Parametric bootstrap of any statistic of a REML, ML or Laplace fit (lme4's ``bootMer``).

A REML fit gives point values of derived quantities (an ICC, an R², a variance share) but no
interval, and their sampling distribution is far from normal near zero. The parametric bootstrap
gets one: simulate ``n`` data sets from the fitted model (its estimates as the truth, group
effects drawn anew from the fitted population), refit each by the same method, evaluate the
statistic on each refit, and take percentiles. The refits share one compiled program; they fan
out over any ``concurrent.futures.Executor``.

    boot = hx.bootstrap(fit, lambda f: f.icc()["estimate"], n=200)
    boot.interval()          # 90% percentile intervals of each value the statistic returns
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hierax.errors import HieraxError, ModelError
from hierax.model.layout import PARAMS
from hierax.workflow.refit import fan_out


@dataclass(frozen=True)
class Bootstrap:
    """The statistic at the fit (``estimate``) and at each of the bootstrap refits (``draws``: one
    row per refit that succeeded, one column per value); ``failed`` counts refits that did not."""

    estimate: pd.Series
    draws: pd.DataFrame
    failed: int

    def interval(self, level: float = 0.9) -> pd.DataFrame:
        """Percentile intervals: ``estimate`` (at the fit), the bootstrap ``sd`` and the central
        ``level`` interval of the refits' values."""
        if not 0.0 < level < 1.0:
            raise ModelError(f"level must be between 0 and 1, got {level!r}")
        low, high = (1.0 - level) / 2.0, (1.0 + level) / 2.0
        names = [f"q{round(100 * low):02d}", f"q{round(100 * high):02d}"]
        table = pd.DataFrame({"estimate": self.estimate, PARAMS.sd: self.draws.std(ddof=1),
                              names[0]: self.draws.quantile(low), names[1]: self.draws.quantile(high)})
        table.attrs.update(method=f"parametric bootstrap, {len(self.draws)} refits", failed=self.failed)
        return table


def _as_series(value) -> pd.Series:
    if isinstance(value, pd.DataFrame):
        value = value["estimate"] if "estimate" in value.columns else value.iloc[:, 0]
    if np.isscalar(value):
        return pd.Series([float(value)], index=["value"])
    return pd.Series(value, dtype=float)


def _one_refit(fit, statistic, seed: int):
    """The statistic of one refit to data simulated from ``fit`` (None where the refit fails)."""
    from hierax.api import fit as fit_model
    from hierax.workflow.simulate import model, simulate

    truth = fit.summary()["estimate"].to_dict()
    data = simulate(model(fit.formula, fit.data, family=fit.family, link=fit.link), truth, seed=seed).data
    try:
        return _as_series(statistic(fit_model(fit.formula, data, family=fit.family, link=fit.link, method=fit.method)))
    except HieraxError:
        return None


def bootstrap(fit, statistic, n: int = 200, seed: int = 0, executor=None) -> Bootstrap:
    """``statistic(fit)`` (a number, a Series, or a DataFrame whose ``estimate`` column is taken)
    at ``fit`` and at ``n`` parametric-bootstrap refits (module docstring)."""
    if getattr(fit, "has_draws", True) or not hasattr(fit, "output"):
        raise ModelError("bootstrap() takes a fit by method='reml', 'ml' or 'laplace'; a NUTS fit's posterior "
                         "draws give intervals directly")
    if fit.data is None:
        raise ModelError("the fit holds no data to simulate from; refit it with its data")
    if not (isinstance(n, int) and n >= 2):
        raise ModelError(f"n={n!r}: give the number of refits, at least 2 (200 for a 90% interval)")
    estimate = _as_series(statistic(fit))
    seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(n) % (2 ** 31 - 1)]
    fanned = fan_out(_one_refit, [(fit, statistic, s) for s in seeds], executor, False, "bootstrap")
    kept = [r for r in fanned.results if r is not None]      # a refit lost with its worker counts as failed
    if not kept:
        raise ModelError("every bootstrap refit failed; check that the model fits data simulated from itself")
    return Bootstrap(estimate, pd.DataFrame(kept).reset_index(drop=True), n - len(kept))
