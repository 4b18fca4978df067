"""Response families and link functions, held in registries so a new family is one entry.

Each family gives the pointwise log-likelihood of the response given the linear predictor
``eta`` (on the link scale) and, for gaussian, the residual sd. Normalising constants are kept
(as in Stan's ``*_lpmf``/``*_lpdf``), so stored log-likelihoods are comparable across models.

The log-likelihood is a kernel, which depends on the parameters, plus a constant that depends on
the data alone (the log binomial coefficient, -log y!). A sampler computes the constant once per
data set (:func:`hierax.density.logdensity.model_arrays`) rather than in every gradient: 403
log-gamma functions were most of the cost of a poisson model's gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special
from jax.scipy.special import gammaln as _jax_gammaln
from jax.scipy.stats import norm

from hierax.errors import DataError, ModelError


@dataclass(frozen=True)
class Link:
    """A link function g with its inverse; ``eta = g(mu)``."""

    name: str
    inverse: Callable


LINKS = {
    "identity": Link("identity", lambda eta: eta),
    "logit": Link("logit", lambda eta: 1.0 / (1.0 + jnp.exp(-eta))),
    "probit": Link("probit", norm.cdf),
    "log": Link("log", jnp.exp),
}


def _gaussian(y, eta, sigma, trials, link):
    return norm.logpdf(y, loc=eta, scale=sigma)


def _log_p_success(eta, link):
    """log P(success) and log P(failure) computed stably on the link scale."""
    if link == "logit":
        # log q = log(1 - p) = log p - eta: one softplus, not two (each is an exp and a log1p,
        # the costliest operations of a logistic model's gradient)
        log_p = -jnp.logaddexp(0.0, -eta)
        return log_p, log_p - eta
    return norm.logcdf(eta), norm.logcdf(-eta)


def _bernoulli(y, eta, sigma, trials, link):
    log_p, log_q = _log_p_success(eta, link)
    return y * log_p + (1.0 - y) * log_q


def _binomial(y, eta, sigma, trials, link):
    log_p, log_q = _log_p_success(eta, link)
    return y * log_p + (trials - y) * log_q


def _poisson(y, eta, sigma, trials, link):
    return y * eta - jnp.exp(eta)


def gammaln(x):
    """log Gamma(x): SciPy's on host arrays (no program to compile), JAX's on traced ones."""
    if isinstance(x, (np.ndarray, np.generic, float, int)):
        return scipy.special.gammaln(x)
    return _jax_gammaln(x)


def _no_constant(y, trials):
    return 0.0


def _binomial_constant(y, trials):
    return gammaln(trials + 1.0) - gammaln(y + 1.0) - gammaln(trials - y + 1.0)


def _poisson_constant(y, trials):
    return -gammaln(y + 1.0)


def _check_gaussian(y, trials):
    pass


def _check_bernoulli(y, trials):
    if not np.all((y == 0) | (y == 1)):
        raise DataError("a bernoulli response must be 0/1, boolean or a two-level factor")


def _check_binomial(y, trials):
    if trials is None:
        raise DataError(
            "a binomial response needs the number of trials: write 'cbind(successes, failures) ~ ...' "
            "or 'successes | trials(n) ~ ...' (use family='bernoulli' for 0/1 data)"
        )
    if np.any(y < 0) or np.any(y != np.round(y)) or np.any(trials != np.round(trials)) or np.any(y > trials):
        raise DataError("binomial successes and trials must be whole numbers with 0 <= successes <= trials")


def _check_poisson(y, trials):
    if np.any(y < 0) or np.any(y != np.round(y)):
        raise DataError("a poisson response must be counts: whole numbers >= 0")


def _sample_gaussian(rng_key, eta, sigma, trials, link):
    return eta + sigma * jax.random.normal(rng_key, eta.shape)


def _sample_bernoulli(rng_key, eta, sigma, trials, link):
    return jax.random.bernoulli(rng_key, LINKS[link].inverse(eta)).astype(eta.dtype)


def _sample_binomial(rng_key, eta, sigma, trials, link):
    return jax.random.binomial(rng_key, trials, LINKS[link].inverse(eta)).astype(eta.dtype)


def _sample_poisson(rng_key, eta, sigma, trials, link):
    # Wide priors can put exp(eta) beyond any count; cap the rate so draws stay finite.
    return jax.random.poisson(rng_key, jnp.minimum(jnp.exp(eta), 1e9)).astype(eta.dtype)


@dataclass(frozen=True)
class Family:
    """A response distribution.

    Attributes
    ----------
    name : registry key.
    links : allowed links; the first is the default.
    has_sigma : whether the family has a residual sd parameter.
    log_kernel : ``(y, eta, sigma, trials, link_name) -> pointwise log density`` less the part
        that depends on the data alone,
    log_constant : ``(y, trials) -> that part`` (per row, or 0).
    check : ``(y, trials) -> None``, raising DataError for impossible responses.
    sample : ``(rng_key, eta, sigma, trials, link_name) -> simulated responses``.
    """

    name: str
    links: tuple
    has_sigma: bool
    log_kernel: Callable
    log_constant: Callable
    check: Callable
    sample: Callable

    def log_likelihood(self, y, eta, sigma, trials, link: str):
        """Pointwise log density of ``y``, normalising constant included."""
        return self.log_kernel(y, eta, sigma, trials, link) + self.log_constant(y, trials)

    @property
    def default_link(self) -> str:
        return self.links[0]


FAMILIES = {
    "gaussian": Family("gaussian", ("identity",), True, _gaussian, _no_constant, _check_gaussian, _sample_gaussian),
    "bernoulli": Family("bernoulli", ("logit", "probit"), False, _bernoulli, _no_constant, _check_bernoulli,
                        _sample_bernoulli),
    "binomial": Family("binomial", ("logit", "probit"), False, _binomial, _binomial_constant, _check_binomial,
                       _sample_binomial),
    "poisson": Family("poisson", ("log",), False, _poisson, _poisson_constant, _check_poisson, _sample_poisson),
}


def get_family(name: str, link: str | None = None) -> tuple[Family, Link]:
    """Look up a family and link by name, e.g. ``get_family("bernoulli", "probit")``.

    Raises
    ------
    ModelError
        Listing the known families, or the links the family allows.
    """
    if not isinstance(name, str) or name.lower() not in FAMILIES:
        raise ModelError(f"unknown family {name!r}; known families: {', '.join(FAMILIES)}")
    family = FAMILIES[name.lower()]
    link = family.default_link if link is None else link
    if link not in family.links:
        raise ModelError(f"family {family.name!r} has no link {link!r}; allowed: {', '.join(family.links)}")
    return family, LINKS[link]
