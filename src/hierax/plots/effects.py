"""Plots of the group effects: the caterpillar (forest) plot and the funnel."""

from __future__ import annotations

import numpy as np

from hierax.plots._axes import figure_and_axes
import pandas as pd

from hierax.errors import HieraxError
from hierax.results.idata import effect_draws, sd_draws
from hierax.results.tables import fixed_draws


def forest_plot(fit, group: str | None = None, term: str = "(Intercept)", level: float = 0.9, ax=None):
    """Each level's coefficient (fixed plus its deviation) with an interval, sorted: the caterpillar.

    NUTS fits show posterior means and central ``level`` intervals; REML/ML/Laplace fits show
    the conditional modes (plus the fixed effect) with +-z conditional sds. The vertical line is
    the fixed effect, the population mean the levels vary around.
    """
    block = _block(fit, group)
    if term not in block.terms:
        raise HieraxError(f"{term!r} does not vary over {block.group!r}; its effects are {list(block.terms)}")
    table = _level_intervals(fit, block, term, level).sort_values("estimate")
    fig, ax = figure_and_axes(ax, (6.0, max(3.0, 0.12 * len(table) + 1.2)))
    position = np.arange(len(table))
    ax.hlines(position, table["lower"], table["upper"], color="steelblue", linewidth=1)
    ax.plot(table["estimate"], position, "o", color="navy", markersize=3)
    fixed = _fixed_estimate(fit, term)
    if fixed is not None:
        ax.axvline(fixed, color="firebrick", linewidth=1, label=f"population mean {fixed:.3g}")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_yticks(position)
    ax.set_yticklabels(table["level"], fontsize=6 if len(table) > 40 else 8)
    ax.set_xlabel(f"{term} by {block.group} ({int(level * 100)}% intervals)")
    ax.set_title(f"{block.group}: {len(table)} levels, sorted", fontsize=10)
    fig.tight_layout()
    return fig


def funnel_plot(fit, group: str | None = None, level_name: str | None = None, term: str = "(Intercept)", ax=None):
    """Posterior draws of one level's effect against the log of its group's sd: the funnel.

    Where the data say little about a level, its effect's spread collapses as the sd shrinks, a
    funnel that a sampler in centred coordinates cannot enter (divergences mark where it failed).
    """
    if not fit.has_draws:
        raise HieraxError("the funnel plot needs posterior draws (method='nuts')")
    block = _block(fit, group)
    k = block.terms.index(term)
    level_name = block.levels[0] if level_name is None else str(level_name)
    effect = effect_draws(fit.idata, block)[..., block.levels.index(level_name), k].ravel()
    log_sd = np.log(sd_draws(fit.idata, block)[..., k].ravel())
    diverging = fit.idata.sample_stats["diverging"].values.ravel().astype(bool)
    fig, ax = figure_and_axes(ax, (5.5, 4.5))
    ax.scatter(effect[~diverging], log_sd[~diverging], s=4, alpha=0.3, color="grey", label="draws")
    if diverging.any():
        ax.scatter(effect[diverging], log_sd[diverging], s=12, color="crimson", label="divergent")
    ax.set_xlabel(f"b[{block.group}: {level_name}][{term}]")
    ax.set_ylabel(f"log sd[{block.group}][{term}]")
    ax.set_title(f"Funnel: one level's effect against its group's sd ({int(diverging.sum())} divergent)", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def _block(fit, group):
    return fit.spec.find_block(group)


def _fixed_estimate(fit, term):
    fixef = fit.fixef()
    return float(fixef.loc[term, "estimate"]) if term in fixef.index else None


def _level_intervals(fit, block, term, level) -> pd.DataFrame:
    k = block.terms.index(term)
    if fit.has_idata:
        draws = effect_draws(fit.idata, block)[..., k]
        draws = draws.reshape(-1, draws.shape[-1])
        fixed, names = fixed_draws(fit.idata, fit.spec)
        if term in names:
            draws = draws + fixed[..., names.index(term)].reshape(-1, 1)
        lower, upper = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
        return pd.DataFrame({"level": list(block.levels), "estimate": draws.mean(axis=0), "lower": lower,
                             "upper": upper})
    from scipy.stats import norm

    ranef = fit.ranef()
    rows = ranef[(ranef["group"] == block.group) & (ranef["term"] == term)]
    fixed = _fixed_estimate(fit, term) or 0.0
    z = norm.ppf(0.5 + level / 2)
    estimate = rows["estimate"].to_numpy() + fixed
    return pd.DataFrame({"level": rows["level"].to_numpy(), "estimate": estimate,
                         "lower": estimate - z * rows["se"].to_numpy(), "upper": estimate + z * rows["se"].to_numpy()})
