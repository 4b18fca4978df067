"""Cluster-specific and population-averaged effects: a GLMM's coefficients, the marginal
(population-averaged) coefficients its fit implies, and GEE's, in one table.

A GLMM's coefficient is an effect within a cluster (a district, a herd): the change in the link
of a unit's mean at its cluster's own effect. A trialist usually wants the effect on the
population's mean, averaged over the clusters. With the identity link the two coincide; with the
logit they do not: averaging the inverse link over the clusters' effects flattens the curve, so
the population-averaged coefficients are smaller (about beta / sqrt(1 + 0.346 sigma^2) for a random
intercept with sd sigma; Zeger, Liang and Albert 1988).

:func:`population_averaged` computes the marginal mean of every row from the fit, integrating the
inverse link over the group effects' normal distribution (their sum, z_i' b, is normal with
variance sum_k z_ik' Sigma_k z_ik, so one Gauss-Hermite integral a row whatever the terms), and
fits the family's GLM to those means: the coefficients of the population-averaged model that the
GLMM implies. Beside them it puts GEE's (:func:`gee`: statsmodels' generalized estimating
equations with an exchangeable working correlation in the grouping factor, the sandwich se, and
Mancl and DeRouen's bias-reduced sandwich for few clusters), which estimates the same
population-averaged coefficients without the GLMM's assumptions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from hierax.errors import DataError, ModelError

# (family, link) -> statsmodels' family and link; GEE and the implied marginal model use both
_LINKS = {"logit": "Logit", "probit": "Probit", "cloglog": "CLogLog", "log": "Log", "identity": "Identity"}
_FAMILIES = {"bernoulli": "Binomial", "binomial": "Binomial", "poisson": "Poisson", "gaussian": "Gaussian"}
COVARIANCES = {"robust": "robust", "mancl-derouen": "bias_reduced"}
_NODES = 40          # Gauss-Hermite nodes of the marginal means: exact to 1e-10 for sds up to about 5


def _statsmodels_family(family: str, link: str):
    import statsmodels.api as sm

    if family not in _FAMILIES or link not in _LINKS:
        raise ModelError(f"population-averaged effects and GEE are available for the {sorted(_FAMILIES)} families "
                         f"with the {sorted(_LINKS)} links; got {family!r} with {link!r}")
    return getattr(sm.families, _FAMILIES[family])(link=getattr(sm.families.links, _LINKS[link])())


def _one_cluster_factor(spec):
    if spec.weights is not None or spec.offset is not None or spec.se is not None or spec.incomplete \
            or spec.dpar_predictors:
        raise ModelError("GEE and population-averaged effects take a formula without weights(), an offset, se(), "
                         "cens()/trunc() or formulas for other parameters; drop them from the formula")
    if len(spec.blocks) != 1:
        groups = [b.group for b in spec.blocks] or "none"
        raise ModelError(f"GEE needs one grouping factor to define the clusters; the formula has {groups}: write "
                         "one group term, e.g. (1 | cluster)")
    return spec.blocks[0]


def _long_rows(spec):
    """(y, X, cluster) with a binomial response with trials written as one row per trial (y = 1
    for each success, 0 for each failure): the rows GEE's exchangeable correlation relates."""
    block = _one_cluster_factor(spec)
    y, X, cluster = np.asarray(spec.y, float), np.asarray(spec.X, float), np.asarray(block.group_index)
    if spec.trials is None:
        return y, X, cluster
    trials = np.asarray(spec.trials).astype(int)
    successes = y.astype(int)
    rows = np.repeat(np.arange(len(y)), trials)
    within = np.arange(len(rows)) - np.repeat(np.cumsum(trials) - trials, trials)
    return (within < successes[rows]).astype(float), X[rows], cluster[rows]


