"""The gaussian, bernoulli, binomial and poisson families.

A binomial kernel's 403 log-gamma functions were most of the cost of a model's gradient until the
data-only part moved to ``log_constant`` (computed once per data set).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.stats import norm

from hierax.errors import DataError
from hierax.model.families.base import Dpar, Family, factorial_constant, gammaln, log_sigmoid, no_constant
from hierax.model.priors import Exponential
from hierax.model.prior_scale import significant


def residual_sd(meaning: str = "residual sd") -> Dpar:
    """``sigma`` > 0 with the log link: Exponential(1 / s) by default (mean s, the data's spread)."""
    return Dpar("sigma", "log", "positive", lambda scale: Exponential(significant(1.0 / scale)),
                lambda y, scale: scale, meaning)


def log_p_success(mu):
    """log P(success) and log P(failure) computed stably on the link scale."""
    if mu.link == "logit":
        # log q = log(1 - p) = log p - eta: one softplus, not two (each is an exp and a log1p,
        # the costliest operations of a logistic model's gradient)
        log_p = log_sigmoid(mu.eta)
        return log_p, log_p - mu.eta
    if mu.link == "probit":
        return norm.logcdf(mu.eta), norm.logcdf(-mu.eta)
    p = mu.value
    return jnp.log(p), jnp.log1p(-p)


def log_rate(mu):
    """log of a positive mean: eta itself under the log link."""
    return mu.eta if mu.link == "log" else jnp.log(mu.value)


def _gaussian(y, params, aux):
    return norm.logpdf(y, loc=params["mu"].value, scale=params["sigma"])


def _bernoulli(y, params, aux):
    log_p, log_q = log_p_success(params["mu"])
    return y * log_p + (1.0 - y) * log_q


def _binomial(y, params, aux):
    log_p, log_q = log_p_success(params["mu"])
    return y * log_p + (aux["trials"] - y) * log_q


def poisson_kernel(y, mu):
    """y log mu - mu, the poisson log pmf less -log y!."""
    return y * log_rate(mu) - mu.value


def _poisson(y, params, aux):
    return poisson_kernel(y, params["mu"])


def _binomial_constant(y, aux):
    trials = aux["trials"]
    return gammaln(trials + 1.0) - gammaln(y + 1.0) - gammaln(trials - y + 1.0)


def check_counts(name: str):
    def check(y, aux):
        if np.any(y < 0) or np.any(y != np.round(y)):
            bad = np.flatnonzero((y < 0) | (y != np.round(y)))
            raise DataError(f"a {name} response must be counts: whole numbers >= 0 ({_rows(bad)} "
                            f"{_verb(bad, 'is', 'are')} not); "
                            "for a continuous positive response use family='gamma' or 'lognormal'")
    return check


def _rows(index) -> str:
    """"row 3" or "rows 3, 8, ...": up to five row numbers, then how many more."""
    shown = ", ".join(str(i) for i in index[:5])
    return ("row " if len(index) == 1 else "rows ") + shown + (f" and {len(index) - 5} more" if len(index) > 5 else "")


def _verb(index, one: str, many: str) -> str:
    """The verb that agrees with :func:`_rows`: ``one`` for a single row."""
    return one if len(index) == 1 else many


def _check_gaussian(y, aux):
    pass


def _check_bernoulli(y, aux):
    if not np.all((y == 0) | (y == 1)):
        raise DataError("a bernoulli response must be 0/1, boolean or a two-level factor")


def _check_binomial(y, aux):
    trials = aux.get("trials")
    if trials is None:
        raise DataError(
            "a binomial response needs the number of trials: write 'cbind(successes, failures) ~ ...' "
            "or 'successes | trials(n) ~ ...' (use family='bernoulli' for 0/1 data)"
        )
    if np.any(y < 0) or np.any(y != np.round(y)) or np.any(trials != np.round(trials)) or np.any(y > trials):
        raise DataError("binomial successes and trials must be whole numbers with 0 <= successes <= trials")


def _sample_gaussian(rng_key, params, aux):
    mu = params["mu"].value
    return mu + params["sigma"] * jax.random.normal(rng_key, jnp.shape(mu))


def _sample_bernoulli(rng_key, params, aux):
    p = params["mu"].value
    return jax.random.bernoulli(rng_key, p).astype(p.dtype)


def _sample_binomial(rng_key, params, aux):
    p = params["mu"].value
    return jax.random.binomial(rng_key, aux["trials"], p).astype(p.dtype)


MAX_RATE = 1e9     # wide priors can put exp(eta) beyond any count; rates are capped so draws stay finite


def sample_poisson(rng_key, rate):
    return jax.random.poisson(rng_key, jnp.minimum(rate, MAX_RATE)).astype(jnp.result_type(rate, float))


def _sample_poisson(rng_key, params, aux):
    return sample_poisson(rng_key, params["mu"].value)


def _mean(params, aux):
    """The mean; a binomial model's is the success probability (per trial), as hierax predicts it."""
    return params["mu"].value


FAMILIES = {
    "gaussian": Family("gaussian", ("identity",), (residual_sd(),), _gaussian, no_constant, _check_gaussian,
                       _sample_gaussian, _mean, "real numbers", location=True, collapsible=True),
    "bernoulli": Family("bernoulli", ("logit", "probit"), (), _bernoulli, no_constant, _check_bernoulli,
                        _sample_bernoulli, _mean, "0/1", separable=True, outcome="binary"),
    "binomial": Family("binomial", ("logit", "probit"), (), _binomial, _binomial_constant,
                       _check_binomial, _sample_binomial, _mean, "successes out of trials",
                       needs_trials=True, separable=True, outcome="binary"),
    "poisson": Family("poisson", ("log",), (), _poisson, factorial_constant, check_counts("poisson"),
                      _sample_poisson, _mean, "counts", outcome="count"),
}
