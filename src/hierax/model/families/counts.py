"""Overdispersed and zero-heavy counts: negative binomial, zero-inflated and hurdle families.

Parametrisations are brms's:

- ``negbinomial`` (NB2): mean ``mu``, ``shape`` phi: variance mu + mu^2 / phi (glmmTMB's
  ``nbinom2`` with its dispersion phi equal to ``shape``).
- ``zero_inflated_*``: with probability ``zi`` a structural zero, else the count distribution
  (which may give a zero too): P(0) = zi + (1 - zi) p(0).
- ``hurdle_*``: with probability ``hu`` a zero, else a draw from the count distribution
  truncated to y > 0: zeros and positive counts are separate processes.

``mu`` is always the mean of the untruncated, non-inflated count distribution.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hierax.model.families.base import Dpar, Family, factorial_constant, gammaln, logaddexp
from hierax.model.families.classic import MAX_RATE, check_counts, log_rate, poisson_kernel, sample_poisson
from hierax.model.families.continuous import SHAPE
from hierax.model.priors import Beta


def _zero_share(y, scale) -> float:
    share = float((y == 0).mean()) if len(y) else 0.5
    return min(max(share, 0.02), 0.98)


ZI = Dpar("zi", "logit", "unit", lambda scale: Beta(1.0, 1.0), lambda y, scale: 0.5 * _zero_share(y, scale),
          "zero-inflation probability")
HU = Dpar("hu", "logit", "unit", lambda scale: Beta(1.0, 1.0), _zero_share, "probability of a zero")
NB_SHAPE = Dpar("shape", "log", "positive", SHAPE.default_prior, lambda y, scale: 1.0, "shape (inverse overdispersion)")


def log1m_exp(x):
    """log(1 - e^x) for x < 0, accurate near 0 and far below it."""
    return jnp.where(x > -0.6931, jnp.log(-jnp.expm1(x)), jnp.log1p(-jnp.exp(x)))


def _log_mu_plus_shape(mu, shape):
    return logaddexp(log_rate(mu), jnp.log(shape))


def nb_kernel(y, mu, shape):
    """The NB2 log pmf less -log y!."""
    log_total = _log_mu_plus_shape(mu, shape)
    return (gammaln(y + shape) - gammaln(shape) + shape * (jnp.log(shape) - log_total)
            + y * (log_rate(mu) - log_total))


def nb_log_zero(mu, shape):
    """log P(y = 0) under NB2: shape (log shape - log(mu + shape))."""
    return shape * (jnp.log(shape) - _log_mu_plus_shape(mu, shape))


def _negbinomial(y, params, aux):
    return nb_kernel(y, params["mu"], params["shape"])


def _zero_inflated(y, log_p_zero, kernel, zi):
    """log p(y) of a zero-inflated count: zi + (1 - zi) p(0) at zero, (1 - zi) p(y) elsewhere."""
    at_zero = jnp.logaddexp(jnp.log(zi), jnp.log1p(-zi) + log_p_zero)
    return jnp.where(y == 0, at_zero, jnp.log1p(-zi) + kernel)


def _hurdle(y, log_p_zero, kernel, hu):
    """log p(y) of a hurdle count: hu at zero, (1 - hu) p(y) / (1 - p(0)) above it."""
    return jnp.where(y == 0, jnp.log(hu), jnp.log1p(-hu) + kernel - log1m_exp(log_p_zero))


def _zip(y, params, aux):
    mu = params["mu"]
    return _zero_inflated(y, -mu.value, poisson_kernel(y, mu), params["zi"])


def _zinb(y, params, aux):
    mu, shape = params["mu"], params["shape"]
    return _zero_inflated(y, nb_log_zero(mu, shape), nb_kernel(y, mu, shape), params["zi"])


def _hurdle_poisson(y, params, aux):
    mu = params["mu"]
    return _hurdle(y, -mu.value, poisson_kernel(y, mu), params["hu"])


def _hurdle_negbinomial(y, params, aux):
    mu, shape = params["mu"], params["shape"]
    return _hurdle(y, nb_log_zero(mu, shape), nb_kernel(y, mu, shape), params["hu"])


# ---- simulation

def sample_negbinomial(key, mu, shape):
    """NB2 as a gamma mixture of poissons: rate ~ Gamma(shape, shape / mu)."""
    gamma_key, poisson_key = jax.random.split(key)
    shape = jnp.broadcast_to(shape, jnp.shape(mu))
    return sample_poisson(poisson_key, jax.random.gamma(gamma_key, shape) * mu / shape)


def sample_positive_poisson(key, mu):
    """Poisson(mu) given y > 0, exactly: the first event of a unit-rate process on [0, mu] at time
    T (conditioned on one event at least: T = -log(1 - U (1 - e^-mu))), then Poisson(mu - T) more."""
    first_key, rest_key = jax.random.split(key)
    mu = jnp.minimum(mu, MAX_RATE)
    u = jax.random.uniform(first_key, jnp.shape(mu))
    first = -jnp.log1p(u * jnp.expm1(-mu))
    return 1.0 + sample_poisson(rest_key, jnp.maximum(mu - first, 0.0))


MAX_REJECTIONS = 10_000


def sample_positive_negbinomial(key, mu, shape):
    """NB2 given y > 0, by redrawing the zeros until none is left. Where P(y > 0) is so small
    that zeros remain after :data:`MAX_REJECTIONS` rounds (below 1e-4 or so), the draw is 1:
    the truncated distribution's limit as mu -> 0, off by about mu (1 + 1 / shape) / 2."""

    def redraw(state):
        round_key, y, i = state
        round_key, sub = jax.random.split(round_key)
        fresh = sample_negbinomial(sub, mu, shape)
        return round_key, jnp.where(y == 0, fresh, y), i + 1

    def zeros_left(state):
        return jnp.any(state[1] == 0) & (state[2] < MAX_REJECTIONS)

    _, y, _ = jax.lax.while_loop(zeros_left, redraw, (key, jnp.zeros(jnp.shape(mu)), 0))
    return jnp.where(y == 0, 1.0, y)


