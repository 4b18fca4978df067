"""How the variance of a response divides between its fixed part, each grouping factor and the
rows: variance components, intraclass correlations and R² (Nakagawa, Johnson & Schielzeth 2017,
"The coefficient of determination R² and intra-class correlation coefficient from generalized
linear mixed-effects models revisited"; as R's ``performance`` and ``insight`` compute them).

On the latent (link) scale, with the fixed effects beta, each grouping factor's covariance
Sigma_k of its terms Z_k and the family's residual variance:

    var_fixed    = the variance over the rows of X beta                  (= beta' cov(X) beta)
    var_random_k = the mean over the rows of z_ik' Sigma_k z_ik          (Johnson 2014: tau^2 for
                   a random intercept; with slopes, the variance at the data's own z)
    var_residual = sigma^2 (gaussian; lognormal, a gaussian model of log y), or the family's
                   distribution-specific variance on the link scale (``DISTRIBUTION_VARIANCE``,
                   as insight 0.19.0 computes it): pi^2/3 for the logit, 1 for the probit and
                   pi^2/6 for the cloglog (binary, binomial and cumulative); log(1 + 1/mu) for
                   the poisson and log(1 + 1/mu + 1/shape) for the negative binomial (log link),
                   mu = exp(b0) with b0 the intercept of the null model (the same group terms,
                   an intercept alone) refitted by Laplace; 1/shape for the gamma (log link).
                   The shape is the full model's.

    ICC adjusted   = sum_k var_random_k / (sum_k var_random_k + var_residual)
    ICC unadjusted = sum_k var_random_k / (var_fixed + sum_k var_random_k + var_residual)
    R² marginal    = var_fixed / total,   R² conditional = (var_fixed + sum_k var_random_k) / total

A REML, ML or Laplace fit gives the values at its estimates; a NUTS fit gives them at every draw,
so their posterior means and intervals (the family's shape or phi at each draw; the null model's
intercept, where needed, from its Laplace fit). Families without a distribution-specific variance
here (``NOT_DEFINED``: student, beta, zero-inflated and hurdle counts, weibull, exponential)
are refused with the reason, not approximated silently. The formulas are insight 0.19.0's, which
the references record (tests/reference/variance_decomposition.R, variance_families.R); insight
0.20 (2024) revised several of them (the beta's mu and variance, the negative binomial's); hierax
refuses the beta, whose 0.19.0 formula is not one the literature gives.
"""

from __future__ import annotations

import weakref
from typing import Callable, NamedTuple

import numpy as np
import pandas as pd

from hierax.errors import ModelError
from hierax.model.layout import RESIDUAL_SD


class Components(NamedTuple):
    """Variances on the latent scale, each a scalar or one value per draw: ``fixed``, ``random``
    ({grouping factor: variance}) and ``residual`` (the distribution's and any dispersion's)."""

    fixed: np.ndarray
    random: dict
    residual: np.ndarray

    @property
    def total_random(self):
        return sum(self.random.values())

    @property
    def total(self):
        return self.fixed + self.total_random + self.residual


class Distribution(NamedTuple):
    """A family's distribution-specific variance on the link scale: ``variance(dpars, b0)`` from
    its parameters besides the mean ({brms name: value or draws}: ``sigma``, ``shape``, ``phi``) and
    ``b0``, the intercept of the null model (None where ``null_model`` is False: not needed)."""

    variance: Callable
    null_model: bool = False


def _log_normal(variance_over_mu2):
    """Nakagawa et al.'s (2017) lognormal approximation log(1 + V(mu)/mu^2)."""
    return np.log1p(variance_over_mu2)


def _poisson(dpars, b0):
    """log(1 + 1/mu), mu = exp(b0) (insight: ``family(m)$variance(mu) / mu^2``)."""
    return _log_normal(np.exp(-b0))


def _negbinomial(dpars, b0):
    """log(1 + 1/mu + 1/theta): V(mu) = mu + mu^2/theta over mu^2, mu = exp(b0) of the null model,
    theta (brms's and hierax's ``shape``, glmmTMB's nbinom2 ``sigma(m)``) the FULL model's, at each
    draw for a NUTS fit (insight's ``.variance_family_nbinom``: ``family(m)$variance(mu, sig)``,
    sig = ``sigma(m)``; lme4's glmer.nb reaches the same mu (1 + mu/theta) through
    ``.variance_family_default`` with ``getME(m, "glmer.nb.theta")``)."""
    return _log_normal(np.exp(-b0) + 1.0 / np.asarray(dpars["shape"]))


