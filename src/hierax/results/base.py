"""The one interface every fit offers, whichever engine made it.

A NUTS fit (:class:`~hierax.FitResult`, also a posterior mode's) and a REML/ML/Laplace fit
(:class:`~hierax.MixedFit`) answer the same questions with tables of the same layout, so that
the plots, the report, the command line and the workflow ask a fit, never test which kind it is
(lme4's ``fixef``/``ranef``/``VarCorr``/``coef``/``predict``, the same for every merMod). Where
the kinds truly differ (a posterior has draws to check and replicate; estimates have standard
errors), a property says what the fit holds: ``has_draws``, ``has_idata``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class FittedModel(abc.ABC):
    """What every fit records and offers.

    Attributes
    ----------
    formula : the formula text; ``family`` and ``link`` the names used.
    method : the engine that fitted it ("nuts", "map", "reml", "ml", "laplace").
    spec : the ModelSpec (design arrays, priors, layout).
    design_info : what is needed to encode new data.

    Notes
    -----
    Every table is a DataFrame with an ``estimate`` column, labelled as ``summary()`` labels it:
    ``fixef`` and ``summary`` are indexed by ``term`` (``(Intercept)``, ``sd[g][x]``, ``sigma``);
    ``varcorr`` has ``group``, ``var1``, ``var2`` and the same labels; ``ranef`` and ``coef`` have
    one row per level and effect with ``group``, ``level``, ``term``. The uncertainty columns follow
    the kind of fit: posterior ``sd`` and quantiles for draws, ``se`` for estimates.
    """

    formula: str
    family: str
    link: str
    method: str
    spec: object
    design_info: object

    @property
    def nobs(self) -> int:
        """Number of observations fitted."""
        return self.spec.num_obs

    # -- what the fit holds ---------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def has_draws(self) -> bool:
        """True where the fit holds draws sampled from the posterior (NUTS): what R-hat and ESS,
        PSIS-LOO, posterior predictive checks, trace and funnel plots are computed from."""

    @property
    @abc.abstractmethod
    def has_idata(self) -> bool:
        """True where the parameters are held as an ArviZ ``idata`` posterior: NUTS draws, or a
        posterior mode as a single draw. False for estimates with standard errors (REML, ML,
        Laplace), whose engine output is ``output``."""

    # -- tidy tables ----------------------------------------------------------------------------
    @abc.abstractmethod
    def fixef(self) -> pd.DataFrame:
        """Fixed effects: one row per coefficient, indexed by ``term``."""

    @abc.abstractmethod
    def ranef(self) -> pd.DataFrame:
        """Group-level effects as deviations from the fixed effects: one row per level and effect."""

    @abc.abstractmethod
    def varcorr(self) -> pd.DataFrame:
        """Group sds and correlations and the residual sd, laid out as lme4's ``VarCorr``."""

    @abc.abstractmethod
    def coef(self) -> pd.DataFrame:
        """Each level's coefficients: the fixed effect plus the level's deviation."""

    @abc.abstractmethod
    def summary(self) -> pd.DataFrame:
        """Fixed effects, sds, correlations, sigma and the family's parameters in one table."""

    @abc.abstractmethod
    def predict(self, newdata=None, kind: str = "mean", new_groups: str = "sample", level: float = 0.95,
                seed: int | None = None) -> pd.DataFrame:
        """Predictions for ``newdata`` (default: the fitted rows) with ``estimate``, ``sd``,
        ``lower``, ``upper``, one row per data row (see :func:`hierax.results.predict.predict`)."""

    # -- how the variance divides (``hierax.results.variance``) ------------------------------------
    def _variance_parts(self):
        """The latent-scale variances (:class:`hierax.results.variance.Components`): at the
        estimates, or at every draw."""
        from hierax.results import variance

        if not self.spec.blocks:
            from hierax.errors import ModelError

            raise ModelError("the model has no group terms, so there is no variance between groups to decompose; "
                             "add a term such as (1 | g)")
        return variance.draw_components(self) if self.has_draws else variance.estimate_components(self)

    def variance_components(self, level: float = 0.9) -> pd.DataFrame:
        """The variance on the latent (link) scale of the fixed part, of each grouping factor and of
        the residual, and each one's share of their sum (Nakagawa et al. 2017; the residual of a
        non-gaussian family is its distribution-specific variance, pi^2/3 for the logit). Point
        values for a REML/ML/Laplace fit; posterior means, sds and ``level`` intervals for NUTS."""
        from hierax.results import variance

        parts = self._variance_parts()
        values = {"fixed effects": parts.fixed, **{f"group: {g}": v for g, v in parts.random.items()},
                  "residual": parts.residual}
        table = variance.as_table(values, self.has_draws, level)
        shares = variance.as_table({k: v / parts.total for k, v in values.items()}, self.has_draws, level)
        return table.assign(share=shares["estimate"])

    def icc(self, by_group: bool = False, level: float = 0.9) -> pd.DataFrame:
        """Intraclass correlations on the latent scale, as R's ``performance::icc``: ``adjusted``
        (the groups' share of the random and residual variance) and ``unadjusted`` (of all of it,
        the fixed part's too); ``by_group=True``: each grouping factor's own share of the random
        and residual variance. Point values, or posterior means with ``level`` intervals."""
        from hierax.results import variance

        return variance.as_table(variance.icc(self._variance_parts(), by_group), self.has_draws, level)

    def r2(self, level: float = 0.9) -> pd.DataFrame:
        """Nakagawa's R² on the latent scale, as ``performance::r2_nakagawa``: ``marginal`` (the
        fixed effects' share of the variance) and ``conditional`` (fixed and group effects'); for a
        NUTS fit also ``bayes``, Gelman et al.'s (2019) R² on the response scale (brms's
        ``bayes_R2``: the expected response's variance over its sum with the residuals')."""
        from hierax.results import variance

        values = variance.r2(self._variance_parts())
        if self.has_draws:
            from hierax.results.predict import bayes_r2_draws

            values["bayes"] = bayes_r2_draws(self)
        return variance.as_table(values, self.has_draws, level)

    def posterior_predictive(self, seed: int | None = None):
        """A copy of ``idata`` with a ``posterior_predictive`` group: one replicated data set per
        draw, at the observed rows (for ArviZ's ``plot_ppc`` and hierax's PPC plots).

        Raises
        ------
        HieraxError
            Where the fit has no posterior draws (``has_draws`` is False): a REML/ML/Laplace fit's
            predictive intervals come from ``predict(kind="response")``.
        """
        from hierax.results.predict import posterior_predictive

        return posterior_predictive(self, seed)

    def posterior_predict(self, newdata, num_draws: int = 100, seed: int | None = None):
        """New responses at the rows of ``newdata`` for ``num_draws`` posterior draws spread over
        the chains (brms's ``posterior_predict``, with rows as rows): the observed response, where
        ``newdata`` has it, then a column ``<response>_rep[k]`` per draw k (its chain-major index).
        For out-of-core ``newdata`` (a Dask frame, Parquet files), a Dask frame partitioned as it is.
        """
        from hierax.results.replicate import posterior_predict

        return posterior_predict(self, newdata, num_draws, seed)

    def ppc_stats(self, data=None, stats=("mean", "sd", "min", "max"), num_draws: int = 400,
                  seed: int | None = None, level: float = 0.9) -> pd.DataFrame:
        """A posterior predictive check by test statistics (brms's ``pp_check(type = "stat")``):
        per statistic of the response, its observed value, the mean and central ``level``
        interval of its replicated values, and the posterior predictive p-value P(T(y_rep) >=
        T(y)). ``data``: the fit's own rows by default; a Dask frame or Parquet files are reduced
        over their partitions (an out-of-core fit's own rows must be passed)."""
        from hierax.results.replicate import ppc_stats

        return ppc_stats(self, data, stats, num_draws, seed, level)
