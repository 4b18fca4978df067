"""Complete, no and partial pooling side by side: the central idea of hierarchical models.

For one grouping factor, each level's intercept (on the link scale) three ways:

- **complete pooling**: the group term dropped; every level gets the same intercept.
- **no pooling**: each level its own intercept (and its own coefficient for each effect that
  varies over the groups), as fixed effects; no population distribution ties them together.
- **partial pooling**: the hierarchical model, whose level intercepts are drawn from a population
  distribution with a learned spread.

The partial-pooling estimate of a level lies between its no-pooling estimate and the population
mean (exactly so for a gaussian model with no other predictors, near enough otherwise), and moves
further the less data the level has. ``shrinkage`` measures how far:
(no pooling - partial pooling) / (no pooling - population mean), 0 for none, 1 for all the way.

Other grouping factors, if any, are dropped from the complete- and no-pooling fits (pooled
completely). No pooling estimates a coefficient per level and varying effect, so it is for data
with up to a few thousand of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from hierax.config import check_seed
from hierax.engines.glm import fit_glm, fit_least_squares
from hierax.density.likelihood import mean_likelihood
from hierax.errors import HieraxError

MAX_NO_POOLING_COLUMNS = 3000
INTERCEPT = "(Intercept)"


@dataclass(frozen=True)
class PoolingComparison:
    """The three fits' level intercepts.

    Attributes
    ----------
    table : one row per level: ``level``, ``n`` (rows), and for ``no_pooling``,
        ``partial_pooling`` and ``complete_pooling`` the estimate with ``_lower`` and ``_upper``
        interval bounds, then ``shrinkage``.
    group : the grouping factor compared.
    population_mean : the partial-pooling model's mean intercept (what levels shrink towards).
    partial : the partial-pooling fit (a FitResult or MixedFit).
    scale : the scale of the estimates (the link's: "identity", "logit", "log", ...).
    level : probability of the intervals.
    """

    table: pd.DataFrame
    group: str
    population_mean: float
    partial: object
    scale: str
    level: float

    def __repr__(self) -> str:
        return (f"PoolingComparison({len(self.table)} levels of {self.group}, on the {self.scale} scale; "
                f"population mean {self.population_mean:.4g}; per level in .table, the shrinkage plot from .plot())")

    def plot(self, ax=None):
        """The shrinkage plot; returns the matplotlib Figure (see ``hierax.plots.shrinkage``)."""
        from hierax.plots import shrinkage_plot

        return shrinkage_plot(self, ax=ax)


def compare_pooling(formula: str, data, family: str = "gaussian", link: str | None = None, group: str | None = None,
                    method: str | None = None, partial=None, level: float = 0.95, seed: int | None = None,
                    **fit_options) -> PoolingComparison:
    """Fit complete, no and partial pooling and tabulate each level's intercept.

    Parameters
    ----------
    formula, data, family, link : as for :func:`hierax.fit`; the formula needs a group term with
        an intercept, e.g. ``y ~ x + (1 | g)``.
    group : the grouping factor to compare (default: the first group term's).
    method : how to fit the partial-pooling model: "reml" (gaussian default), "laplace" (default
        for other families) or "nuts"; ``fit_options`` go to :func:`hierax.fit`.
    partial : an existing fit of the same formula and data to use instead of fitting one.
    level : probability of the intervals (Wald for complete and no pooling; posterior quantiles,
        or simulation as in ``predict``, for partial pooling).

    Examples
    --------
    >>> pooling = hx.compare_pooling("log_radon ~ floor + (1 | county)", radon)  # doctest: +SKIP
    >>> pooling.table.sort_values("n").head(); pooling.plot()                   # doctest: +SKIP
    """
    from hierax.api import fit as fit_model

    if partial is None:
        if method is None:
            method = "reml" if family == "gaussian" else "laplace"
        partial = fit_model(formula, data, family=family, link=link, method=method, **fit_options)
    spec = partial.spec
    block = spec.find_block(group)
    if INTERCEPT not in block.terms:
        raise HieraxError(f"the group term for {block.group!r} has no intercept to compare; use (1 | ...) or (1 + x | ...)")
    rng = np.random.default_rng(check_seed(seed))
    z = stats.norm.ppf(0.5 + level / 2)
    complete = _complete_pooling(spec, z)
    no = _no_pooling(spec, block, z)
    partial_est, partial_lower, partial_upper, population = _partial_pooling(partial, spec, block, level, rng)
    counts = np.bincount(block.group_index, minlength=block.num_levels)
    with np.errstate(divide="ignore", invalid="ignore"):
        shrink = (no[0] - partial_est) / (no[0] - population)
    shrink = np.where(np.isinf(no[0]), 1.0, shrink)
    table = pd.DataFrame({
        "level": list(block.levels), "n": counts,
        "no_pooling": no[0], "no_pooling_lower": no[1], "no_pooling_upper": no[2],
        "partial_pooling": partial_est, "partial_pooling_lower": partial_lower, "partial_pooling_upper": partial_upper,
        "complete_pooling": complete[0], "complete_pooling_lower": complete[1], "complete_pooling_upper": complete[2],
        "shrinkage": shrink,
    })
    return PoolingComparison(table, block.group, population, partial, spec.link.name, level)


def _fit_fixed(spec, X):
    if spec.weights is not None:
        raise HieraxError("compare_pooling does not use weights(w) yet: its no-pooling and complete-pooling fits "
                          "would ignore them; compare fits of the model without weights, or fit each by hx.fit")
    if spec.family.collapsible and spec.link.name == "identity":
        return fit_least_squares(X, spec.y, spec.offset)
    return fit_glm(X, spec.y, mean_likelihood(spec, "compare_pooling"), spec.trials, spec.offset)


def _complete_pooling(spec, z):
    """The intercept of the model without group terms (the same for every level)."""
    if INTERCEPT not in spec.fixed_names:
        raise HieraxError("compare_pooling needs a fixed intercept (complete pooling is then that intercept)")
    out = _fit_fixed(spec, spec.X)
    j = spec.fixed_names.index(INTERCEPT)
    se = np.sqrt(out.vcov[j, j])
    return out.beta[j], out.beta[j] - z * se, out.beta[j] + z * se


def _no_pooling(spec, block, z):
    """Per-level coefficients for the block's effects, the other fixed effects shared."""
    shared = [j for j, name in enumerate(spec.fixed_names) if name not in block.terms]
    width = len(shared) + block.num_levels * block.num_terms
    if width > MAX_NO_POOLING_COLUMNS:
        raise HieraxError(f"no pooling would estimate {width} coefficients (one per level of {block.group!r} and "
                          f"varying effect); compare_pooling is for up to {MAX_NO_POOLING_COLUMNS}")
    n, q = spec.num_obs, block.num_terms
    per_level = np.zeros((n, block.num_levels * q))
    for k in range(q):
        per_level[np.arange(n), block.group_index * q + k] = block.Z[:, k]
    # a level whose rows cannot separate its effects (one row, or a slope's predictor constant
    # within it) has no no-pooling estimate of any of them
    identified = np.array([np.linalg.matrix_rank(block.Z[block.group_index == level]) == q
                           for level in range(block.num_levels)])
    kept = np.repeat(identified, q)
    out = _fit_fixed(spec, np.column_stack([spec.X[:, shared], per_level[:, kept]]))
    coefficients = np.full(block.num_levels * q, np.nan)
    variances = np.full(block.num_levels * q, np.nan)
    coefficients[kept] = out.beta[len(shared):]
    variances[kept] = np.diag(out.vcov)[len(shared):]
    k = block.terms.index(INTERCEPT)
    estimate = coefficients.reshape(-1, q)[:, k]
    se = np.sqrt(variances.reshape(-1, q)[:, k])
    return estimate, estimate - z * se, estimate + z * se


def _partial_pooling(fit, spec, block, level, rng):
    """Each level's intercept (population intercept plus the level's deviation), with intervals."""
    from hierax.workflow.predict import parameter_draws

    draws = parameter_draws(fit, rng, num_draws=4000)
    m = spec.blocks.index(block)
    k = block.terms.index(INTERCEPT)
    j = spec.fixed_names.index(INTERCEPT)
    values = draws.beta[:, j][:, None] + draws.b[m][:, :, k]
    lower, upper = np.quantile(values, [(1 - level) / 2, (1 + level) / 2], axis=0)
    if draws.plug_in:
        out = fit.output
        return out.beta[j] + out.random_effects[m][:, k], lower, upper, float(out.beta[j])
    return values.mean(axis=0), lower, upper, float(draws.beta[:, j].mean())
