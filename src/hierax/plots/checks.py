"""Posterior predictive checks: the data against data the fitted model would produce.

The plot suits the response: densities for continuous outcomes, a rootogram-like bar chart for
counts, a calibration plot for binary and binomial outcomes; and, per group, the observed group
means against the range the model predicts for them.
"""

from __future__ import annotations

import numpy as np

from hierax.plots._axes import figure_and_axes

from hierax.errors import HieraxError


def _replicates(fit, idata):
    """Observed y and replicated data sets: the posterior predictive of a NUTS fit, or of
    ``idata`` (its ``posterior_predictive`` group, else its ``prior_predictive`` group: a prior
    predictive check of a :func:`hierax.model` with ``hx.sample_prior_predictive``'s draws)."""
    if idata is None:
        if not fit.has_draws:
            raise HieraxError("predictive checks need posterior draws (method='nuts'), or prior predictive draws")
        idata = fit.posterior_predictive(seed=0)
    name = next(iter(idata.observed_data.data_vars))
    group = "posterior_predictive" if "posterior_predictive" in idata else "prior_predictive"
    y_rep = idata[group][name].values
    return np.asarray(fit.spec.y), y_rep.reshape(-1, y_rep.shape[-1]), name


def ppc_plot(fit, idata=None, num_draws: int = 50, ax=None):
    """The observed response against replicated data sets, in the form its family calls for."""

    y, y_rep, name = _replicates(fit, idata)
    fig, ax = figure_and_axes(ax, (6.0, 4.2))
    outcome = fit.spec.family.outcome
    if outcome == "continuous":
        _densities(ax, y, y_rep, num_draws)
    elif outcome == "count":
        _count_bars(ax, y, y_rep)
    else:
        _calibration(ax, fit, y, y_rep)
    ax.set_title(f"Posterior predictive check of {name}", fontsize=10)
    fig.tight_layout()
    return fig


def _densities(ax, y, y_rep, num_draws):
    from scipy.stats import gaussian_kde

    grid = np.linspace(min(y.min(), np.quantile(y_rep, 0.001)), max(y.max(), np.quantile(y_rep, 0.999)), 200)
    step = max(1, len(y_rep) // num_draws)
    for k, replicate in enumerate(y_rep[::step][:num_draws]):
        ax.plot(grid, gaussian_kde(replicate)(grid), color="lightsteelblue", linewidth=0.6,
                label="replicated data" if k == 0 else None)
    ax.plot(grid, gaussian_kde(y)(grid), color="black", linewidth=1.8, label="observed")
    ax.set_ylabel("density")
    ax.legend(fontsize=8, frameon=False)


def _count_bars(ax, y, y_rep):
    top = int(max(np.quantile(y, 0.99), 1))
    values = np.arange(top + 1)
    observed = np.array([(np.minimum(y, top) == v).mean() for v in values])
    replicated = np.stack([(np.minimum(y_rep, top) == v).mean(axis=1) for v in values], axis=1)
    ax.bar(values, observed, color="lightgrey", edgecolor="black", label="observed")
    low, mid, high = np.quantile(replicated, [0.05, 0.5, 0.95], axis=0)
    ax.errorbar(values, mid, yerr=[mid - low, high - mid], fmt="o", color="navy", markersize=3,
                label="replicated (median, 90%)")
    ax.set_xlabel(f"count (the last bar: {top} or more)")
    ax.set_ylabel("share of observations")
    ax.legend(fontsize=8, frameon=False)


def _calibration(ax, fit, y, y_rep, bins: int = 10):
    trials = np.ones_like(y) if fit.spec.trials is None else np.asarray(fit.spec.trials)
    predicted = (y_rep / trials).mean(axis=0)
    edges = np.unique(np.quantile(predicted, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, predicted, side="right") - 1, 0, len(edges) - 2)
    mean_p, rate, half = [], [], []
    for b in range(len(edges) - 1):
        rows = which == b
        if rows.any():
            n = trials[rows].sum()
            p = y[rows].sum() / n
            mean_p.append(np.average(predicted[rows], weights=trials[rows]))
            rate.append(p)
            half.append(1.96 * np.sqrt(max(p * (1 - p), 1e-12) / n))
    ax.errorbar(mean_p, rate, yerr=half, fmt="o", color="navy", markersize=4, label="observed rate (95%)")
    ax.plot([0, 1], [0, 1], "--", color="grey", linewidth=1, label="perfect calibration")
    ax.set_xlabel("predicted probability (bins of equal size)")
    ax.set_ylabel("observed proportion")
    ax.legend(fontsize=8, frameon=False)


def group_ppc_plot(fit, idata=None, group: str | None = None, ax=None):
    """Each level's observed mean response against its 90% posterior predictive interval."""

    from hierax.plots.effects import _block

    y, y_rep, name = _replicates(fit, idata)
    block = _block(fit, group)
    counts = np.bincount(block.group_index, minlength=block.num_levels)
    seen = counts > 0
    observed = np.bincount(block.group_index, weights=y, minlength=block.num_levels)[seen] / counts[seen]
    sums = np.stack([np.bincount(block.group_index, weights=r, minlength=block.num_levels) for r in y_rep])
    replicated = sums[:, seen] / counts[seen]
    low, high = np.quantile(replicated, [0.05, 0.95], axis=0)
    order = np.argsort(observed)
    outside = (observed < low) | (observed > high)
    fig, ax = figure_and_axes(ax, (6.5, 4.2))
    position = np.arange(len(order))
    ax.vlines(position, low[order], high[order], color="lightsteelblue", linewidth=2, label="replicated 90%")
    ax.plot(position, observed[order], "o", markersize=3, color="black", label="observed mean")
    if outside.any():
        ax.plot(position[outside[order]], observed[order][outside[order]], "o", markersize=5, color="crimson",
                label=f"outside ({int(outside.sum())} of {len(order)}; about 10% expected)")
    ax.set_xlabel(f"{block.group} levels, sorted by observed mean")
    ax.set_ylabel(f"mean {name}")
    ax.set_title(f"Group means of {name} by {block.group}: observed against replicated", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
