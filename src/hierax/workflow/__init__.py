"""Workflow around a fit: prior and posterior predictive, prediction, pooling, simulation, calibration,
comparison."""

from hierax.workflow.bootstrap import Bootstrap, bootstrap
from hierax.workflow.compare import LooResult, compare, loo, waic
from hierax.workflow.deconvolution import Deconvolution, deconvolve, npmle
from hierax.workflow.effects import ConditionalEffects, conditional_effects
from hierax.workflow.hypothesis import hypothesis
from hierax.workflow.imputation import PooledFit, pool_fits
from hierax.workflow.logo import LogoResult, logo
from hierax.workflow.marginal import gee, population_averaged
from hierax.workflow.margins import avg_comparisons, avg_predictions, avg_slopes
from hierax.workflow.pooling import PoolingComparison, compare_pooling
from hierax.workflow.prior import sample_prior, sample_prior_predictive
from hierax.workflow.sbc import SBCResult, sbc
from hierax.workflow.simulate import Model, Simulated, model, recover, simulate

__all__ = ["avg_comparisons", "avg_predictions", "avg_slopes", "Bootstrap", "bootstrap", "ConditionalEffects", "conditional_effects", "Deconvolution", "deconvolve", "hypothesis", "npmle", "LogoResult", "LooResult", "Model", "PooledFit", "PoolingComparison", "SBCResult", "Simulated", "compare", "compare_pooling", "gee", "logo", "loo",
           "model", "population_averaged", "pool_fits", "recover", "sample_prior", "sample_prior_predictive", "sbc", "simulate", "waic"]
