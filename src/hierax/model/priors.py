"""Prior distributions: a small, backend-neutral description with a JAX log density and a sampler.

Parameters are checked when a prior is made, so a bad prior fails where it is written.
Half-distributions are the distribution restricted to positive values and renormalised.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import stats

from hierax.errors import ModelError


def _is_number(value) -> bool:
    """A real number: Python's or NumPy's (``np.float32(2)``, ``np.int64(3)``), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _positive(prior: str, **values):
    for name, value in values.items():
        if not _is_number(value) or not math.isfinite(value) or value <= 0:
            raise ModelError(f"{prior}: {name} must be a positive number, got {value!r}")


def _finite(prior: str, **values):
    for name, value in values.items():
        if not _is_number(value) or not math.isfinite(value):
            raise ModelError(f"{prior}: {name} must be a finite number, got {value!r}")


def _as_floats(prior) -> None:
    """Store a checked prior's numbers as Python floats, so that NumPy scalars print and compare as numbers."""
    for f in fields(prior):
        object.__setattr__(prior, f.name, float(getattr(prior, f.name)))


class Prior:
    """Base class. ``support`` is "real", "positive", "unit" (0 to 1) or "correlation"."""

    support = "real"

    def logpdf(self, x):
        raise NotImplementedError

    def sample(self, rng_key, shape=()):
        raise NotImplementedError


@dataclass(frozen=True)
class Normal(Prior):
    """Normal(mu, sigma), sigma the standard deviation."""

    mu: float = 0.0
    sigma: float = 1.0

    def __post_init__(self):
        _finite("Normal", mu=self.mu)
        _positive("Normal", sigma=self.sigma)
        _as_floats(self)

    def logpdf(self, x):
        return stats.norm.logpdf(x, self.mu, self.sigma)

    def sample(self, rng_key, shape=()):
        return self.mu + self.sigma * jax.random.normal(rng_key, shape)

    def __str__(self):
        return f"Normal({self.mu:g}, {self.sigma:g})"


@dataclass(frozen=True)
class StudentT(Prior):
    """Student-t with ``df`` degrees of freedom, location ``mu`` and scale ``sigma``."""

    df: float = 3.0
    mu: float = 0.0
    sigma: float = 1.0

    def __post_init__(self):
        _positive("StudentT", df=self.df, sigma=self.sigma)
        _finite("StudentT", mu=self.mu)
        _as_floats(self)

    def logpdf(self, x):
        return stats.t.logpdf(x, self.df, self.mu, self.sigma)

    def sample(self, rng_key, shape=()):
        return self.mu + self.sigma * jax.random.t(rng_key, self.df, shape)

    def __str__(self):
        return f"StudentT({self.df:g}, {self.mu:g}, {self.sigma:g})"


@dataclass(frozen=True)
class HalfNormal(Prior):
    """|Normal(0, sigma)|."""

    sigma: float = 1.0
    support = "positive"

    def __post_init__(self):
        _positive("HalfNormal", sigma=self.sigma)
        _as_floats(self)

    def logpdf(self, x):
        return jnp.log(2.0) + stats.norm.logpdf(x, 0.0, self.sigma)

    def sample(self, rng_key, shape=()):
        return jnp.abs(self.sigma * jax.random.normal(rng_key, shape))

    def __str__(self):
        return f"HalfNormal({self.sigma:g})"


@dataclass(frozen=True)
class HalfStudentT(Prior):
    """|StudentT(df, 0, sigma)|."""

    df: float = 3.0
    sigma: float = 1.0
    support = "positive"

    def __post_init__(self):
        _positive("HalfStudentT", df=self.df, sigma=self.sigma)
        _as_floats(self)

    def logpdf(self, x):
        return jnp.log(2.0) + stats.t.logpdf(x, self.df, 0.0, self.sigma)

    def sample(self, rng_key, shape=()):
        return jnp.abs(self.sigma * jax.random.t(rng_key, self.df, shape))

    def __str__(self):
        return f"HalfStudentT({self.df:g}, {self.sigma:g})"


@dataclass(frozen=True)
class HalfCauchy(Prior):
    """|Cauchy(0, scale)|."""

    scale: float = 1.0
    support = "positive"

    def __post_init__(self):
        _positive("HalfCauchy", scale=self.scale)
        _as_floats(self)

    def logpdf(self, x):
        return jnp.log(2.0) + stats.cauchy.logpdf(x, 0.0, self.scale)

    def sample(self, rng_key, shape=()):
        return jnp.abs(self.scale * jax.random.cauchy(rng_key, shape))

    def __str__(self):
        return f"HalfCauchy({self.scale:g})"


@dataclass(frozen=True)
class Exponential(Prior):
    """Exponential with ``rate`` (mean 1/rate)."""

    rate: float = 1.0
    support = "positive"

    def __post_init__(self):
        _positive("Exponential", rate=self.rate)
        _as_floats(self)

    def logpdf(self, x):
        return jnp.log(self.rate) - self.rate * x

    def sample(self, rng_key, shape=()):
        return jax.random.exponential(rng_key, shape) / self.rate

    def __str__(self):
        return f"Exponential({self.rate:g})"


