"""The mode of a log density by L-BFGS with its exact gradient: ``method="map"``'s engine.

A plain function of a log density over a pytree position, as the NUTS engine is. In a
hierarchical model the joint mode over group effects and their sd is often at sd = 0 (the
density grows without bound as the effects and their sd shrink together), which is why
posterior means, not modes, are hierax's default answer; ``hierax.results.diagnostics`` says so
when it happens.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from scipy.optimize import minimize


class ModeOutput(NamedTuple):
    position: object          # pytree, as the initial position
    log_density: float
    evaluations: int
    converged: bool
    message: str


def find_mode(log_density: Callable, initial_position, max_iterations: int = 5000) -> ModeOutput:
    """Maximise ``log_density(position)`` from ``initial_position``."""
    flat, unravel = ravel_pytree(initial_position)
    value_and_grad = jax.jit(jax.value_and_grad(lambda x: -log_density(unravel(x))))

    def objective(x):
        value, grad = value_and_grad(jnp.asarray(x))
        value, grad = float(value), np.asarray(grad, dtype=float)
        if not np.isfinite(value):
            return 1e300, np.zeros_like(grad)
        return value, grad

    result = minimize(objective, np.asarray(flat, float), jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iterations, "ftol": 1e-13, "gtol": 1e-8, "maxcor": 20})
    return ModeOutput(unravel(jnp.asarray(result.x)), -float(result.fun), int(result.nfev), bool(result.success),
                      str(result.message))
