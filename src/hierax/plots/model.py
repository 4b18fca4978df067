"""The model drawn as a directed graph of its levels, and the sampler's trace and rank plots."""

from __future__ import annotations

import numpy as np

from hierax.plots._axes import figure_and_axes


def model_graph(fit, ax=None):
    """Hyperpriors -> population distributions -> group effects -> linear predictor -> data.

    One box per node, labelled with what it is and how many; arrows point from a quantity to what
    is drawn given it.
    """
    spec = fit.spec
    blocks = spec.blocks
    width = max(len(blocks), 1) + 1
    fig, ax = figure_and_axes(ax, (2.6 * width + 1, 5.2))
    ax.set_xlim(0, width)
    ax.set_ylim(0, 5)
    ax.axis("off")
    data_xy = (width / 2, 0.5)
    eta_xy = (width / 2, 1.7)
    _node(ax, data_xy, f"data: {spec.num_obs} rows\n{spec.family.name} ({spec.link.name} link)", "lightgrey")
    _node(ax, eta_xy, "linear predictor\nX beta + sum Z b[group]", "white")
    _arrow(ax, eta_xy, data_xy)
    fixed_xy = (width - 0.55, 2.9)
    _node(ax, fixed_xy, f"fixed effects beta\n{len(spec.fixed_names)} coefficients", "lemonchiffon")
    _arrow(ax, fixed_xy, eta_xy)
    if spec.has_sigma:
        sigma_xy = (width - 0.55, 1.0)
        _node(ax, sigma_xy, "residual sd sigma", "lemonchiffon")
        _arrow(ax, sigma_xy, data_xy)
    for k, block in enumerate(blocks):
        x = 0.7 + k * (width - 1.2) / max(len(blocks), 1)
        effects_xy, population_xy, hyper_xy = (x, 2.9), (x, 3.85), (x, 4.6)
        _node(ax, effects_xy, f"b[{block.group}]\n{block.num_levels} levels x {block.num_terms}", "lightblue")
        cor = ", correlation (LKJ)" if block.has_cor else ""
        _node(ax, population_xy, f"population of {block.group}\nN(0, Sigma)", "lightsteelblue")
        _node(ax, hyper_xy, f"sds{cor}", "lemonchiffon")
        _arrow(ax, hyper_xy, population_xy)
        _arrow(ax, population_xy, effects_xy)
        _arrow(ax, effects_xy, eta_xy)
    ax.set_title(f"{fit.formula}: data <- groups <- population <- hyperpriors", fontsize=10)
    return fig


def _node(ax, xy, text, colour):
    ax.text(*xy, text, ha="center", va="center", fontsize=8,
            bbox=dict(boxstyle="round,pad=0.4", facecolor=colour, edgecolor="black", linewidth=0.8))


def _arrow(ax, start, end):
    ax.annotate("", xy=(end[0], end[1] + 0.32), xytext=(start[0], start[1] - 0.32),
                arrowprops=dict(arrowstyle="->", color="dimgrey", linewidth=1))


def trace_plot(fit, kind: str = "rank"):
    """ArviZ's trace (``kind="trace"``) or rank plots (default; clearer for many chains) of the
    fixed effects, group sds and correlations, and sigma: not the many group effects."""
    import arviz as az
    import matplotlib.pyplot as plt

    names = [v for v in fit.idata.posterior.data_vars if not v.startswith("b_")]
    axes = az.plot_trace(fit.idata, var_names=names, kind="rank_bars" if kind == "rank" else "trace",
                         compact=True, figsize=(9, 1.8 * len(names)))
    fig = np.asarray(axes).ravel()[0].figure
    fig.tight_layout()
    plt.figure(fig.number)
    return fig
