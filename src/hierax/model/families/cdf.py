"""Log distribution functions of the families that take censored or truncated responses.

Each entry gives log F(y) = log P(Y <= y) and log S(y) = log P(Y > y) (Stan's ``_lcdf`` and
``_lccdf``, which brms's censored and truncated likelihoods call), with the family's parameters
as its kernel takes them (``hierax.model.families.base``), and the lower end of the family's
support. For a count family P(Y > y) excludes y itself, so a lower truncation bound lb enters as
S(lb - 1) = P(Y >= lb), as brms writes it.

Parametrisations are brms's: gaussian and lognormal (mean and sd of y or log y); exponential
with mean mu (rate 1/mu); weibull with shape k and mean mu (scale mu / Gamma(1 + 1/k)); gamma
with shape a and mean mu (rate a/mu); poisson with mean mu; negative binomial with mean mu and
shape phi. Where JAX has no derivative of a special function in a parameter (the regularised
incomplete beta in its first argument, which the negative binomial's F needs for phi), F is
the sum of the probabilities of 0..y over a grid of counts fixed when the model is built
(``aux["count_grid"]``).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax.numpy as jnp
from jax.scipy.special import gammainc, gammaincc, log_ndtr, logsumexp

from hierax.model.families.base import gammaln
from hierax.model.families.classic import log_rate
from hierax.model.families.counts import log1m_exp, nb_kernel

COUNT_GRID_LIMIT = 20_000       # counts summed over at most: a larger censoring point is refused


class Distribution(NamedTuple):
    """log F and log S of a family, ``(y, params, aux) -> per row``, and its support's lower end."""

    log_cdf: Callable
    log_ccdf: Callable
    lower: float
    discrete: bool = False
    needs_grid: bool = False        # F sums the probabilities of a grid of counts (aux["count_grid"])


def _standard(y, params):
    return (y - params["mu"].value) / params["sigma"]


def _log_standard(y, params):
    return (jnp.log(y) - params["mu"].value) / params["sigma"]


def _exponential_hazard(y, params):
    """The cumulative hazard H(y) = y / mu: S = exp(-H)."""
    return y * jnp.exp(-log_rate(params["mu"]))


def _weibull_hazard(y, params):
    """H(y) = (y / scale)^k, scale = mu / Gamma(1 + 1/k)."""
    k = params["shape"]
    log_scale = log_rate(params["mu"]) - gammaln(1.0 + 1.0 / k)
    return jnp.exp(k * (jnp.log(y) - log_scale))


def _hazard_family(hazard) -> Distribution:
    return Distribution(lambda y, p, aux: log1m_exp(-hazard(y, p)), lambda y, p, aux: -hazard(y, p), 0.0)


def _gamma_x(y, params):
    return params["shape"] * y * jnp.exp(-log_rate(params["mu"]))


def _nb_log_cdf(y, params, aux):
    """log sum_{k <= y} p(k): the grid's probabilities, those above y masked out."""
    grid = aux["count_grid"][None, :]
    mu = params["mu"]
    shape = params["shape"]
    log_p = nb_kernel(grid, _column(mu), _expand(shape)) - gammaln(grid + 1.0)
    return logsumexp(jnp.where(grid <= jnp.expand_dims(y, -1), log_p, -jnp.inf), axis=-1)


def _column(mu):
    return type(mu)(jnp.expand_dims(mu.eta, -1), mu.link)


def _expand(value):
    return jnp.expand_dims(jnp.asarray(value), -1)


DISTRIBUTIONS = {
    "gaussian": Distribution(lambda y, p, aux: log_ndtr(_standard(y, p)),
                             lambda y, p, aux: log_ndtr(-_standard(y, p)), -jnp.inf),
    "lognormal": Distribution(lambda y, p, aux: log_ndtr(_log_standard(y, p)),
                              lambda y, p, aux: log_ndtr(-_log_standard(y, p)), 0.0),
    "exponential": _hazard_family(_exponential_hazard),
    "weibull": _hazard_family(_weibull_hazard),
    "gamma": Distribution(lambda y, p, aux: jnp.log(gammainc(p["shape"], _gamma_x(y, p))),
                          lambda y, p, aux: jnp.log(gammaincc(p["shape"], _gamma_x(y, p))), 0.0),
    "poisson": Distribution(lambda y, p, aux: jnp.log(gammaincc(y + 1.0, p["mu"].value)),
                            lambda y, p, aux: jnp.log(gammainc(y + 1.0, p["mu"].value)), 0.0, discrete=True),
    "negbinomial": Distribution(_nb_log_cdf, lambda y, p, aux: log1m_exp(_nb_log_cdf(y, p, aux)), 0.0,
                                discrete=True, needs_grid=True),
}


def log_interval(distribution: Distribution, low, high, params, aux):
    """log P(low < Y <= high) = log(F(high) - F(low)), by whichever of F and S keeps its digits:
    F in the lower half of the distribution, S = 1 - F in the upper."""
    log_f_high, log_f_low = distribution.log_cdf(high, params, aux), distribution.log_cdf(low, params, aux)
    by_cdf = log_f_high + log1m_exp(jnp.minimum(log_f_low - log_f_high, -1e-300))
    log_s_low, log_s_high = distribution.log_ccdf(low, params, aux), distribution.log_ccdf(high, params, aux)
    by_ccdf = log_s_low + log1m_exp(jnp.minimum(log_s_high - log_s_low, -1e-300))
    return jnp.where(log_f_high < jnp.log(0.5), by_cdf, by_ccdf)
