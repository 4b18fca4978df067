"""How the variance of a response divides between its fixed part, each grouping factor and the
rows: variance components, intraclass correlations and R² (Nakagawa, Johnson & Schielzeth 2017,
"The coefficient of determination R² and intra-class correlation coefficient from generalized
linear mixed-effects models revisited"; as R's ``performance`` and ``insight`` compute them).

On the latent (link) scale, with the fixed effects beta, each grouping factor's covariance
Sigma_k of its terms Z_k and the family's residual variance:

    var_fixed    = the variance over the rows of X beta                  (= beta' cov(X) beta)
    var_random_k = the mean over the rows of z_ik' Sigma_k z_ik          (Johnson 2014: tau^2 for
                   a random intercept; with slopes, the variance at the data's own z)
    var_residual = sigma^2 (gaussian), or the family's distribution-specific variance on the
                   link scale (``DISTRIBUTION_VARIANCE``: pi^2/3 for the logit, 1 for the probit)

    ICC adjusted   = sum_k var_random_k / (sum_k var_random_k + var_residual)
    ICC unadjusted = sum_k var_random_k / (var_fixed + sum_k var_random_k + var_residual)
    R² marginal    = var_fixed / total,   R² conditional = (var_fixed + sum_k var_random_k) / total

A REML, ML or Laplace fit gives the values at its estimates; a NUTS fit gives them at every draw,
so their posterior means and intervals. Families without a distribution-specific variance here
are refused with the reason, not approximated silently.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
import pandas as pd

from hierax.errors import ModelError


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


def _gaussian(sigma, spec):
    return np.asarray(sigma) ** 2


def _poisson_lognormal(sigma, spec):
    """log(1 + 1/mu), the lognormal approximation of Nakagawa et al. (2017), with mu = exp(b0) and
    b0 the intercept of the null model (the same group terms, no fixed effects but an intercept)
    fitted by Laplace, as ``insight`` does (it refits with ``update``): one value for the fit,
    whichever engine made it (for a NUTS fit too, a plug-in of the null model's estimate)."""
    from hierax.density.likelihood import family_likelihood, row_data
    from hierax.engines.laplace import fit_glmm

    null = fit_glmm(np.ones((spec.num_obs, 1)), spec.y, list(spec.blocks), family_likelihood(spec),
                    trials=row_data(spec))
    return float(np.log1p(np.exp(-null.beta[0])))


# (family, link) -> the residual variance on the link scale from (sigma or None, spec): the
# distribution-specific variance of Nakagawa et al. (2017), Table 1
DISTRIBUTION_VARIANCE: dict[tuple, Callable] = {
    ("gaussian", "identity"): _gaussian,
    ("poisson", "log"): _poisson_lognormal,
    ("bernoulli", "logit"): lambda sigma, spec: np.pi ** 2 / 3.0,
    ("binomial", "logit"): lambda sigma, spec: np.pi ** 2 / 3.0,
    ("bernoulli", "probit"): lambda sigma, spec: 1.0,
    ("binomial", "probit"): lambda sigma, spec: 1.0,
    ("bernoulli", "cloglog"): lambda sigma, spec: np.pi ** 2 / 6.0,
    ("binomial", "cloglog"): lambda sigma, spec: np.pi ** 2 / 6.0,
}


def residual_variance(spec, sigma):
    """The residual variance on the link scale (:data:`DISTRIBUTION_VARIANCE`), or a clear refusal."""
    key = (spec.family.name, spec.link.name)
    if key not in DISTRIBUTION_VARIANCE:
        known = ", ".join(f"{f} ({link})" for f, link in DISTRIBUTION_VARIANCE)
        raise ModelError(f"variance components, ICC and R² are not available yet for the {key[0]} family with the "
                         f"{key[1]} link (its residual variance on the link scale is not defined here); they are for: "
                         f"{known}")
    return DISTRIBUTION_VARIANCE[key](sigma, spec)


def components(spec, beta, covariances: dict, sigma=None) -> Components:
    """The variances of a model at one set of parameters or at every draw: ``beta`` (p,) or
    (draws, p); ``covariances`` {block name: (q, q) or (draws, q, q)}, each grouping factor's
    covariance of its terms; ``sigma`` the residual sd (gaussian) or None."""
    if spec.weights is not None or spec.offset is not None or spec.dpar_predictors:
        raise ModelError("variance components, ICC and R² of a model with weights, an offset or a formula for a "
                         "distributional parameter are not available yet (the rows' residual variances differ); "
                         "fit.varcorr() has the group variances")
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
    return Components(fixed, random, np.broadcast_to(residual_variance(spec, sigma), np.shape(fixed)))


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


def estimate_components(fit) -> Components:
    """:class:`Components` at a REML, ML or Laplace fit's estimates (lme4's VarCorr: sigma^2 T T'
    for a linear mixed model, T T' for a GLMM, whose factors are absolute)."""
    output = fit.output
    scale = 1.0 if output.sigma is None else output.sigma ** 2
    covariances = {block.name: scale * T @ T.T for block, T in zip(fit.spec.blocks, output.factors)}
    return components(fit.spec, output.beta, covariances, output.sigma)


def draw_components(fit) -> Components:
    """:class:`Components` at every posterior draw of a NUTS fit (draws flattened, chain-major)."""
    from hierax.model import layout
    from hierax.model.layout import RESIDUAL_SD
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
    sigma = flat(RESIDUAL_SD) if RESIDUAL_SD in post else None
    return components(fit.spec, flat(layout.FIXED_VARIABLE), covariances, sigma)