def gee(formula: str, data, family: str = "gaussian", link: str | None = None, corstr: str = "exchangeable",
        se: str = "robust") -> pd.DataFrame:
    """GEE estimates of the fixed part of ``formula`` with clusters its one grouping factor
    (``"y ~ x + (1 | clinic)"``: the mean model ``y ~ x``, clusters the clinics), as R's
    ``geepack::geeglm`` (run to convergence) gives them.

    Parameters
    ----------
    corstr : "exchangeable" (one correlation within a cluster) or "independence".
    se : "robust" (the sandwich) or "mancl-derouen" (its bias-reduced form, for few clusters).

    Returns
    -------
    DataFrame indexed by term: ``estimate``, ``se``, ``statistic`` (Wald z), ``p``, ``lower``,
    ``upper`` (95%);
    ``attrs``: the working correlation ``alpha``, the number of ``clusters``, ``se``.
    """
    import statsmodels.api as sm

    from hierax.model.build import build_model

    if corstr not in ("exchangeable", "independence"):
        raise ModelError(f"corstr={corstr!r}: use 'exchangeable' or 'independence'")
    if se not in COVARIANCES:
        raise ModelError(f"se={se!r}: use one of {list(COVARIANCES)}")
    _, spec = build_model(str(formula), data, family, link, bayesian=False)
    y, X, cluster = _long_rows(spec)
    if len(np.unique(cluster)) < 2:
        raise DataError("GEE needs at least two clusters")
    structure = sm.cov_struct.Exchangeable() if corstr == "exchangeable" else sm.cov_struct.Independence()
    model = sm.GEE(y, X, groups=cluster, family=_statsmodels_family(spec.family.name, spec.link.name),
                   cov_struct=structure)
    # ddof_scale 0 and a tight tolerance: geepack's moment estimators, converged
    result = model.fit(maxiter=500, ctol=1e-10, ddof_scale=0, cov_type=COVARIANCES[se])
    estimate, error = np.asarray(result.params, float), np.asarray(result.bse, float)
    wald = estimate / error
    table = pd.DataFrame({"estimate": estimate, "se": error, "statistic": wald, "p": 2.0 * stats.norm.sf(np.abs(wald)),
                          "lower": estimate - 1.959963984540054 * error, "upper": estimate + 1.959963984540054 * error},
                         index=pd.Index(list(spec.fixed_names), name="term"))
    alpha = float(np.ravel(structure.dep_params)[0]) if corstr == "exchangeable" else 0.0
    table.attrs.update(alpha=alpha, clusters=int(len(np.unique(cluster))), se=se)
    return table


def marginal_means(spec, beta, covariances: dict) -> np.ndarray:
    """Each row's mean averaged over the group effects: E_b[g^-1(x_i beta + z_i' b)], b normal with
    each grouping factor's covariance ({block name: Sigma_k}), by Gauss-Hermite quadrature on
    the normal sum z_i' b."""
    from hierax.model.links import LINKS

    eta = np.asarray(spec.X, float) @ np.asarray(beta, float)
    if spec.offset is not None:
        eta = eta + spec.offset
    variance = sum(np.einsum("ia,ab,ib->i", np.asarray(b.Z, float), covariances[b.name], np.asarray(b.Z, float))
                   for b in spec.blocks)
    nodes, weights = np.polynomial.hermite_e.hermegauss(_NODES)           # for N(0, 1)
    inverse = LINKS[spec.link.name].inverse
    values = np.asarray(inverse(eta[:, None] + np.sqrt(variance)[:, None] * nodes[None, :]))
    return values @ weights / np.sqrt(2.0 * np.pi)


def population_averaged(fit, data=None, se: str = "robust") -> pd.DataFrame:
    """The fit's cluster-specific coefficients beside the population-averaged ones its model
    implies and GEE's (module docstring), for a REML, ML or Laplace fit with one grouping factor.

    Returns
    -------
    DataFrame indexed by term: ``cluster_specific`` (the fit's), ``implied_marginal`` (the GLM of
    its marginal means), ``gee`` and ``gee_se`` (``se`` as :func:`gee`).
    """
    import statsmodels.api as sm

    if fit.has_draws or not hasattr(fit, "output"):
        raise ModelError("population_averaged() takes a fit by method='reml', 'ml' or 'laplace' (estimates); for a "
                         "NUTS fit, fit the same formula with method='laplace'")
    spec = fit.spec
    _one_cluster_factor(spec)
    data = fit.data if data is None else data
    if data is None:
        raise DataError("the fit holds no data; pass data=, the frame it was fitted to")
    scale = 1.0 if fit.output.sigma is None else fit.output.sigma ** 2
    covariances = {b.name: scale * T @ T.T for b, T in zip(spec.blocks, fit.output.factors)}
    family = _statsmodels_family(spec.family.name, spec.link.name)
    if spec.link.name == "identity":            # the average of a linear mean is the mean: nothing to fit
        implied = np.asarray(fit.output.beta, float)
    else:
        means = marginal_means(spec, fit.output.beta, covariances)
        trials = None if spec.trials is None else np.asarray(spec.trials, float)
        implied = sm.GLM(means, np.asarray(spec.X, float), family=family, var_weights=trials).fit(
            tol=1e-12, maxiter=200).params
    estimated = gee(fit.formula, data, spec.family.name, spec.link.name, se=se)
    return pd.DataFrame({"cluster_specific": np.asarray(fit.output.beta, float),
                         "implied_marginal": np.asarray(implied, float),
                         "gee": estimated["estimate"].to_numpy(), "gee_se": estimated["se"].to_numpy()},
                        index=pd.Index(list(spec.fixed_names), name="term"))
