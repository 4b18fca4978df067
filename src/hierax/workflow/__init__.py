"""Workflow around a fit: prior (and later posterior) predictive checks, simulation, comparison."""

from hierax.workflow.prior import sample_prior

__all__ = ["sample_prior"]
