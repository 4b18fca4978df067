"""The log-likelihood of censored and truncated rows (``y | cens(c, y2) + trunc(lb, ub)``), brms's:

    observed (code 0):      log f(y)
    right-censored (1):     log S(y) = log P(Y > y)
    left-censored (-1):     log F(y) = log P(Y <= y)
    interval-censored (2):  log(F(y2) - F(y))

and a truncated row's term, whatever its code, less the log of the probability of [lb, ub]:
S(lb) (for a count family S(lb - 1), so that lb itself is allowed), F(ub), or F(ub) - F(lb).
The distribution functions are ``hierax.model.families.cdf``'s. Each branch is computed on every
row at values that keep it finite (y itself, or a point above it, where a row has no y2 or bound),
so the gradient of the branch a row does not take is finite and multiplied by zero, never NaN.
"""

from __future__ import annotations

import jax.numpy as jnp

from hierax.model.families.cdf import DISTRIBUTIONS, log_interval
from hierax.model.spec import LEFT, NONE, RIGHT


def incomplete_loglik(family, density, y, params, aux, arrays):
    """Per row, the log-likelihood given ``density`` (log f(y) per row, constant included) and
    ``arrays["censoring"]`` ({"code", "y2"}) and/or ``arrays["truncation"]`` ({"lower", "upper"})."""
    distribution = DISTRIBUTIONS[family.name]
    out = density
    above = y + jnp.abs(y) + 1.0                    # a point above y: a stand-in upper end
    if "censoring" in arrays:
        code, y2 = arrays["censoring"]["code"], arrays["censoring"]["y2"]
        high = jnp.where(y2 > y, y2, above)
        out = jnp.select([code == NONE, code == RIGHT, code == LEFT],
                         [density, distribution.log_ccdf(y, params, aux), distribution.log_cdf(y, params, aux)],
                         log_interval(distribution, y, high, params, aux))
    if "truncation" in arrays:
        out = out - _log_normaliser(distribution, y, above, params, aux, arrays["truncation"])
    return out


def _log_normaliser(distribution, y, above, params, aux, truncation):
    """log P(lb <= Y <= ub) per row (0 where a row has no bound)."""
    lower, upper = truncation["lower"], truncation["upper"]
    has_lower, has_upper = jnp.isfinite(lower), jnp.isfinite(upper)
    low = lower - 1.0 if distribution.discrete else lower          # P(Y >= lb) = S(lb - 1) for counts
    both = has_lower & has_upper
    below = distribution.log_ccdf(jnp.where(has_lower, low, y), params, aux)
    within = distribution.log_cdf(jnp.where(has_upper, upper, y), params, aux)
    between = log_interval(distribution, jnp.where(both, low, y), jnp.where(both, upper, above), params, aux)
    return jnp.where(both, between, jnp.where(has_lower, below, jnp.where(has_upper, within, 0.0)))
