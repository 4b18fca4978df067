"""Ordinal responses: the cumulative family (brms's ``cumulative``; ordinal's ``clmm``).

A latent y* = eta + e, e from the link's distribution (logistic or normal), is cut at ordered
thresholds c_1 < ... < c_{K-1}: y = k when c_{k-1} < y* <= c_k, so

    P(y <= k) = F(c_k - eta),    P(y = k) = F(c_k - eta) - F(c_{k-1} - eta),

with c_0 = -inf and c_K = +inf. The mean's formula has no intercept of its own: the thresholds
take its place (brms's ``Intercept[k]``, clmm's ``k|k+1``). The response holds the categories
as whole numbers 1..K, as brms takes them; K is the largest, and every category must occur.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.stats import norm

from hierax.errors import DataError
from hierax.model.families.base import Family, log_sigmoid, no_constant
from hierax.model.families.classic import _rows, _verb

_FAR = 1e10          # stands for an infinite threshold: F(+-1e10 - eta) is 1 or 0 in float64, and finite


def _log_cdf(x, link: str):
    return log_sigmoid(x) if link == "logit" else norm.logcdf(x)


def _cdf(x, link: str):
    return jax.nn.sigmoid(x) if link == "logit" else norm.cdf(x)


def _log1m_exp(x):
    """log(1 - e^x) for x <= 0, accurate near 0 and far below it."""
    return jnp.where(x > -0.6931, jnp.log(-jnp.expm1(jnp.minimum(x, -1e-300))), jnp.log1p(-jnp.exp(x)))


def extended_thresholds(thresholds):
    """(-far, c_1, ..., c_{K-1}, +far): category k's interval is (ext[k-1], ext[k])."""
    far = jnp.full(jnp.shape(thresholds)[:-1] + (1,), _FAR)
    return jnp.concatenate([-far, thresholds, far], axis=-1)


def category_log_probabilities(eta, thresholds, link: str):
    """log P(y = k | eta) for k = 1..K, shape eta.shape + (K,)."""
    cuts = extended_thresholds(thresholds)
    upper, lower = cuts[..., 1:] - eta[..., None], cuts[..., :-1] - eta[..., None]
    return _log_interval(upper, lower, link)


def _log_interval(upper, lower, link: str):
    """log(F(upper) - F(lower)), upper > lower, computed on whichever tail keeps its digits: the
    lower tail when the interval sits below the median, the upper one (F symmetric) above it."""
    below = upper + lower < 0
    a = jnp.where(below, upper, -lower)
    b = jnp.where(below, lower, -upper)
    log_a = _log_cdf(a, link)
    return log_a + _log1m_exp(_log_cdf(b, link) - log_a)


def _cumulative(y, params, aux):
    mu, thresholds = params["mu"], params["thresholds"]
    cuts = extended_thresholds(thresholds)
    k = jnp.asarray(y).astype(jnp.int32)
    upper = jnp.take_along_axis(jnp.broadcast_to(cuts, jnp.shape(mu.eta) + cuts.shape[-1:]), k[..., None], -1)[..., 0]
    lower = jnp.take_along_axis(jnp.broadcast_to(cuts, jnp.shape(mu.eta) + cuts.shape[-1:]), k[..., None] - 1,
                                -1)[..., 0]
    return _log_interval(upper - mu.eta, lower - mu.eta, mu.link)


def _sample(key, params, aux):
    mu, thresholds = params["mu"], params["thresholds"]
    logits = category_log_probabilities(mu.eta, thresholds, mu.link)
    return (jax.random.categorical(key, logits) + 1).astype(float)


def _mean(params, aux):
    """E[y] = sum_k k P(y = k): the expected category."""
    mu, thresholds = params["mu"], params["thresholds"]
    probabilities = jnp.exp(category_log_probabilities(mu.eta, thresholds, mu.link))
    return probabilities @ jnp.arange(1.0, probabilities.shape[-1] + 1.0)


def _check(y, aux):
    bad = np.flatnonzero((y < 1) | (y != np.round(y)))
    if len(bad):
        raise DataError(f"a cumulative (ordinal) response holds the categories as whole numbers 1, 2, ..., K; "
                        f"{_rows(bad)} {_verb(bad, 'is', 'are')} not. Recode the categories in their order as 1..K")
    counts = np.bincount(y.astype(int), minlength=int(y.max()) + 1)[1:]
    if len(counts) < 2:
        raise DataError("a cumulative (ordinal) response needs at least two categories")
    unused = [k + 1 for k, n in enumerate(counts) if n == 0]
    if unused:
        raise DataError(f"the ordinal response has no rows in categories {unused} of 1..{len(counts)}: their "
                        "thresholds cannot be estimated. Recode the categories as consecutive whole numbers 1..K "
                        "(merge or drop the empty ones)")


def num_thresholds(y) -> int:
    """K - 1 for a response with categories 1..K."""
    return int(np.max(y)) - 1


def threshold_start(y, link: str) -> np.ndarray:
    """Thresholds at the link of the cumulative proportions: F(c_k) = P(y <= k) without predictors."""
    counts = np.bincount(np.asarray(y, dtype=int), minlength=int(np.max(y)) + 1)[1:]
    cumulative = np.clip(np.cumsum(counts)[:-1] / counts.sum(), 0.01, 0.99)
    if link == "logit":
        return np.log(cumulative / (1.0 - cumulative))
    from scipy.stats import norm as scipy_norm

    return scipy_norm.ppf(cumulative)


FAMILIES = {
    "cumulative": Family("cumulative", ("logit", "probit"), (), _cumulative, no_constant, _check, _sample, _mean,
                         "ordered categories 1..K", outcome="count", ordinal=True),
}
