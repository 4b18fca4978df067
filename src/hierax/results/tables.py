"""Tidy tables that every engine provides: fixef, varcorr, ranef, coef and the summary.

For NUTS fits the ``estimate`` is the posterior mean, with ``sd``, ``q05``, ``q95`` and the
sampling diagnostics ``mcse``, ``ess_bulk``, ``ess_tail`` and ``r_hat`` (all from ArviZ).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hierax.results import _arviz
from hierax.model.spec import SE_FIXES as RESIDUAL     # the residual sd's name (sigma)
from hierax.results.idata import cor_pairs, threshold_labels
from hierax.model.layout import PARAMS
from hierax.model import layout

STAT_COLUMNS = ["estimate", "sd", "q05", "q95", "mcse", "ess_bulk", "ess_tail", "r_hat"]
# ArviZ computes ESS, MCSE and R-hat from at least 4 draws per chain, and R-hat from at least 2
# chains (its shape check; below, NaN): the summary leaves them NaN there.
MIN_DIAGNOSTIC_DRAWS, MIN_RHAT_CHAINS = 4, 2


def missing_diagnostics(chains: int, draws: int) -> tuple[str, ...]:
    """Why the summary's diagnostics will be NaN for this many chains and draws per chain, with
    what to do (empty when every diagnostic is computed).

    Why say it: a NaN R-hat passes every check that looks for a large one, so a run too short to
    judge would otherwise read as a run with nothing wrong (Stan warns here too).
    """
    if draws < MIN_DIAGNOSTIC_DRAWS:
        return (f"{draws} draw(s) per chain are too few for ESS, R-hat and MCSE (ArviZ needs at least "
                f"{MIN_DIAGNOSTIC_DRAWS}; the summary shows NaN for them): draw at least 100 per chain (draws=1000 "
                "is the default) before trusting the estimates.",)
    if chains < MIN_RHAT_CHAINS:
        return ("with one chain R-hat cannot be computed (it compares chains; the summary shows NaN): run "
                "chains=4 to check that chains started apart agree.",)
    return ()


def summarize_draws(draws: np.ndarray, values_per_pass: int = 4_000_000, diagnostics: bool = True) -> pd.DataFrame:
    """Statistics of each column of ``draws`` shaped (chain, draw, k); without ``diagnostics``,
    only the mean, sd and 5% and 95% quantiles (no MCSE, ESS or R-hat).

    Columns are summarised a few thousand at a time: ArviZ's rank-normalised ESS and R-hat copy
    and sort their input several times, which for 20,000 group effects of 4,000 draws would hold
    gigabytes at once. They also cost about 6-10 ms a column (ArviZ computes them column by
    column): 20 minutes for 200,000 group effects, against seconds for the rest."""
    if draws.shape[-1] == 0:                      # no parameters of this kind (y ~ 0 + (1 | g) has no beta)
        kept = STAT_COLUMNS if diagnostics else STAT_COLUMNS[:4]
        return pd.DataFrame({column: pd.Series(dtype=float) for column in kept})
    columns = max(1, values_per_pass // max(draws.shape[0] * draws.shape[1], 1))
    parts = [_summarize_columns(draws[..., start:start + columns], diagnostics)
             for start in range(0, draws.shape[-1], columns)]
    return pd.concat(parts, ignore_index=True) if len(parts) != 1 else parts[0]


def _summarize_columns(draws: np.ndarray, diagnostics: bool = True) -> pd.DataFrame:
    import xarray as xr

    array = xr.DataArray(draws, dims=("chain", "draw", "k"))
    data = xr.Dataset({"x": array})
    flat = draws.reshape(-1, draws.shape[-1])
    table = pd.DataFrame({
        "estimate": flat.mean(axis=0),
        PARAMS.sd: flat.std(axis=0, ddof=1) if len(flat) > 1 else np.full(flat.shape[1], np.nan),   # a mode: one draw
        "q05": np.quantile(flat, 0.05, axis=0),
        "q95": np.quantile(flat, 0.95, axis=0),
    })
    if not diagnostics:
        return table
    if draws.shape[1] >= MIN_DIAGNOSTIC_DRAWS:
        table["mcse"] = _arviz.mcse(data, method="mean")["x"].values
        # an effective sample size is a count: whole numbers, as Stan and the CLI print them
        table["ess_bulk"] = np.round(_arviz.ess(data, method="bulk")["x"].values)
        table["ess_tail"] = np.round(_arviz.ess(data, method="tail")["x"].values)
        table["r_hat"] = _arviz.rhat(data)["x"].values if draws.shape[0] >= MIN_RHAT_CHAINS else np.nan
    else:
        table[["mcse", "ess_bulk", "ess_tail", "r_hat"]] = np.nan
    return table


def fixef(idata, spec) -> pd.DataFrame:
    """One row per fixed coefficient, indexed by its label: the mean's, then each formula's
    (``sigma_(Intercept)``, ``sigma_x``: on that parameter's link scale)."""
    draws, names = fixed_draws(idata, spec)
    table = summarize_draws(draws)
    table.index = pd.Index(names, name="term")
    return table


def fixed_draws(idata, spec) -> tuple[np.ndarray, list]:
    """(chain, draw, k) draws of every fixed coefficient and their labels: an ordinal model's
    thresholds, the mean's coefficients, each formula's."""
    post = idata.posterior
    parts = [post[layout.FIXED_VARIABLE].values] + [post[layout.variable("fixed", dpar=p.dpar)].values for p in spec.dpar_predictors]
    names = list(spec.fixed_names) + [name for p in spec.dpar_predictors for name in p.fixed_names]
    if spec.thresholds:                     # an ordinal model's thresholds first, as brms lists them
        parts.insert(0, post[layout.THRESHOLDS_VARIABLE].values)
        names = threshold_labels(spec) + names
    return np.concatenate(parts, axis=-1), names


def varcorr(idata, spec) -> pd.DataFrame:
    """sds and correlations laid out as lme4's ``as.data.frame(VarCorr(fit))``, blanks as '', indexed
    by the labels of ``summary()`` (``sd[g][x]``, ``cor[g][(Intercept),x]``, ``sigma``)."""
    rows, columns = varcorr_draws(idata, spec)
    if not rows:
        return pd.DataFrame(columns=["group", "var1", "var2"] + STAT_COLUMNS, index=pd.Index([], name="term"))
    table = summarize_draws(np.stack(columns, axis=-1))
    labels = pd.DataFrame(rows, columns=["group", "var1", "var2"])
    return pd.concat([labels, table], axis=1).set_axis(varcorr_index(rows))


def varcorr_draws(idata, spec) -> tuple[list, list]:
    """((group, var1, var2) of each sd, correlation and sigma, their (chain, draw) draws)."""
    rows, columns = [], []
    post = idata.posterior
    for block in spec.all_blocks:
        sd = post[layout.variable("sd", block)].values
        for k, term in enumerate(block.terms):
            rows.append((block.group, term, ""))
            columns.append(sd[..., k])
        if block.has_cor:
            cor = post[layout.variable("cor", block)].values
            for p, (i, j) in enumerate(cor_pairs(block.terms)):
                rows.append((block.group, block.terms[i], block.terms[j]))
                columns.append(cor[..., p])
    if spec.has_sigma:
        rows.append(("Residual", "", ""))
        columns.append(post[RESIDUAL].values)
    return rows, columns


def draws_by_label(idata, spec) -> dict:
    """{label: the draws flattened, chain-major} of every row of :func:`summary`."""
    fixed, names = fixed_draws(idata, spec)
    out = {name: fixed[..., k].ravel() for k, name in enumerate(names)}
    rows, columns = varcorr_draws(idata, spec)
    out.update({label: column.ravel() for label, column in zip(varcorr_index(rows), columns)})
    for d in spec.scalar_dpars:
        if not (spec.has_sigma and d.name == RESIDUAL):
            out[d.name] = np.asarray(idata.posterior[d.name].values).ravel()
    return out


def varcorr_index(rows) -> pd.Index:
    """Each (group, var1, var2) row's label, as ``summary()`` and prior keys name it:
    ``sd[g][x]``, ``cor[g][(Intercept),x]``, ``sigma``."""
    labels = [RESIDUAL if group == "Residual" else f"sd[{group}][{var1}]" if not var2 else f"cor[{group}][{var1},{var2}]"
              for group, var1, var2 in rows]
    return pd.Index(labels, name="term")


def ranef(idata, spec, diagnostics: bool = True) -> pd.DataFrame:
    """One row per group level and varying effect, as deviations from the fixed effects."""
    return _group_table(idata, spec, add_fixed=False, diagnostics=diagnostics)


def coef(idata, spec, diagnostics: bool = True) -> pd.DataFrame:
    """Fixed plus random: each level's own coefficients (for effects that are also fixed)."""
    return _group_table(idata, spec, add_fixed=True, diagnostics=diagnostics)


def _group_table(idata, spec, add_fixed: bool, diagnostics: bool = True) -> pd.DataFrame:
    frames = []
    beta, names = fixed_draws(idata, spec)
    fixed_index = {name: j for j, name in enumerate(names)}
    for block in spec.all_blocks:
        effects = idata.posterior[layout.variable("effects", block)]  # chain, draw, level, term
        tables = {term: [] for term in block.terms}
        for levels in level_chunks(effects, layout.level_dim(block)):
            b = effects.isel({layout.level_dim(block): levels}).values
            for k, term in enumerate(block.terms):
                draws = b[..., k]
                if add_fixed and term in fixed_index:
                    draws = draws + beta[..., fixed_index[term]][..., None]
                tables[term].append(summarize_draws(draws, diagnostics=diagnostics))
        for term, parts in tables.items():
            table = pd.concat(parts, ignore_index=True)
            labels = pd.DataFrame({"group": block.group, "level": list(block.levels), "term": term})
            frames.append(pd.concat([labels, table], axis=1))
    if not frames:
        return pd.DataFrame(columns=["group", "level", "term"] + (STAT_COLUMNS if diagnostics else STAT_COLUMNS[:4]))
    return pd.concat(frames, ignore_index=True)


def level_chunks(effects, level_dim: str) -> list:
    """Slices of the levels, one per chunk where ``effects`` (a posterior DataArray) is a lazy Dask
    array (an out-of-core fit's, ``hierax.outofcore.lazy``), so that tables are made a chunk's
    draws at a time; all levels at once for draws in memory."""
    if not effects.chunks:
        return [slice(None)]
    edges = np.cumsum((0,) + effects.chunks[effects.dims.index(level_dim)])
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def family_params(idata, spec) -> pd.DataFrame:
    """The family's scalar parameters other than a residual sd (which ``varcorr`` holds, as lme4
    does): shape, nu, phi, zi, hu, one row each, labelled by brms's names."""
    names = [d.name for d in spec.scalar_dpars if not (spec.has_sigma and d.name == RESIDUAL)]
    if not names:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in STAT_COLUMNS}).set_axis(pd.Index([], name="term"))
    table = summarize_draws(np.stack([idata.posterior[name].values for name in names], axis=-1))
    return table.set_axis(pd.Index(names, name="term"))


def summary(idata, spec) -> pd.DataFrame:
    """Fixed effects, sds, correlations, sigma and the family's other parameters in one table,
    with labels as prior keys use them."""
    fixed = fixef(idata, spec)
    parts = [fixed, varcorr(idata, spec)[STAT_COLUMNS], family_params(idata, spec)]
    return pd.concat([part for part in parts if len(part)] or [fixed])
