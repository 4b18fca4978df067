"""The shrinkage plot: no-pooling against partial-pooling estimates, one point per level."""

from __future__ import annotations

import numpy as np

from hierax.plots._axes import figure_and_axes


def shrinkage_plot(comparison, ax=None):
    """Each level's no-pooling estimate (x) against its partial-pooling estimate (y).

    Points are sized by the level's number of rows. On the dashed diagonal a level would keep
    its own estimate (no pooling); on the solid horizontal line at the population mean it would
    be pooled completely into it. Partial pooling puts levels in between: small ones near the
    line, large ones near the diagonal. The dotted line is the complete-pooling estimate.
    Levels without a finite no-pooling estimate (too few rows to separate their effects, or
    separation in a logit or log model) are counted in the title, not drawn.
    """
    table = comparison.table
    fig, ax = figure_and_axes(ax, (6.0, 5.5))
    finite = np.isfinite(table["no_pooling"]) & np.isfinite(table["partial_pooling"])
    shown = table[finite]
    sizes = 12 + 150 * shown["n"] / max(shown["n"].max(), 1)
    ax.scatter(shown["no_pooling"], shown["partial_pooling"], s=sizes, c=shown["shrinkage"].clip(0, 1),
               cmap="viridis", vmin=0, vmax=1, alpha=0.75, edgecolors="black", linewidths=0.4)
    low = float(np.nanmin([shown["no_pooling"].min(), shown["partial_pooling"].min()]))
    high = float(np.nanmax([shown["no_pooling"].max(), shown["partial_pooling"].max()]))
    ax.plot([low, high], [low, high], "--", color="grey", linewidth=1, label="no pooling (y = x)")
    ax.axhline(comparison.population_mean, color="firebrick", linewidth=1.2,
               label=f"population mean {comparison.population_mean:.3g}")
    ax.axhline(table["complete_pooling"].iloc[0], color="black", linestyle=":", linewidth=1,
               label=f"complete pooling {table['complete_pooling'].iloc[0]:.3g}")
    scale = "" if comparison.scale == "identity" else f" ({comparison.scale} scale)"
    ax.set_xlabel(f"no-pooling estimate{scale}")
    ax.set_ylabel(f"partial-pooling estimate{scale}")
    title = f"Shrinkage of {comparison.group} intercepts (size: rows; colour: shrinkage)"
    hidden = int((~finite).sum())
    if hidden:
        title += f"\n{hidden} level(s) without a finite no-pooling estimate not drawn"
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    return fig
