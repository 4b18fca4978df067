"""Is the population normal? The nonparametric maximum likelihood estimate of the distribution of
group means (Kiefer and Wolfowitz 1956), beside the normal one a mixed model assumes.

In the linear homoskedastic case a hierarchical model is a deconvolution problem: each group's
mean is observed with known noise, y_j ~ N(theta_j, s_j^2), and the theta_j come from a population
G. The mixed model takes G normal; the NPMLE takes G as whatever distribution makes the group
means most likely,

    G^ = argmax_G sum_j log integral phi((y_j - u) / s_j) / s_j dG(u),

a convex problem over the distributions whose solution is discrete, with few atoms (Lindsay
1983). On a fine grid u_1..u_m the weights w of the atoms solve the same problem over the simplex
(Koenker and Mizera 2014), here by EM accelerated by SQUAREM (Varadhan and Roland 2008), stopped
when the optimality condition holds to ``tol``: the gradient D(u_k) = (1/J) sum_j
phi_jk / f_j is at most 1 at every grid point (and 1 where G^ has mass), which certifies the
maximum on the grid. The empirical-Bayes posterior means E[theta_j | y_j] under G^ (Robbins'
"f-modelling" made exact) shrink each group toward the atoms near it, not toward one grand mean.

A population with two modes, where the normal model pulls every group toward the middle, shows
in the plot (:meth:`Deconvolution.plot`) and in the log-likelihoods of the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from hierax.errors import DataError, ModelError


@dataclass(frozen=True)
class Deconvolution:
    """The NPMLE of the population of group means and the normal model beside it.

    Attributes
    ----------
    grid, mass : the atoms' locations and probabilities (mass sums to 1).
    estimates, se : the group means and their standard errors (indexed by group).
    posterior_means : E[theta_j | y_j] under the NPMLE (empirical Bayes).
    normal : the normal population's (mean, sd) by maximum likelihood on the group means.
    loglik, normal_loglik : the log-likelihood of the group means under each.
    gradient_max : max_k D(u_k), 1 at the optimum (its excess is the certificate's tolerance).
    iterations : EM steps taken.
    """

    grid: np.ndarray
    mass: np.ndarray
    estimates: pd.Series
    se: pd.Series
    posterior_means: pd.Series
    normal: tuple
    loglik: float
    normal_loglik: float
    gradient_max: float
    iterations: int

    def table(self) -> pd.DataFrame:
        """Per group: the estimate, its se, the NPMLE's posterior mean and the normal model's."""
        mean, sd = self.normal
        shrink = sd ** 2 / (sd ** 2 + self.se ** 2)
        return pd.DataFrame({"estimate": self.estimates, "se": self.se, "npmle_mean": self.posterior_means,
                             "normal_mean": mean + shrink * (self.estimates - mean)})

    def plot(self, ax=None):
        """The NPMLE's atoms (stems, their probabilities on the left axis) against the fitted
        normal population's density (right axis), with the group estimates as a rug."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 3.5))
        keep = self.mass > 1e-4
        ax.vlines(self.grid[keep], 0.0, self.mass[keep], color="C0", lw=2, label="NPMLE: probability of each atom")
        ax.plot(self.estimates, np.zeros(len(self.estimates)), "|", color="k", markersize=10, label="group estimates")
        ax.set_xlabel("group mean")
        ax.set_ylabel("NPMLE probability")
        ax.set_ylim(bottom=0.0)
        mean, sd = self.normal
        u = np.linspace(self.grid[0], self.grid[-1], 400)
        other = ax.twinx()
        other.plot(u, stats.norm.pdf(u, mean, sd), color="C1", label=f"normal population N({mean:.2f}, {sd:.2f}²)")
        other.set_ylabel("normal density")
        other.set_ylim(bottom=0.0)
        handles = ax.get_legend_handles_labels()[0] + other.get_legend_handles_labels()[0]
        ax.legend(handles, [h.get_label() for h in handles], frameon=False, fontsize=8, loc="upper left")
        return ax


def npmle(estimates, se, grid: int = 300, tol: float = 1e-6, max_iterations: int = 100_000) -> Deconvolution:
    """The Kiefer-Wolfowitz NPMLE of the population of ``estimates`` (group means, a Series or
    array) observed with standard errors ``se``, on ``grid`` equally spaced points over their
    range (module docstring)."""
    y = pd.Series(estimates, dtype=float) if not isinstance(estimates, pd.Series) else estimates.astype(float)
    s = pd.Series(np.broadcast_to(np.asarray(se, dtype=float), y.shape), index=y.index)
    if len(y) < 2 or not (np.all(np.isfinite(y)) and np.all(np.isfinite(s)) and np.all(s > 0)):
        raise DataError("npmle needs at least two finite group estimates with positive, finite standard errors")
    if not (isinstance(grid, int) and grid >= 10):
        raise ModelError(f"grid={grid!r}: give the number of grid points, at least 10 (300 is plenty)")
    u = np.linspace(y.min(), y.max(), grid)
    like = stats.norm.pdf(y.to_numpy()[:, None], u[None, :], s.to_numpy()[:, None])      # (J, m)
    w, iterations = _squarem(like, tol, max_iterations)
    f = like @ w
    gradient = _gradient(w, like)
    posterior = (like * (w * u)[None, :]).sum(axis=1) / f
    mean, sd = _normal_population(y.to_numpy(), s.to_numpy())
    normal_loglik = float(np.sum(stats.norm.logpdf(y, mean, np.sqrt(sd ** 2 + s ** 2))))
    return Deconvolution(u, w, y, s, pd.Series(posterior, index=y.index), (mean, sd), float(np.sum(np.log(f))),
                         normal_loglik, float(gradient.max()), iterations)


def _gradient(w, like):
    """Lindsay's gradient D(u_k) = (1/J) sum_j phi_jk / f_j, two products with the likelihoods."""
    return like.T @ (1.0 / (like @ w)) / like.shape[0]


def _em(w, like):
    return w * _gradient(w, like)


def _squarem(like, tol: float, max_iterations: int):
    """EM on the atoms' weights, accelerated by SQUAREM's step (with a plain EM step after it,
    which keeps the weights on the simplex), until the gradient condition holds to ``tol``."""
    m = like.shape[1]
    w = np.full(m, 1.0 / m)
    for iteration in range(1, max_iterations + 1):
        w1 = _em(w, like)
        w2 = _em(w1, like)
        r, v = w1 - w, w2 - 2.0 * w1 + w
        alpha = -np.sqrt(np.sum(r ** 2) / max(np.sum(v ** 2), 1e-300))
        trial = np.clip(w - 2.0 * alpha * r + alpha ** 2 * v, 0.0, None)
        w = _em(trial / trial.sum(), like) if alpha < -1.0 else w2
        if _gradient(w, like).max() <= 1.0 + tol:
            return w, iteration
    raise ModelError(f"the NPMLE did not reach its optimality condition in {max_iterations} iterations; "
                     "raise max_iterations or coarsen the grid")


def _normal_population(y, s):
    """(mean, sd) of a normal population by maximum likelihood on the group means: y_j ~ N(mu,
    tau^2 + s_j^2) (the mixed model's population, from the group means alone)."""
    from scipy import optimize

    def negative(params):
        return -np.sum(stats.norm.logpdf(y, params[0], np.sqrt(np.exp(2.0 * params[1]) + s ** 2)))

    start = np.array([y.mean(), np.log(max(y.std(), 1e-3))])
    result = optimize.minimize(negative, start, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12,
                                                                              "maxiter": 20_000})
    return float(result.x[0]), float(np.exp(result.x[1]))


