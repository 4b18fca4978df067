"""The Laplace engine's starting point: the model without group effects, by Newton's method.

lme4 starts its GLMM fit from the GLM's estimates, in spirit; so does ``hierax.engines.laplace``,
for (beta, phi) jointly: a family's parameters besides the mean (a shape, a precision) are
estimated with the fixed effects. The likelihood need not be log-concave (student-t, zero
inflation), so a step whose Hessian is not positive definite falls back to a short gradient step.
``data`` is the Laplace engine's data (``X``, ``offset``, ``y``, ``trials``).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np


def _objective(z, data, likelihood):
    """Minus the log-likelihood without group effects at z = (beta, phi)."""
    p = data.X.shape[1]
    return -jnp.sum(likelihood(data.y, data.X @ z[:p] + data.offset, z[p:], data.trials))


@partial(jax.jit, static_argnames=("likelihood",))
def _value(z, data, likelihood):
    return _objective(z, data, likelihood)


@partial(jax.jit, static_argnames=("likelihood",))
def _newton_step(z, data, likelihood):
    """The objective and a step to subtract: Newton's where the Hessian is positive definite, a
    short gradient step where it is not (a likelihood that is not log-concave, far from its mode)."""
    value, grad = jax.value_and_grad(_objective)(z, data, likelihood)
    newton = jax.scipy.linalg.cho_solve((jnp.linalg.cholesky(jax.hessian(_objective)(z, data, likelihood)), True),
                                        grad)
    fallback = grad / jnp.maximum(1.0, jnp.max(jnp.abs(grad)))
    return value, jnp.where(jnp.all(jnp.isfinite(newton)), newton, fallback)


def fixed_start(data, likelihood, start: np.ndarray) -> np.ndarray:
    """(beta, phi) of the model without group effects (Newton from ``start``, steps halved until
    the likelihood improves), lme4's starting point in spirit."""
    z = jnp.asarray(start, dtype=float)
    if z.size == 0:                               # y ~ 0 + (1 | g) with no family parameters
        return np.zeros(0)
    for _ in range(50):
        value, step = _newton_step(z, data, likelihood)
        for length in (1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125):
            trial = z - length * step
            if float(_value(trial, data, likelihood)) <= float(value):
                break
        else:
            break                                 # no improvement along the step: keep z
        z = trial
        if float(jnp.max(jnp.abs(length * step))) < 1e-10:
            break
    return np.asarray(z)
