"""Continuous families beyond the gaussian: student, lognormal, gamma, weibull, exponential, beta.

Parametrisations are brms's, so that a brms user's model means the same here:

- ``student``: y ~ Student-t(nu, mu, sigma), nu > 1 (the ``logm1`` link), so the mean exists.
- ``lognormal``: log y ~ N(mu, sigma): ``mu`` and ``sigma`` are the mean and sd of log y.
- ``gamma``: mean ``mu``, ``shape`` a: y ~ Gamma(a, rate = a / mu), variance mu^2 / a.
- ``weibull``: mean ``mu``, ``shape`` k: scale mu / Gamma(1 + 1/k).
- ``exponential``: mean ``mu``.
- ``beta``: mean ``mu`` in (0, 1), precision ``phi``: y ~ Beta(mu phi, (1 - mu) phi), variance
  mu (1 - mu) / (1 + phi).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import betaln
from jax.scipy.stats import norm

from hierax.errors import DataError
from hierax.model.families.base import Dpar, Family, gammaln, no_constant
from hierax.model.families.classic import _rows, _verb, log_rate, residual_sd
from hierax.model.priors import Gamma

_VAGUE_SHAPE = Gamma(0.01, 0.01)        # brms's default for a family's shape and precision


def _clip(value, low, high) -> float:
    value = float(value)
    return float(np.clip(value, low, high)) if np.isfinite(value) else float(np.sqrt(low * high))


def _moment_shape(y, scale) -> float:
    """mean^2 / variance: the gamma shape of the response's first two moments."""
    return _clip(np.mean(y) ** 2 / max(np.var(y), 1e-12), 0.1, 100.0)


def _moment_precision(y, scale) -> float:
    """mu (1 - mu) / variance - 1: the beta precision of the response's first two moments."""
    mean = float(np.mean(y))
    return _clip(mean * (1.0 - mean) / max(np.var(y), 1e-12) - 1.0, 0.5, 1000.0)


NU = Dpar("nu", "logm1", "positive", lambda scale: Gamma(2.0, 0.1), lambda y, scale: 10.0,
          "degrees of freedom (> 1)", lower=1.0)
SHAPE = Dpar("shape", "log", "positive", lambda scale: _VAGUE_SHAPE, _moment_shape, "shape")
PHI = Dpar("phi", "log", "positive", lambda scale: _VAGUE_SHAPE, _moment_precision, "precision")


def check_positive(name: str, hint: str):
    def check(y, aux):
        bad = np.flatnonzero(~(y > 0))
        if len(bad):
            raise DataError(f"a {name} response must be positive (> 0); {_rows(bad)} {_verb(bad, 'is', 'are')} "
                            f"not. {hint}")
    return check


def _check_unit(y, aux):
    bad = np.flatnonzero(~((y > 0) & (y < 1)))
    if len(bad):
        raise DataError(f"a beta response must lie strictly between 0 and 1; {_rows(bad)} "
                        f"{_verb(bad, 'does', 'do')} not. For proportions "
                        "that include 0 or 1 use family='binomial' with the counts, or shrink the values to the open "
                        "interval first, e.g. (y * (n - 1) + 0.5) / n for n rows (Smithson and Verkuilen 2006)")


def _check_real(y, aux):
    pass


# ---- log densities

def _student(y, params, aux):
    """Student-t's log density through log B(1/2, nu/2), which stays exact as nu grows (JAX's t.logpdf
    subtracts two log-gammas of size nu log nu and lost every digit near nu = 1e28, where an
    optimiser then found a spurious optimum)."""
    nu, sigma = params["nu"], params["sigma"]
    z = (y - params["mu"].value) / sigma
    return -0.5 * jnp.log(nu) - betaln(0.5, 0.5 * nu) - jnp.log(sigma) - 0.5 * (nu + 1.0) * jnp.log1p(z * z / nu)


def _lognormal(y, params, aux):
    return norm.logpdf(jnp.log(y), params["mu"].value, params["sigma"])


