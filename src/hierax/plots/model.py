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
    if spec.scalar_dpars:
        scalars_xy = (width - 0.55, 1.0)
        _node(ax, scalars_xy, "\n".join(f"{d.meaning} {d.name}" for d in spec.scalar_dpars), "lemonchiffon")
        _arrow(ax, scalars_xy, data_xy)
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
    """Per chain, the draws of the fixed effects, group sds and correlations, and sigma (not the many
    group effects), one row per variable and one line per component and chain: the posterior
    densities (left) and the rank histograms (right, ``kind="rank"``, the default; clearer for
    many chains) or the draws in order (``kind="trace"``). Chains that mix give overlapping
    densities and flat rank histograms. Drawn with matplotlib alone (no ArviZ plotting)."""
    import matplotlib.pyplot as plt

    if kind not in ("rank", "trace"):
        raise ValueError(f"kind must be 'rank' or 'trace', got {kind!r}")
    post = fit.idata.posterior
    names = [v for v in post.data_vars if not v.startswith("b_")]
    fig, axes = plt.subplots(len(names), 2, figsize=(9, 1.8 * len(names)), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (left, right), name in zip(axes, names):
        draws = np.asarray(post[name].values, dtype=float)
        draws = draws.reshape(draws.shape[:2] + (-1,))             # chain, draw, component
        chains = draws.shape[0]
        for k in range(draws.shape[2]):
            colour = colours[k % len(colours)]
            for c in range(chains):
                _density(left, draws[c, :, k], colour, _LINESTYLES[c % len(_LINESTYLES)])
            if kind == "trace":
                for c in range(chains):
                    right.plot(draws[c, :, k], color=colour, linewidth=0.4, alpha=0.7)
            else:
                _rank_lines(right, draws[..., k], colour)
        left.set_title(name, fontsize=9)
        right.set_title(name, fontsize=9)
        left.set_yticks([])
        if kind == "rank":
            right.set_yticks(np.arange(chains) + 0.5, [str(c) for c in range(chains)])
            right.set_ylabel("chain", fontsize=8)
    fig.tight_layout()
    plt.figure(fig.number)
    return fig


_LINESTYLES = ("-", "--", ":", "-.")


def _density(ax, values: np.ndarray, colour, linestyle) -> None:
    """A kernel density of one chain's draws (a vertical line where they do not vary)."""
    from scipy.stats import gaussian_kde

    finite = values[np.isfinite(values)]
    if finite.size < 2 or np.ptp(finite) == 0:
        if finite.size:
            ax.axvline(finite[0], color=colour, linestyle=linestyle, linewidth=1)
        return
    grid = np.linspace(finite.min(), finite.max(), 200)
    ax.plot(grid, gaussian_kde(finite)(grid), color=colour, linestyle=linestyle, linewidth=1)


def _rank_lines(ax, draws: np.ndarray, colour, bins: int = 20) -> None:
    """Rank histograms (draws ranked over all chains), one step line per chain, chain c drawn in
    the band [c, c + 1), with the uniform count as a dotted line: mixing chains stay near it."""
    from scipy.stats import rankdata

    chains, num = draws.shape
    ranks = rankdata(draws.ravel()).reshape(chains, num)
    edges = np.linspace(0.5, chains * num + 0.5, bins + 1)
    expected = num / bins
    for c in range(chains):
        counts, _ = np.histogram(ranks[c], bins=edges)
        ax.stairs(c + 0.5 * counts / expected, edges, baseline=c, color=colour, linewidth=0.8)
        ax.axhline(c + 0.5, color="grey", linestyle=":", linewidth=0.6)
    ax.set_ylim(0, chains)
    ax.set_xlabel("rank (all chains)", fontsize=8)