def _sample_negbinomial(key, params, aux):
    return sample_negbinomial(key, params["mu"].value, params["shape"])


def _inflate(key, draws_fn, probability, shape):
    inflate_key, count_key = jax.random.split(key)
    zero = jax.random.bernoulli(inflate_key, jnp.broadcast_to(probability, shape))
    return jnp.where(zero, 0.0, draws_fn(count_key))


def _sample_zip(key, params, aux):
    mu = params["mu"].value
    return _inflate(key, lambda k: sample_poisson(k, mu), params["zi"], jnp.shape(mu))


def _sample_zinb(key, params, aux):
    mu = params["mu"].value
    return _inflate(key, lambda k: sample_negbinomial(k, mu, params["shape"]), params["zi"], jnp.shape(mu))


def _sample_hurdle_poisson(key, params, aux):
    mu = params["mu"].value
    return _inflate(key, lambda k: sample_positive_poisson(k, mu), params["hu"], jnp.shape(mu))


def _sample_hurdle_negbinomial(key, params, aux):
    mu = params["mu"].value
    return _inflate(key, lambda k: sample_positive_negbinomial(k, mu, params["shape"]), params["hu"], jnp.shape(mu))


# ---- means

def _mean(params, aux):
    return params["mu"].value


def _zi_mean(params, aux):
    return (1.0 - params["zi"]) * params["mu"].value


def _hurdle_poisson_mean(params, aux):
    mu = params["mu"].value
    return (1.0 - params["hu"]) * mu / -jnp.expm1(-mu)


def _hurdle_negbinomial_mean(params, aux):
    mu = params["mu"]
    return (1.0 - params["hu"]) * mu.value / -jnp.expm1(nb_log_zero(mu, params["shape"]))


FAMILIES = {
    "negbinomial": Family("negbinomial", ("log",), (NB_SHAPE,), _negbinomial, factorial_constant,
                          check_counts("negbinomial"), _sample_negbinomial, _mean, "overdispersed counts", outcome="count"),
    "zero_inflated_poisson": Family("zero_inflated_poisson", ("log",), (ZI,), _zip, factorial_constant,
                                    check_counts("zero_inflated_poisson"), _sample_zip, _zi_mean,
                                    "counts with extra zeros", outcome="count"),
    "zero_inflated_negbinomial": Family("zero_inflated_negbinomial", ("log",), (NB_SHAPE, ZI), _zinb,
                                        factorial_constant, check_counts("zero_inflated_negbinomial"), _sample_zinb,
                                        _zi_mean, "overdispersed counts with extra zeros", outcome="count"),
    "hurdle_poisson": Family("hurdle_poisson", ("log",), (HU,), _hurdle_poisson, factorial_constant,
                             check_counts("hurdle_poisson"), _sample_hurdle_poisson, _hurdle_poisson_mean,
                             "counts: zeros and positive counts from separate processes", outcome="count"),
    "hurdle_negbinomial": Family("hurdle_negbinomial", ("log",), (NB_SHAPE, HU), _hurdle_negbinomial,
                                 factorial_constant, check_counts("hurdle_negbinomial"), _sample_hurdle_negbinomial,
                                 _hurdle_negbinomial_mean, "overdispersed counts: zeros and positive counts apart", outcome="count"),
}