def deconvolve(fit, grid: int = 300) -> Deconvolution:
    """:func:`npmle` of a gaussian fit's group means: for ``y ~ x + (1 | g)`` (one grouping factor,
    a random intercept only), each group's mean of y - x beta (the intercept's part kept) with se
    sigma / sqrt(n_j), at the fit's estimates (a NUTS fit's posterior means)."""
    spec = fit.spec
    if spec.family.name != "gaussian" or spec.link.name != "identity" or len(spec.blocks) != 1 \
            or spec.blocks[0].num_terms != 1 or spec.blocks[0].terms[0] != "(Intercept)" \
            or "(Intercept)" not in spec.fixed_names or spec.weights is not None or spec.se is not None \
            or spec.dpar_predictors:
        raise ModelError("deconvolve() takes a gaussian fit with an intercept and one random intercept, "
                         "y ~ ... + (1 | g), without weights, se() or a formula for sigma; for other models, pass group estimates and ses to hx.npmle(estimates, se)")
    table = fit.fixef()
    beta = table["estimate"].to_numpy()
    sigma = fit.sigma if hasattr(fit, "output") else float(fit.summary().loc["sigma", "estimate"])
    keep = np.array([name != "(Intercept)" for name in spec.fixed_names])
    residual = np.asarray(spec.y, float) - np.asarray(spec.X, float)[:, keep] @ beta[keep]
    if spec.offset is not None:
        residual = residual - spec.offset
    block = spec.blocks[0]
    counts = np.bincount(block.group_index, minlength=block.num_levels)
    means = np.bincount(block.group_index, residual, minlength=block.num_levels) / counts
    labels = pd.Index(block.levels, name=block.group) if hasattr(block, "levels") else None
    return npmle(pd.Series(means, index=labels), sigma / np.sqrt(counts), grid=grid)
