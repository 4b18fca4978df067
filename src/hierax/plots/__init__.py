"""Plots (matplotlib) of fits and of the workflow around them. Each returns its Figure."""

from hierax.plots.checks import group_ppc_plot, ppc_plot
from hierax.plots.effects import forest_plot, funnel_plot
from hierax.plots.model import model_graph, trace_plot
from hierax.plots.pooling import shrinkage_plot

__all__ = ["forest_plot", "funnel_plot", "group_ppc_plot", "model_graph", "ppc_plot", "shrinkage_plot", "trace_plot"]
