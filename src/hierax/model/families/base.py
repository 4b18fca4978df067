"""What a response family is: its distributional parameters (brms's dpars) and its functions.

Every family has the mean ``mu``, given by the model's linear predictor through a link; most have
more parameters (a residual sd, a shape, a precision, a zero-inflation probability). Each is a
:class:`Dpar`: its name (brms's, so brms users can copy their code), the link that maps it to
the real line, the support of its prior, a default prior and a starting value. A scalar dpar is
sampled on its link's scale, so the link is also its constraining map.

A family's functions all take the parameters by name, ``params = {"mu": Mu(eta, link),
"sigma": ..., ...}``, and the data a family needs besides the response (binomial trials) as
``aux``. ``mu`` arrives as its linear predictor with the link's name, since several kernels
have a stable form on the link scale (a logistic model's log p and log(1 - p) from one
softplus); the other parameters arrive as values. Normalising constants are kept (as in Stan's
``*_lpmf``): the kernel holds what depends on the parameters, ``log_constant`` what depends on
the data alone, which a sampler computes once per data set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import jax.numpy as jnp
import numpy as np
import scipy.special
from jax.scipy.special import gammaln as _jax_gammaln

from hierax.model.links import LINKS, Link


def softplus(a):
    """log(1 + e^a), stably: max(a, 0) + log1p(e^-|a|).

    ``jnp.logaddexp(0, a)`` (and ``jax.nn.softplus`` and ``log_sigmoid``, which call it) is the
    same function with branches for NaN and infinities that XLA's CPU backend does not vectorise:
    6 times slower in float64 (23 ms against 3.7 ms for 2.5 million values), and most of a
    logistic model's gradient at 100,000 rows.
    """
    return jnp.maximum(a, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(a)))


def log_sigmoid(a):
    """log(1 / (1 + e^-a)) by :func:`softplus`."""
    return -softplus(-a)


def logaddexp(a, b):
    """log(e^a + e^b) for finite a and b, by :func:`softplus` (see there why not jnp's)."""
    return jnp.maximum(a, b) + jnp.log1p(jnp.exp(-jnp.abs(a - b)))


class Mu(NamedTuple):
    """The mean's linear predictor ``eta`` (link scale) and the link's name."""

    eta: object
    link: str

    @property
    def value(self):
        """The mean on the response scale."""
        return LINKS[self.link].inverse(self.eta)


@dataclass(frozen=True)
class Dpar:
    """A distributional parameter besides the mean.

    Attributes
    ----------
    name : brms's name (``sigma``, ``shape``, ``nu``, ``phi``, ``zi``, ``hu``).
    link : maps the parameter to the real line: it is sampled on this scale, and a formula for it
        (distributional regression) predicts it on this scale.
    support : of its prior ("positive" or "unit"), checked against a user's prior.
    default_prior : ``scale -> Prior``, from the data's scale (see ``hierax.model.prior_rules``).
    start : ``(y, scale) -> value``, a crude starting value from the response and its scale.
    meaning : one line for the families table.
    lower : the support's lower end (0, or 1 for student's nu).
    """

    name: str
    link: str
    support: str
    default_prior: Callable
    start: Callable
    meaning: str = ""
    lower: float = 0.0          # the support's lower end: 1 for student's nu, whose prior is truncated there

    def sample_prior(self, rng_key, prior, tries: int = 64):
        """One draw from ``prior`` restricted to the support (a truncated prior, as brms's nu ~
        gamma(2, 0.1) with lower bound 1): the first of ``tries`` draws above ``lower``; NaN when
        none is, so a prior with almost no mass on the support shows as NaN, not as a wrong draw."""
        if self.lower <= 0.0:
            return prior.sample(rng_key)
        draws = prior.sample(rng_key, (tries,))
        inside = draws > self.lower
        return jnp.where(jnp.any(inside), draws[jnp.argmax(inside)], jnp.nan)


@dataclass(frozen=True)
class Family:
    """A response distribution.

    Attributes
    ----------
    name : registry key (brms's family name).
    links : links allowed for ``mu``; the first is the default.
    dpars : the other distributional parameters, :class:`Dpar` each.
    log_kernel : ``(y, params, aux) -> pointwise log density`` less the data-only part.
    log_constant : ``(y, aux) -> that part`` (per row, or 0); host arrays or traced ones.
    check : ``(y, aux) -> None``, raising DataError for responses the family cannot model.
    sample : ``(rng_key, params, aux) -> simulated responses``.
    mean : ``(params, aux) -> E[y]``, the expected response (brms's ``posterior_epred``).
    response : what the response is, for the families table and error messages.
    location : whether ``mu`` is a location on the response scale after ``transform`` (gaussian,
        student, lognormal on log y): its default priors then scale with the data's spread, and
        its starting fixed effects are least squares.
    transform : the scale on which a location family's response is a location (log for lognormal).
    needs_trials : the family reads ``aux["trials"]`` (binomial).
    collapsible : with the identity link, the group effects integrate out in closed form (the
        gaussian family: ``hierax.density.collapsed``) and REML/ML apply.
    separable : successes and failures, whose maximum likelihood estimate is infinite when the
        fixed effects separate them (``hierax.model.separation``).
    outcome : "continuous", "count" or "binary": how a posterior predictive check shows it.
    ordinal : ordered thresholds take the place of the mean's intercept (``params["thresholds"]``,
        K - 1 of them for categories 1..K: ``hierax.model.families.ordinal``).
    """

    name: str
    links: tuple
    dpars: tuple
    log_kernel: Callable
    log_constant: Callable
    check: Callable
    sample: Callable
    mean: Callable
    response: str
    location: bool = False
    transform: Callable = staticmethod(lambda y: y)
    needs_trials: bool = False
    collapsible: bool = False
    separable: bool = False
    outcome: str = "continuous"
    ordinal: bool = False

    def log_likelihood(self, y, params: dict, aux: dict | None = None):
        """Pointwise log density of ``y``, normalising constant included."""
        aux = aux or {}
        return self.log_kernel(y, params, aux) + self.log_constant(y, aux)

    @property
    def default_link(self) -> str:
        return self.links[0]

    @property
    def dpar_names(self) -> tuple:
        return tuple(d.name for d in self.dpars)

    def dpar(self, name: str) -> Dpar:
        return {d.name: d for d in self.dpars}[name]


def gammaln(x):
    """log Gamma(x): SciPy's on host arrays (no program to compile), JAX's on traced ones."""
    if isinstance(x, (np.ndarray, np.generic, float, int)):
        return scipy.special.gammaln(x)
    return _jax_gammaln(x)


def no_constant(y, aux):
    return 0.0


def factorial_constant(y, aux):
    """-log y!, the count families' data-only part."""
    return -gammaln(y + 1.0)


__all__ = ["Dpar", "Family", "Link", "Mu", "gammaln", "no_constant", "factorial_constant"]