def _gamma(dpars, b0):
    """1/shape: insight 0.19.0 takes ``family(m)$variance(sigma(m))`` = sigma^2 with glmmTMB's
    sigma = 1/sqrt(shape), the full model's shape, with no null model and no log1p (not
    Nakagawa et al.'s log(1 + 1/shape) nor their trigamma(shape), which it approaches for a large
    shape: 1/shape - log1p(1/shape) is about 1/(2 shape^2))."""
    return 1.0 / np.asarray(dpars["shape"])


def _sigma_squared(dpars, b0):
    return np.asarray(dpars[RESIDUAL_SD]) ** 2


def _constant(value):
    return lambda dpars, b0: value


# (family, link) -> its distribution-specific variance on the link scale (Nakagawa et al. 2017,
# Table 1, as insight 0.19.0's ``.compute_variance_distribution`` computes it: see each function)
DISTRIBUTION_VARIANCE: dict[tuple, Distribution] = {
    ("gaussian", "identity"): Distribution(_sigma_squared),
    # brms's lognormal is a gaussian model of log(y): its residual variance on the latent (log) scale is
    # sigma^2, what insight gives lme4's lmer(log(y) ~ ...) (ML: the same likelihood). insight 0.19.0 has no
    # lognormal branch (glmmTMB 1.1.5 has no lognormal family; a brms lognormal would fall through to its
    # catch-all, sigma itself, a sd where a variance belongs), so hierax does not copy that
    ("lognormal", "identity"): Distribution(_sigma_squared),
    ("poisson", "log"): Distribution(_poisson, null_model=True),
    ("negbinomial", "log"): Distribution(_negbinomial, null_model=True),
    ("gamma", "log"): Distribution(_gamma),
    # an ordinal model's latent variable has a logistic or a standard normal residual, as a binary one's
    # (insight's clmm: faminfo is_binomial); its thresholds take the intercept's place, leaving var(X beta)
    # as it is
    ("cumulative", "logit"): Distribution(_constant(np.pi ** 2 / 3.0)),
    ("cumulative", "probit"): Distribution(_constant(1.0)),
    ("bernoulli", "logit"): Distribution(_constant(np.pi ** 2 / 3.0)),
    ("binomial", "logit"): Distribution(_constant(np.pi ** 2 / 3.0)),
    ("bernoulli", "probit"): Distribution(_constant(1.0)),
    ("binomial", "probit"): Distribution(_constant(1.0)),
    ("bernoulli", "cloglog"): Distribution(_constant(np.pi ** 2 / 6.0)),
    ("binomial", "cloglog"): Distribution(_constant(np.pi ** 2 / 6.0)),
}

# families hierax fits whose residual variance is not defined here, and why
NOT_DEFINED = dict(   # keywords: the family "beta" is not the fixed effects' posterior variable
    student="insight 0.19.0 gives glmmTMB's t_family sigma itself, its catch-all for a family it has no "
            "branch for: a sd where a variance belongs",
    zero_inflated_poisson="insight 0.19.0 mixes the full model's row predictions (zero probability, and "
                          "conditional mean with the group effects) with the null model's mean",
    zero_inflated_negbinomial="insight 0.19.0 mixes the full model's row predictions (zero probability, and "
                              "conditional mean with the group effects) with the null model's mean",
    hurdle_poisson="insight 0.19.0 takes the truncated poisson's variance function at sigma(m) and leaves "
                   "the hurdle probability out",
    hurdle_negbinomial="insight 0.19.0 takes the truncated negative binomial's variance at the null model's "
                       "mean and leaves the hurdle probability out",
    beta="insight 0.19.0 takes exp() of the null model's logit intercept as the beta's mean (its own later "
         "versions revise the formula), and Nakagawa et al. (2017) give none: no variance here is checked against "
         "an established one",
    weibull="insight 0.19.0 gives sigma(m) itself, its catch-all for a family it has no branch for",
    exponential="insight 0.19.0 gives sigma(m) itself, its catch-all for a family it has no branch for",
)


