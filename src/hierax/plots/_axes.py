"""The one piece every plot shares: draw on the given axes, or on a new figure of a given size."""

from __future__ import annotations


def figure_and_axes(ax, size: tuple):
    import matplotlib.pyplot as plt

    if ax is None:
        return plt.subplots(figsize=size)
    return ax.figure, ax
