"""Fits to multiply imputed data sets, pooled (:func:`pool_fits`).

Some protocols impute missing values outside the model (R's mice, scikit-learn's
IterativeImputer) and fit the same model to each of the m completed data sets. The fits are then
combined so that the spread between them, the uncertainty about the missing values, enters the
result:

- **estimates with standard errors** (REML, ML, Laplace) by Rubin's rules (Rubin 1987), as R's
  ``mice::pool`` does: for each coefficient, with estimates Q_j and squared standard errors U_j,

      qbar = mean Q_j,  ubar = mean U_j,  b = var Q_j (m - 1 in the denominator),
      t = ubar + (1 + 1/m) b,   riv = (1 + 1/m) b / ubar,   lambda = (1 + 1/m) b / t,

  and t-based intervals with Barnard and Rubin's (1999) degrees of freedom, which account for a
  complete-data model's own degrees of freedom ``dfcom`` (lme4's residual df, n less the number
  of parameters, by default, as ``mice`` takes ``df.residual`` of an lme4 fit):

      df_old = (m - 1) / lambda^2,   df_obs = (dfcom + 1) / (dfcom + 3) dfcom (1 - lambda),
      df = df_old df_obs / (df_old + df_obs)   (df_old where dfcom is infinite),
      fmi = (riv + 2 / (df + 3)) / (riv + 1),

  lambda floored at 1e-4 in both dfs as ``mice`` floors it (so that equal estimates do not give
  an infinite df). Only the fixed effects are pooled so: Rubin's rules need an estimate whose
  sampling distribution is near normal, which an sd near zero's is not.
- **posterior draws** (NUTS) by mixing them: the pooled posterior is the equal-weight mixture of
  the m posteriors (Zhou and Reiter 2010; brms's ``brm_multiple``), summarised as one fit is.
  Its R-hat would compare chains fitted to different data, so the table shows each
  parameter's largest R-hat within a fit instead (``max_r_hat``), beside ``lambda``, the share of
  the mixture's variance that lies between the imputations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from hierax.errors import HieraxError
from hierax.model.layout import PARAMS
from hierax.results import _arviz, tables
from hierax.results.base import FittedModel

LAMBDA_FLOOR = 1e-4          # mice's floor on lambda in the degrees of freedom (mice:::barnard.rubin)


@dataclass(frozen=True)
class PooledFit:
    """The pooled result of fits of one model to m imputed data sets.

    Attributes
    ----------
    rule : "rubin" (estimates with standard errors) or "mixture" (posterior draws).
    m : the number of fits pooled; ``fits`` the fits themselves.
    table : one row per pooled term (``summary()`` returns a copy).
    idata : the mixture of the posteriors (NUTS fits; their chains side by side), else None.
    """

    rule: str
    m: int
    table: pd.DataFrame
    fits: tuple
    idata: object = None

    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    def __repr__(self) -> str:
        kind = "Rubin's rules" if self.rule == "rubin" else "the mixture of the posteriors"
        return f"PooledFit of {self.m} fits of {self.fits[0].formula!r} by {kind}\n{self.table.round(4)}"


def pool_fits(fits: Sequence, dfcom: float | None = None, level: float = 0.95) -> PooledFit:
    """Pool fits of one model to multiply imputed data sets (module docstring).

    Parameters
    ----------
    fits : two or more fits of the same formula and family, all by NUTS (pooled by mixing their
        draws) or all by REML, ML or Laplace (pooled by Rubin's rules).
    dfcom : Rubin's rules only: the complete-data degrees of freedom; default the fits' residual
        df, n less the number of parameters (``fit.nobs - fit.df``), as ``mice`` takes from lme4;
        ``float("inf")`` for Rubin's large-sample df.
    level : Rubin's rules only: the intervals' coverage.

    Returns
    -------
    PooledFit
        ``summary()``: with Rubin's rules, per fixed effect the pooled estimate, se (sqrt t),
        t statistic, df, p-value and interval, and ``mice::pool``'s ubar, between (its b), t,
        dfcom, riv, lambda and fmi; for NUTS fits, the mixture's mean, sd, 5% and 95% quantiles
        of every parameter of ``fit.summary()``, ``lambda`` and ``max_r_hat``.

    Examples
    --------
    >>> fits = [hx.fit("popular ~ sex + texp + (1 | school)", d, method="reml")
    ...         for _, d in imputed.groupby(".imp")]                        # doctest: +SKIP
    >>> hx.pool_fits(fits).summary()                                       # doctest: +SKIP
    """
    fits = _checked(fits)
    if fits[0].has_draws:
        if dfcom is not None:
            raise HieraxError("dfcom is a setting of Rubin's rules for REML/ML/Laplace fits; NUTS fits are pooled by "
                              "mixing their draws, which needs none: leave it out")
        return _mixture(fits)
    return _rubin(fits, dfcom, level)


def rubin(estimates, variances, dfcom: float = np.inf) -> dict:
    """Rubin's rules for one quantity: its m estimates and squared standard errors (module
    docstring's notation; the keys are ``mice::pool``'s, but ``between`` for its b)."""
    q, u = np.asarray(estimates, float), np.asarray(variances, float)
    m = len(q)
    qbar, ubar, b = q.mean(), u.mean(), q.var(ddof=1)
    t = ubar + (1.0 + 1.0 / m) * b
    riv = (1.0 + 1.0 / m) * b / ubar
    lam = (1.0 + 1.0 / m) * b / t
    floored = max(lam, LAMBDA_FLOOR)
    df_old = (m - 1) / floored ** 2
    if np.isinf(dfcom):
        df = df_old
    else:
        df_obs = (dfcom + 1.0) / (dfcom + 3.0) * dfcom * (1.0 - floored)
        df = df_old * df_obs / (df_old + df_obs)
    fmi = (riv + 2.0 / (df + 3.0)) / (riv + 1.0)
    return {"qbar": qbar, "ubar": ubar, "between": b, "t": t, "df": df, "riv": riv, "lambda": lam, "fmi": fmi}


def _rubin(fits: tuple, dfcom: float | None, level: float) -> PooledFit:
    if not 0.0 < level < 1.0:
        raise HieraxError(f"level is an interval's coverage, between 0 and 1; got {level!r}")
    tables_ = [fit.fixef() for fit in fits]
    if dfcom is None:
        dfcom = float(fits[0].nobs - fits[0].df)
    elif not (isinstance(dfcom, (int, float)) and not isinstance(dfcom, bool) and dfcom > 0):
        raise HieraxError(f"dfcom (the complete-data degrees of freedom) must be a positive number or "
                          f"float('inf'); got {dfcom!r}")
    rows = {}
    for term in tables_[0].index:
        pooled = rubin([t.loc[term, "estimate"] for t in tables_], [t.loc[term, "se"] ** 2 for t in tables_], dfcom)
        se = np.sqrt(pooled["t"])
        half = stats.t.ppf(0.5 + level / 2.0, pooled["df"]) * se
        statistic = pooled["qbar"] / se
        rows[term] = {"estimate": pooled["qbar"], "se": se, "statistic": statistic, "df": pooled["df"],
                      "p_value": 2.0 * stats.t.sf(abs(statistic), pooled["df"]),
                      "lower": pooled["qbar"] - half, "upper": pooled["qbar"] + half,
                      "ubar": pooled["ubar"], "between": pooled["between"], "t": pooled["t"], "dfcom": dfcom,
                      "riv": pooled["riv"], "lambda": pooled["lambda"], "fmi": pooled["fmi"]}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "term"
    return PooledFit("rubin", len(fits), table, fits)


def _mixture(fits: tuple) -> PooledFit:
    posteriors = [_arviz.group(fit.idata, "posterior") for fit in fits]
    shapes = {(p.sizes["chain"], p.sizes["draw"]) for p in posteriors}
    if len(shapes) > 1:
        raise HieraxError(f"the fits have different numbers of chains and draws ({sorted(shapes)}); fit every "
                          "imputed data set with the same chains, warmup and draws, so that each weighs the same "
                          "in the pooled posterior")
    import xarray as xr

    chains = posteriors[0].sizes["chain"]
    mixed = xr.concat([p.assign_coords(chain=np.arange(j * chains, (j + 1) * chains)) for j, p in enumerate(posteriors)],
                      dim="chain")
    idata = _arviz.results(posterior=mixed)
    spec = fits[0].spec
    table = tables.summary(idata, spec)[["estimate", PARAMS.sd, "q05", "q95"]].copy()
    each = [tables.summary(fit.idata, spec) for fit in fits]
    m = len(fits)
    means = np.stack([t["estimate"].to_numpy() for t in each])
    within = np.mean(np.stack([t[PARAMS.sd].to_numpy() ** 2 for t in each]), axis=0)
    between = (1.0 + 1.0 / m) * means.var(axis=0, ddof=1)
    table["lambda"] = between / (within + between)
    table["max_r_hat"] = np.max(np.stack([t["r_hat"].to_numpy() for t in each]), axis=0)
    return PooledFit("mixture", m, table, fits, idata)


def _checked(fits) -> tuple:
    """The fits as a tuple, refused unless they are two or more fits of one model by one kind
    of engine."""
    if isinstance(fits, FittedModel) or not isinstance(fits, Sequence) or isinstance(fits, str):
        raise HieraxError("pool_fits takes a list of fits, one per imputed data set: hx.pool_fits([fit1, fit2, ...])")
    fits = tuple(fits)
    strangers = [type(f).__name__ for f in fits if not isinstance(f, FittedModel)]
    if strangers:
        raise HieraxError(f"pool_fits pools hierax fits (hx.fit's results); got {', '.join(sorted(set(strangers)))}")
    if len(fits) < 2:
        raise HieraxError(f"pool_fits needs the fits of two or more imputed data sets (got {len(fits)}); with one "
                          "there is no between-imputation variance to add")
    if any(f.method == "map" for f in fits):
        raise HieraxError("a MAP fit (method='map') has neither draws to mix nor standard errors for Rubin's rules; "
                          "fit each imputed data set by method='nuts', or by 'reml', 'ml' or 'laplace'")
    if len({f.has_draws for f in fits}) > 1:
        raise HieraxError("pool_fits pools fits of one kind: all by NUTS (their draws mixed) or all by REML, ML or "
                          f"Laplace (Rubin's rules); got methods {sorted({f.method for f in fits})}")
    first = fits[0]
    for j, fit in enumerate(fits[1:], start=2):
        for what, mine, theirs in (("formula", first.formula, fit.formula), ("family", first.family, fit.family),
                                   ("method", first.method, fit.method),
                                   ("fixed effects", list(first.spec.fixed_names), list(fit.spec.fixed_names))):
            if mine != theirs:
                raise HieraxError(f"fit {j} differs from fit 1 in its {what} ({theirs!r} against {mine!r}): pool_fits "
                                  "pools one model fitted to each imputed data set (a factor level missing from one "
                                  "data set changes the fixed effects: impute so that every level appears)")
    return fits
