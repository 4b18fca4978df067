"""The immutable record of a fit, with its tidy tables as methods."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from hierax.config import check_flag
from hierax.results import tables
from hierax.results.base import FittedModel


@dataclass(frozen=True)
class FitResult(FittedModel):
    """A fitted model: the spec, the InferenceData, and how it was made.

    Attributes
    ----------
    formula : the formula text.
    family : family name; ``link`` its link.
    method : the engine ("nuts", or "map" for a posterior mode held as a single draw).
    spec : the ModelSpec (design arrays, priors, layout).
    design_info : what is needed to encode new data.
    idata : arviz.InferenceData (ArviZ 0.23) or xarray.DataTree (ArviZ 1.x) with posterior, sample_stats,
        log_likelihood, observed_data.
    config : the engine options used; ``seed`` the seed.
    warnings : sampler diagnostics in plain words (empty when all is well).
    timing : seconds spent per stage.
    versions : versions of hierax, jax, blackjax and arviz.
    parameterisation : per group block, the choice asked for and how many levels were sampled
        centred and non-centred; "laplace" where the effects were integrated out by the embedded
        Laplace approximation, with its check (``automatic``: chosen by ``collapse=None``;
        ``corrected``: whether adaptive quadrature's quadratic correction was part of the density,
        and ``correction_error``, its largest error at its validation points), and
        ``laplace_check`` where ``collapse=None`` tried it, its check failed, and every effect was
        sampled instead.
    adaptation : the target acceptance rate used for sampling and, under ``raised``, each run
        whose divergent transitions made it rise (phase, the target then, the count).
    data : the columns of the data the formula uses (saved with the fit, so that a saved fit can
        be reported on, predicted from or checked without the original file).
    sampler_state : the sampler's adapted settings, for ``hierax.fit(..., warm_start=fit)``
        (:class:`hierax.sampler.SamplerState`; not saved with the fit).
    interrupted : True when sampling was stopped by Ctrl-C and the fit holds the draws completed
        before it, as a rule fewer than ``config.draws`` per chain (``idata`` has those kept);
        ``warnings`` then says so. A flag, not only a message, so that code (the CLI, a script
        saving fits) can tell a shortened run from a finished one.
    """

    idata: object
    config: object
    seed: int
    warnings: tuple = ()
    timing: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    parameterisation: dict = field(default_factory=dict)
    adaptation: dict = field(default_factory=dict)
    data: object = field(default=None, repr=False, compare=False)
    sampler_state: object = field(default=None, repr=False, compare=False)
    interrupted: bool = False

    @property
    def has_draws(self) -> bool:
        """True for a NUTS fit; a posterior mode (method "map") is one point, not draws."""
        return self.method == "nuts"

    @property
    def has_idata(self) -> bool:
        """True: the parameters are ``idata``'s posterior (a mode's as a single draw)."""
        return True

    @property
    def priors(self):
        """The priors actually used (a printable :class:`~hierax.model.PriorTable`)."""
        return self.spec.prior_table

    def fixef(self, df: str | None = None) -> pd.DataFrame:
        """Posterior summaries of the fixed effects. ``df`` (small-sample degrees of freedom) is a
        REML/ML fit's option; a posterior's intervals need none, and asking is refused."""
        if df is not None:
            from hierax.errors import ModelError

            raise ModelError(f"df={df!r} (small-sample degrees of freedom) applies to fits by method='reml' or 'ml'; "
                             "a NUTS fit's posterior intervals need none: read fit.fixef()")
        return tables.fixef(self.idata, self.spec)

    def varcorr(self) -> pd.DataFrame:
        """Group-level sds and correlations and the residual sd, laid out as lme4's VarCorr."""
        return tables.varcorr(self.idata, self.spec)

    def ranef(self, diagnostics: bool = True) -> pd.DataFrame:
        """Group-level effects as deviations from the fixed effects: posterior mean, sd, 5% and
        95% quantiles and, with ``diagnostics``, each effect's MCSE, ESS and R-hat. ArviZ
        computes those one effect at a time (6-10 ms each): ``diagnostics=False`` gives the table
        of 200,000 effects in seconds rather than 20 minutes, as brms's ``ranef`` (no diagnostics)."""
        return tables.ranef(self.idata, self.spec, check_flag("diagnostics", diagnostics))

    def coef(self, diagnostics: bool = True) -> pd.DataFrame:
        """Each level's coefficients: fixed plus random (``diagnostics`` as for :meth:`ranef`)."""
        return tables.coef(self.idata, self.spec, check_flag("diagnostics", diagnostics))

    def summary(self) -> pd.DataFrame:
        """Fixed effects, sds, correlations and sigma with mean, sd, 5%/95%, R-hat and ESS.

        ``attrs["warnings"]`` holds the fit's diagnostics in words (empty when all is well; an
        interrupted fit's first says so), ``attrs["interrupted"]`` whether sampling was stopped
        early (``interrupted``), and ``attrs["parameterisation"]`` how each group's effects were
        sampled (collapsed, or how many levels centred and non-centred).
        """
        table = tables.summary(self.idata, self.spec)
        table.attrs["warnings"] = tuple(self.warnings)
        table.attrs["interrupted"] = self.interrupted
        table.attrs["parameterisation"] = dict(self.parameterisation)
        return table

    def imputed(self, level: float = 0.9) -> pd.DataFrame:
        """The missing responses of ``y | mi() ~ ...``, imputed in the fit: each one's posterior
        mean, sd and central ``level`` interval, indexed by the data's row labels (their draws are
        the posterior's ``Ymi``, drawn as ``hierax.missing`` explains)."""
        from hierax.results.imputed import imputed_table

        return imputed_table(self.idata, level)

    def predict(self, newdata=None, kind: str = "mean", new_groups: str = "sample", level: float = 0.95,
                seed: int | None = None) -> pd.DataFrame:
        """Posterior predictions for ``newdata`` (default: the fitted rows), one row per data row.

        Parameters
        ----------
        newdata : DataFrame with the columns of the formula's right-hand side (the response's
            are optional; a binomial model needs them for ``kind="response"``, for the trials).
        kind : ``"mean"`` (the inverse link of the linear predictor: the expected response, a
            probability for bernoulli and binomial), ``"link"`` (the linear predictor) or
            ``"response"`` (a new observation: the posterior predictive distribution).
        new_groups : what a level of a grouping factor the fit never saw gets: ``"sample"``
            (effects drawn from the fitted population distribution; the honest default),
            ``"population"`` (the population mean) or ``"error"``.
        level : probability of the central intervals.

        Returns
        -------
        DataFrame with ``estimate`` (posterior mean), ``sd``, ``lower``, ``upper``, and per
        grouping factor a column ``level[<group>]`` saying whether the row's level was fitted or
        new, and what a new one got.
        """
        from hierax.results.predict import predict

        return predict(self, newdata, kind, new_groups, level, seed)

    def __repr__(self) -> str:
        blocks = ", ".join(f"{b.group} ({b.num_levels} levels)" for b in self.spec.blocks) or "none"
        interrupted = ""
        if self.interrupted:
            interrupted = (f", interrupted after {self.idata.posterior.sizes['draw']} of {self.config.draws} draws "
                           "per chain")
        return (f"FitResult({self.formula!r}, family={self.family}/{self.link}, method={self.method}, "
                f"n={self.spec.num_obs}, groups: {blocks}{interrupted})")