def null_intercept(spec) -> float:
    """b0, the intercept of the null model: the same group terms, an intercept for the fixed part
    and the family's own parameters (a negative binomial's shape, a beta's phi) estimated anew,
    fitted by Laplace, as ``insight`` refits it (``update(m, y ~ (1 | g) ...)``, glmmTMB's route).
    One value per model, kept with the spec (for a NUTS fit too, a plug-in of the null model's
    estimate)."""
    key = id(spec)
    cached = _NULL_INTERCEPTS.get(key)
    if cached is not None and cached[0]() is spec:
        return cached[1]
    from hierax.density.init import crude_fit
    from hierax.density.likelihood import dpar_start, family_likelihood, row_data
    from hierax.engines.laplace import fit_glmm

    start = np.array([float(np.mean(np.asarray(spec.X) @ crude_fit(spec)[0]))]) if spec.X.shape[1] else None
    null = fit_glmm(np.ones((spec.num_obs, 1)), spec.y, list(spec.blocks), family_likelihood(spec),
                    trials=row_data(spec), phi_start=dpar_start(spec), beta_start=start)
    value = float(null.beta[0])
    _NULL_INTERCEPTS[key] = (weakref.ref(spec, lambda _, key=key: _NULL_INTERCEPTS.pop(key, None)), value)
    return value


_NULL_INTERCEPTS: dict = {}


def residual_variance(spec, dpars: dict, b0: float | None = None):
    """The residual variance on the link scale (:data:`DISTRIBUTION_VARIANCE`) from the family's
    parameters ``dpars`` ({brms name: value or draws}), with the null model's intercept ``b0``
    where the family needs one (refitted by :func:`null_intercept` when not given); or a clear
    refusal."""
    key = (spec.family.name, spec.link.name)
    if key not in DISTRIBUTION_VARIANCE:
        known = ", ".join(f"{f} ({link})" for f, link in DISTRIBUTION_VARIANCE)
        why = NOT_DEFINED.get(key[0], "its residual variance on the link scale is not defined here")
        raise ModelError(f"variance components, ICC and R² are not available yet for the {key[0]} family with the "
                         f"{key[1]} link ({why}); they are for: {known}")
    distribution = DISTRIBUTION_VARIANCE[key]
    if distribution.null_model and b0 is None:
        b0 = null_intercept(spec)
    return distribution.variance(dpars, b0)


def components(spec, beta, covariances: dict, dpars: dict | None = None, b0: float | None = None) -> Components:
    """The variances of a model at one set of parameters or at every draw: ``beta`` (p,) or
    (draws, p); ``covariances`` {block name: (q, q) or (draws, q, q)}, each grouping factor's
    covariance of its terms; ``dpars`` the family's parameters besides the mean by brms's names
    ({"sigma": ...} for a gaussian model; "shape", "phi"), scalars or draws; ``b0`` the null
    model's intercept where the family's variance needs one (refitted when None)."""
    if spec.weights is not None or spec.offset is not None or spec.dpar_predictors:
        raise ModelError("variance components, ICC and R² of a model with weights, an offset or a formula for a "
                         "distributional parameter are not available yet (the rows' residual variances differ); "
                         "fit.varcorr() has the group variances")
    spec.require_rows("variance components, ICC and R² (the fixed effects' variance over the rows)")
    beta = np.asarray(beta, dtype=float)
    X = np.asarray(spec.X, dtype=float)
    covariance_of_x = np.atleast_2d(np.cov(X, rowvar=False)) if X.shape[1] else np.zeros((0, 0))
    fixed = np.einsum("...i,ij,...j->...", beta, covariance_of_x, beta)
    random = {}
    for block in spec.blocks:
        Z = np.asarray(block.Z, dtype=float)
        second_moment = Z.T @ Z / len(Z)               # mean of z z' over the rows
        random[block.group] = np.einsum("...ij,ji->...", np.asarray(covariances[block.name], dtype=float),
                                        second_moment)
    residual = residual_variance(spec, {} if dpars is None else dpars, b0)
    return Components(fixed, random, np.broadcast_to(residual, np.shape(fixed)))