@dataclass(frozen=True)
class Gamma(Prior):
    """Gamma with ``alpha`` (shape) and ``beta`` (rate): mean alpha / beta, as Stan's and brms's
    ``gamma(alpha, beta)`` (brms's default for a family's shape and precision is Gamma(0.01, 0.01))."""

    alpha: float = 1.0
    beta: float = 1.0
    support = "positive"

    def __post_init__(self):
        _positive("Gamma", alpha=self.alpha, beta=self.beta)
        _as_floats(self)

    def logpdf(self, x):
        return stats.gamma.logpdf(x, self.alpha, scale=1.0 / self.beta)

    def sample(self, rng_key, shape=()):
        return jax.random.gamma(rng_key, self.alpha, shape) / self.beta

    def __str__(self):
        return f"Gamma({self.alpha:g}, {self.beta:g})"


@dataclass(frozen=True)
class Beta(Prior):
    """Beta(a, b) on (0, 1): for probabilities such as a zero-inflation or hurdle probability
    (brms's default for ``zi`` and ``hu`` is Beta(1, 1))."""

    a: float = 1.0
    b: float = 1.0
    support = "unit"

    def __post_init__(self):
        _positive("Beta", a=self.a, b=self.b)
        _as_floats(self)

    def logpdf(self, x):
        return stats.beta.logpdf(x, self.a, self.b)

    def sample(self, rng_key, shape=()):
        return jax.random.beta(rng_key, self.a, self.b, shape)

    def __str__(self):
        return f"Beta({self.a:g}, {self.b:g})"


@dataclass(frozen=True)
class LKJ(Prior):
    """LKJ(eta) on a correlation matrix, used through its Cholesky factor.

    eta = 1 is uniform over correlation matrices; eta > 1 favours weaker correlations.
    """

    eta: float = 1.0
    support = "correlation"

    def __post_init__(self):
        _positive("LKJ", eta=self.eta)
        _as_floats(self)

    def logpdf_cholesky(self, L):
        """Unnormalised log density of the Cholesky factor L of a K x K correlation matrix.

        log p(L) = sum_{i=2..K} (K - i + 2 eta - 2) log L_ii (Lewandowski, Kurowicka and Joe
        2009; the Cholesky form as in Stan's ``lkj_corr_cholesky``). The normalising constant
        depends only on eta and K, which are fixed, so it is left out.
        """
        K = L.shape[-1]
        exponents = K - jnp.arange(2, K + 1) + 2.0 * self.eta - 2.0
        return jnp.sum(exponents * jnp.log(jnp.diagonal(L, axis1=-2, axis2=-1)[..., 1:]), axis=-1)

    def sample_cholesky(self, rng_key, dim: int):
        """One draw of L by the C-vine method (Lewandowski, Kurowicka and Joe 2009, sec. 2.4).

        The partial correlation of (i, j) given 0..j-1 (0-based, j < i) is 2 Beta(a, a) - 1 with
        a = eta + (K - 2 - j) / 2; row i of L is built from those partial correlations by the
        same map that turns unconstrained values into L in ``density.transforms``.
        """
        K = dim
        keys = jax.random.split(rng_key, max(K * (K - 1) // 2, 1))
        L = jnp.zeros((K, K)).at[0, 0].set(1.0)
        k = 0
        for i in range(1, K):
            remaining = 1.0
            for j in range(i):
                b = self.eta + (K - 2 - j) / 2.0
                cpc = 2.0 * jax.random.beta(keys[k], b, b) - 1.0
                k += 1
                L = L.at[i, j].set(cpc * jnp.sqrt(remaining))
                remaining = remaining - L[i, j] ** 2
            L = L.at[i, i].set(jnp.sqrt(remaining))
        return L

    def __str__(self):
        return f"LKJ({self.eta:g})"


PRIOR_TYPES = {cls.__name__: cls for cls in (Normal, StudentT, HalfNormal, HalfStudentT, HalfCauchy, Exponential, Gamma,
                                            Beta, LKJ)}


def _register_pytree(cls):
    """A prior is a pytree of its numbers (its class is the structure), so that a compiled density
    can take priors as runtime arguments: the same model refitted to new data, whose default priors
    scale with the data, reuses the compiled sampler. Unflattening bypasses ``__init__`` because
    the leaves may be tracers, which the checks of ``__post_init__`` would refuse."""
    names = tuple(f.name for f in fields(cls))

    def flatten(prior):
        return tuple(getattr(prior, name) for name in names), None

    def unflatten(_, values):
        prior = object.__new__(cls)
        for name, value in zip(names, values):
            object.__setattr__(prior, name, value)
        return prior

    jax.tree_util.register_pytree_node(cls, flatten, unflatten)


for _cls in PRIOR_TYPES.values():
    _register_pytree(_cls)