def _minus_log_y(y, aux):
    """-log y, the lognormal's Jacobian from log y to y: NumPy's on host arrays, JAX's on traced ones."""
    return -np.log(y) if isinstance(y, (np.ndarray, np.generic, float)) else -jnp.log(y)


def _gamma(y, params, aux):
    a, mu = params["shape"], params["mu"]
    return a * (jnp.log(a) - log_rate(mu)) - gammaln(a) + (a - 1.0) * jnp.log(y) - a * y / mu.value


def _exponential(y, params, aux):
    mu = params["mu"]
    return -log_rate(mu) - y / mu.value


def _weibull_log_scale(params):
    k = params["shape"]
    return log_rate(params["mu"]) - gammaln(1.0 + 1.0 / k)


def _weibull(y, params, aux):
    k, log_scale = params["shape"], _weibull_log_scale(params)
    log_y = jnp.log(y)
    return jnp.log(k) + (k - 1.0) * log_y - k * log_scale - jnp.exp(k * (log_y - log_scale))


def _beta(y, params, aux):
    mu, phi = params["mu"].value, params["phi"]
    a, b = mu * phi, (1.0 - mu) * phi
    return gammaln(phi) - gammaln(a) - gammaln(b) + (a - 1.0) * jnp.log(y) + (b - 1.0) * jnp.log1p(-y)


# ---- simulation and means

def _sample_student(key, params, aux):
    mu = params["mu"].value
    return mu + params["sigma"] * jax.random.t(key, params["nu"], jnp.shape(mu))


def _sample_lognormal(key, params, aux):
    mu = params["mu"].value
    return jnp.exp(mu + params["sigma"] * jax.random.normal(key, jnp.shape(mu)))


def _sample_gamma(key, params, aux):
    mu, a = params["mu"].value, params["shape"]
    a = jnp.broadcast_to(a, jnp.shape(mu))
    return jax.random.gamma(key, a) * mu / a


def _sample_exponential(key, params, aux):
    mu = params["mu"].value
    return mu * jax.random.exponential(key, jnp.shape(mu))


def _sample_weibull(key, params, aux):
    mu = params["mu"].value
    k = jnp.broadcast_to(params["shape"], jnp.shape(mu))
    return jnp.exp(_weibull_log_scale(params)) * jax.random.exponential(key, jnp.shape(mu)) ** (1.0 / k)


def _sample_beta(key, params, aux):
    mu, phi = params["mu"].value, params["phi"]
    return jax.random.beta(key, mu * phi, (1.0 - mu) * phi)


def _mean(params, aux):
    return params["mu"].value


def _lognormal_mean(params, aux):
    return jnp.exp(params["mu"].value + 0.5 * params["sigma"] ** 2)


_POSITIVE_HINT = "Drop or recode the non-positive rows, or use a family for real numbers such as 'gaussian'."

FAMILIES = {
    "student": Family("student", ("identity",), (residual_sd("scale"), NU), _student, no_constant, _check_real,
                      _sample_student, _mean, "real numbers, heavy tails", location=True),
    "lognormal": Family("lognormal", ("identity",), (residual_sd("sd of log y"),), _lognormal, _minus_log_y,
                        check_positive("lognormal", _POSITIVE_HINT), _sample_lognormal, _lognormal_mean,
                        "positive, right-skewed", location=True, transform=np.log),
    "gamma": Family("gamma", ("log",), (SHAPE,), _gamma, no_constant, check_positive("gamma", _POSITIVE_HINT),
                    _sample_gamma, _mean, "positive, right-skewed"),
    "weibull": Family("weibull", ("log",), (SHAPE,), _weibull, no_constant, check_positive("weibull", _POSITIVE_HINT),
                      _sample_weibull, _mean, "positive (times to an event)"),
    "exponential": Family("exponential", ("log",), (), _exponential, no_constant,
                          check_positive("exponential", _POSITIVE_HINT), _sample_exponential, _mean,
                          "positive (times to an event)"),
    "beta": Family("beta", ("logit", "probit"), (PHI,), _beta, no_constant, _check_unit, _sample_beta, _mean,
                   "proportions in (0, 1)"),
}