def icc(parts: Components, by_group: bool = False) -> dict:
    """{"adjusted": ..., "unadjusted": ...}, or with ``by_group`` one ICC per grouping factor
    (its variance over the random and residual variances, as ``performance::icc(by_group =
    TRUE)``)."""
    denominator = parts.total_random + parts.residual
    if by_group:
        return {group: value / denominator for group, value in parts.random.items()}
    return {"adjusted": parts.total_random / denominator, "unadjusted": parts.total_random / parts.total}


def r2(parts: Components) -> dict:
    """Nakagawa's marginal (fixed effects) and conditional (fixed and group effects) R²."""
    return {"marginal": parts.fixed / parts.total, "conditional": (parts.fixed + parts.total_random) / parts.total}


def as_table(values: dict, draws: bool, level: float = 0.9) -> pd.DataFrame:
    """A table of ``values`` ({name: scalar or draws}): ``estimate`` for a point fit; the
    posterior mean, sd and central ``level`` interval for draws."""
    if not draws:
        return pd.DataFrame({"estimate": [float(v) for v in values.values()]}, index=pd.Index(list(values), name="term"))
    low, high = (1.0 - level) / 2.0, (1.0 + level) / 2.0
    names = [f"q{round(100 * low):02d}", f"q{round(100 * high):02d}"]
    rows = []
    for value in values.values():
        value = np.asarray(value, dtype=float).ravel()
        rows.append([value.mean(), value.std(ddof=1), *np.quantile(value, [low, high])])
    return pd.DataFrame(rows, columns=["estimate", "sd", *names], index=pd.Index(list(values), name="term"))


def _estimate_dpars(fit) -> dict:
    """The family's parameters at a fit's estimates by brms's names: the LMM's sigma, or a Laplace
    fit's scalar dpars mapped from their link scales (``fit.family_params()``'s estimates)."""
    from hierax.model.links import LINKS

    output = fit.output
    phi = np.asarray(getattr(output, "phi", np.zeros(0)), dtype=float)
    dpars = {d.name: float(LINKS[d.link].inverse(value)) for d, value in zip(fit.spec.scalar_dpars, phi)}
    if output.sigma is not None:
        dpars[RESIDUAL_SD] = float(output.sigma)
    return dpars


def estimate_components(fit) -> Components:
    """:class:`Components` at a REML, ML or Laplace fit's estimates (lme4's VarCorr: sigma^2 T T'
    for a linear mixed model, T T' for a GLMM, whose factors are absolute)."""
    output = fit.output
    scale = 1.0 if output.sigma is None else output.sigma ** 2
    covariances = {block.name: scale * T @ T.T for block, T in zip(fit.spec.blocks, output.factors)}
    return components(fit.spec, output.beta, covariances, _estimate_dpars(fit))


def draw_components(fit) -> Components:
    """:class:`Components` at every posterior draw of a NUTS fit (draws flattened, chain-major):
    the family's parameters (sigma, shape, phi) at each draw, the null model's intercept (where
    the family needs one) from its Laplace fit."""
    from hierax.model import layout
    from hierax.results import _arviz
    from hierax.results.idata import cor_pairs

    post = _arviz.group(fit.idata, "posterior")
    flat = lambda name: np.asarray(post[name].values).reshape((-1,) + post[name].values.shape[2:])   # noqa: E731
    covariances = {}
    for block in fit.spec.blocks:
        sd = flat(layout.variable("sd", block))
        correlation = np.broadcast_to(np.eye(block.num_terms), sd.shape + (block.num_terms,)).copy()
        if block.has_cor:
            pairs = flat(layout.variable("cor", block))
            for p, (i, j) in enumerate(cor_pairs(block.terms)):
                correlation[:, i, j] = correlation[:, j, i] = pairs[:, p]
        covariances[block.name] = sd[:, :, None] * correlation * sd[:, None, :]
    dpars = {d.name: flat(d.name) for d in fit.spec.scalar_dpars if d.name in post}
    return components(fit.spec, flat(layout.FIXED_VARIABLE), covariances, dpars)
