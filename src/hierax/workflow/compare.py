"""Model comparison by PSIS-LOO (ArviZ) and WAIC, with the caveats said in plain words.

The effective number of parameters, p_loo, is reported beside the number of parameters the model
has: in a hierarchical model each group effect counts for less than one (it is shrunk), so p_loo
is well below the count, and how far below says how much pooling there is.

Pareto k (Vehtari, Gelman and Gabry 2017) says, per observation, whether importance sampling could
stand in for refitting without it: below min(1 - 1 / log10(S), 0.7) fine (S draws; ArviZ's
threshold); from there to 1 the estimate for that observation is unreliable; above 1 useless. High k is common for observations alone in their group, since
leaving one out removes what the data say about that group's effect.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hierax.errors import HieraxError
from hierax.results import _arviz

GOOD_K = 0.7


@dataclass(frozen=True)
class LooResult:
    """PSIS-LOO for one fit.

    Attributes
    ----------
    elpd, se : expected log pointwise predictive density and its standard error.
    p_loo : effective number of parameters; ``num_parameters`` the number the model has.
    pareto_k : per observation.
    warnings : plain-words problems (empty when all k are below 0.7).
    elpd_data : ArviZ's own result (ELPDData), for ``az.compare`` and ArviZ's plots.
    """

    elpd: float
    se: float
    p_loo: float
    num_parameters: int
    pareto_k: np.ndarray
    warnings: tuple
    elpd_data: object
    has_groups: bool = True         # whether shrinkage (group effects) can make p_loo fall short of the count

    def __str__(self) -> str:
        why = " (shrinkage makes group effects count for less than one each)" if self.has_groups else ""
        lines = [f"elpd_loo {self.elpd:.1f} (se {self.se:.1f});  p_loo {self.p_loo:.1f} effective parameters "
                 f"of {self.num_parameters}{why}"]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def __repr__(self) -> str:
        k, good = self.pareto_k, float(getattr(self.elpd_data, "good_k", GOOD_K) or GOOD_K)
        counts = f"Pareto k: {int(np.sum(k < good))} of {k.size} below {good:.2f}, {int(np.sum(k > 1))} above 1"
        return f"LooResult({self})\n{counts}; the values are in .pareto_k"


def loo(fit) -> LooResult:
    """PSIS-LOO of a NUTS fit (its ``log_likelihood`` group), with Pareto-k warnings in words."""
    _check(fit)
    with warnings.catch_warnings():                 # ArviZ's warning is replaced by ours, in words
        warnings.simplefilter("ignore", UserWarning)
        result = _arviz.loo(fit.idata)
    k = result.pareto_k
    good = float(result.good_k or GOOD_K)
    return LooResult(result.elpd, result.se, result.p, num_parameters(fit), k, _k_warnings(k, fit, good),
                     result.elpd_data, bool(fit.spec.all_blocks))


def waic(fit):
    """WAIC: ``elpd_waic``, ``se``, ``p_waic``, pointwise ``waic_i`` and ``warning``, as ArviZ 0.23
    computes it (ArviZ 1.x dropped WAIC); prefer :func:`loo`, whose diagnostics say when it fails."""
    _check(fit)
    return _arviz.waic(fit.idata)


def compare(fits, ic: str = "loo") -> pd.DataFrame:
    """Rank fits by expected predictive accuracy (ArviZ's ``compare``, stacking weights).

    ``fits`` is a dict ``{name: fit}`` (or a list, named model_1, ...). All must be fitted to the
    same observations. One row per fit, best first: ``rank``, ``elpd_loo`` and ``p_loo`` (or
    ``elpd_waic``, ``p_waic``), ``elpd_diff`` (below the best fit's elpd), ``weight``, ``se``,
    ``dse`` (se of the difference), ``warning``, ``scale``; the same columns whichever ArviZ is
    installed. The table's ``attrs["warnings"]`` lists each fit's Pareto-k problems.
    """
    if not isinstance(fits, dict):
        fits = {f"model_{i + 1}": fit for i, fit in enumerate(fits)}
    if len(fits) < 2:
        raise HieraxError("compare needs at least two fits")
    if ic not in ("loo", "waic"):
        raise HieraxError(f"ic must be 'loo' or 'waic', got {ic!r}")
    for fit in fits.values():
        _check(fit)
    sizes = {name: fit.spec.num_obs for name, fit in fits.items()}
    if len(set(sizes.values())) > 1:
        raise HieraxError(f"the fits have different numbers of observations ({sizes}); LOO compares "
                          "models of the same data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        table = _arviz.compare({name: fit.idata for name, fit in fits.items()}, ic=ic)
    problems = []
    if ic == "loo":
        for name, fit in fits.items():
            problems += [f"{name}: {w}" for w in loo(fit).warnings]
    table.attrs["warnings"] = tuple(problems)
    return table


def num_parameters(fit) -> int:
    """Parameters the model has: fixed effects (of every formula), the family's scalars (sigma,
    shape, ...), each block's sds, correlations and effects."""
    spec = fit.spec
    count = len(spec.fixed_names) + len(spec.scalar_dpars) + sum(p.num_fixed for p in spec.dpar_predictors)
    for block in spec.all_blocks:
        q = block.num_terms
        count += q + (q * (q - 1) // 2 if block.has_cor else 0) + block.num_levels * q
    return count


def _check(fit) -> None:
    if fit.has_draws and "log_likelihood" not in fit.idata:
        why = ("it was fitted to out-of-core data, whose rows stay out of memory" if fit.spec.rows_elsewhere is not None
               else f"its {fit.spec.num_obs:,} rows x draws exceed what a fit keeps")
        raise HieraxError(f"LOO and WAIC need each row's log-likelihood at every draw, which this fit does not hold: "
                          f"{why}; compare models fitted in memory to a sample of the rows")
    if not fit.has_draws or "log_likelihood" not in fit.idata:
        raise HieraxError("LOO and WAIC need posterior draws with a log-likelihood (method='nuts'); for "
                          "REML/ML fits compare nested models with hx.lrt or use AIC/BIC")


def _k_warnings(k: np.ndarray, fit, good: float = GOOD_K) -> tuple:
    bad, very_bad = np.flatnonzero((k >= good) & (k <= 1.0)), np.flatnonzero(k > 1.0)
    if not len(bad) and not len(very_bad):
        return ()
    out = []
    total = len(bad) + len(very_bad)
    alone = _alone_in_group(fit, np.concatenate([bad, very_bad]))
    text = (f"{total} of {len(k)} observations have Pareto k >= {good:.2f} ({len(very_bad)} above 1): leaving "
            f"them out changes the posterior too much for importance sampling, so their LOO terms are "
            f"unreliable")
    if alone:
        text += f"; {alone} of them are the only observation of their group, whose effect they alone inform"
    out.append(text + ". Refit without them (exact LOO, or leave-one-group-out) for a trustworthy comparison")
    return tuple(out)


def _alone_in_group(fit, rows: np.ndarray) -> int:
    alone = np.zeros(len(rows), dtype=bool)
    for block in fit.spec.blocks:
        counts = np.bincount(block.group_index, minlength=block.num_levels)
        alone |= counts[block.group_index[rows]] == 1
    return int(alone.sum())
