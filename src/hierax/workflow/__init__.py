"""Workflow around a fit: prior and posterior predictive, prediction, pooling, simulation, comparison."""

from hierax.workflow.compare import LooResult, compare, loo, waic
from hierax.workflow.pooling import PoolingComparison, compare_pooling
from hierax.workflow.prior import sample_prior

__all__ = ["LooResult", "PoolingComparison", "compare", "compare_pooling", "loo", "sample_prior", "waic"]
