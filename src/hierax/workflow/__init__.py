"""Workflow around a fit: prior and posterior predictive, prediction, pooling, simulation, comparison."""

from hierax.workflow.pooling import PoolingComparison, compare_pooling
from hierax.workflow.prior import sample_prior

__all__ = ["PoolingComparison", "compare_pooling", "sample_prior"]
