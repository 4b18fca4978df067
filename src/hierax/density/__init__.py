"""Density: log posterior, transforms and pointwise log-likelihood. Imports only ``model``."""

from hierax.density.init import initial_position
from hierax.density.logdensity import (
    make_constrain, make_linear_predictor, make_log_prior, make_logdensity,
    make_pointwise_loglik, position_shapes,
)

__all__ = [
    "initial_position", "make_constrain", "make_linear_predictor", "make_log_prior", "make_logdensity",
    "make_pointwise_loglik", "position_shapes",
]
