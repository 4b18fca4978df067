"""Plots (matplotlib) of fits and of the workflow around them. Each returns its Figure."""

from hierax.plots.pooling import shrinkage_plot

__all__ = ["shrinkage_plot"]
