"""Link functions g with their inverses (``eta = g(mu)``), in a registry so that a family lists
the names it allows.

``inverse`` works on JAX arrays (inside densities); ``forward`` on NumPy values (starting points,
data summaries), where nothing needs compiling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special
from jax.scipy.stats import norm


@dataclass(frozen=True)
class Link:
    """A link function g: ``forward`` maps a value to the linear predictor, ``inverse`` back, and
    ``log_derivative(eta)`` is log |d inverse / d eta|, the log-Jacobian when a positive or
    (0, 1) parameter is sampled on its link scale (the link is then its constraining map)."""

    name: str
    inverse: Callable
    forward: Callable
    log_derivative: Callable


LINKS = {
    "identity": Link("identity", lambda eta: eta, lambda mu: mu, lambda eta: jnp.zeros_like(eta)),
    "log": Link("log", jnp.exp, np.log, lambda eta: eta),
    "logit": Link("logit", lambda eta: 1.0 / (1.0 + jnp.exp(-eta)), scipy.special.logit,
                  lambda eta: jax.nn.log_sigmoid(eta) + jax.nn.log_sigmoid(-eta)),
    "probit": Link("probit", norm.cdf, scipy.special.ndtri, norm.logpdf),
    "cloglog": Link("cloglog", lambda eta: -jnp.expm1(-jnp.exp(eta)), lambda mu: np.log(-np.log1p(-mu)),
                    lambda eta: eta - jnp.exp(eta)),
    # brms's link for student's nu > 1: nu = 1 + exp(eta)
    "logm1": Link("logm1", lambda eta: 1.0 + jnp.exp(eta), lambda mu: np.log(mu - 1.0), lambda eta: eta),
}
