"""Plots of simulation-based calibration: rank histograms and ECDF differences."""

from __future__ import annotations

import numpy as np
from scipy import stats


def sbc_plot(result, kind: str = "hist", parameters=None):
    """One panel per parameter (all by default): see :meth:`hierax.workflow.sbc.SBCResult.plot`."""
    import matplotlib.pyplot as plt

    names = list(result.ranks.columns if parameters is None else parameters)
    columns = min(4, len(names))
    rows = int(np.ceil(len(names) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.4 * rows), squeeze=False)
    simulations = len(result.ranks)
    for ax, name in zip(axes.ravel(), names):
        ranks = result.ranks[name].to_numpy()
        if kind == "hist":
            bins = max(5, min(20, simulations // 5))
            counts = np.bincount(np.minimum(ranks * bins // (result.num_draws + 1), bins - 1), minlength=bins)
            low, high = stats.binom.ppf([0.005, 0.995], simulations, 1 / bins)
            ax.axhspan(low, high, color="lightgrey", label="99% under uniformity")
            ax.bar(np.arange(bins), counts, width=0.9, color="steelblue")
            ax.set_xticks([])
        else:
            grid = np.linspace(0, 1, 201)
            scaled = (ranks + 0.5) / (result.num_draws + 1)
            ecdf = (scaled[None, :] <= grid[:, None]).mean(axis=1)
            band = stats.binom.ppf(0.995, simulations, grid) / simulations - grid
            ax.fill_between(grid, -band, band, color="lightgrey")
            ax.plot(grid, ecdf - grid, color="steelblue")
            ax.axhline(0, color="black", linewidth=0.6)
        ax.set_title(name, fontsize=8)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    fig.suptitle(f"SBC: {simulations} simulations, ranks among {result.num_draws} draws", fontsize=10)
    fig.tight_layout()
    return fig
