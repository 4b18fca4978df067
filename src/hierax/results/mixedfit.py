"""The result of a REML or ML fit: estimates, tidy tables with the NUTS tables' layout, and the
likelihood quantities lme4 users look for (logLik, deviance, REML criterion, AIC, BIC, df)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special  # not scipy.stats: a fifth of a second of every REML fit's start

from hierax.errors import ModelError
from hierax.model.links import LINKS
from hierax.model.spec import SE_FIXES as RESIDUAL     # the residual sd's name (sigma)
from hierax.model import layout
from hierax.results.base import FittedModel
from hierax.results.idata import cor_pairs
from hierax.results.tables import varcorr_index


@dataclass(frozen=True)
class MixedFit(FittedModel):
    """A frequentist fit: REML/ML of a linear mixed model, or Laplace of a GLMM.

    Attributes
    ----------
    formula, family, link, method : as given ("reml", "ml" or "laplace").
    spec : the ModelSpec; ``design_info`` what is needed to encode new data.
    output : the engine's :class:`hierax.engines.lmm.LMMOutput` (theta, estimates, optimisation).
    warnings : singular fits and convergence problems, in plain words.
    timing, versions : seconds per stage; versions of hierax and its numerical libraries.
    data : the columns of the data the formula uses (saved with the fit, as a NUTS fit's are).
    """

    output: object
    warnings: tuple = ()
    timing: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    data: object = field(default=None, repr=False, compare=False)

    # -- what the fit holds: estimates with standard errors, no draws ------------------------------
    @property
    def has_draws(self) -> bool:
        """False: estimates and their standard errors; predictive intervals come from ``predict``."""
        return False

    @property
    def has_idata(self) -> bool:
        """False: the engine's estimates are ``output``, not an ArviZ posterior."""
        return False

    # -- likelihood quantities (lme4's definitions) -------------------------------------------
    @property
    def df(self) -> int:
        """Number of estimated parameters: fixed effects, theta, the residual sd of a linear mixed
        model and the family's scalar parameters of a Laplace fit (shape, phi, sigma, nu, zi, hu)."""
        return (len(self.spec.fixed_names) + len(self.output.theta) + (self.output.sigma is not None)
                + len(self._family_link_scale()[0]))

    @property
    def loglik(self) -> float:
        """The log likelihood (ML) or restricted log likelihood (REML) at the estimates."""
        return -0.5 * self.output.objective

    @property
    def deviance(self) -> float:
        """-2 loglik (for a REML fit, -2 times the restricted log likelihood)."""
        return self.output.objective

    @property
    def reml_criterion(self) -> float | None:
        return self.output.objective if self.output.reml else None

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.df

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + self.df * np.log(self.nobs)

    @property
    def sigma(self) -> float | None:
        """Residual sd (None for families without one): a linear mixed model's, or the scale
        ``sigma`` of a student or lognormal family fitted by Laplace."""
        if self.output.sigma is not None:
            return self.output.sigma
        family = self.family_params()
        return float(family.loc[RESIDUAL, "estimate"]) if RESIDUAL in family.index else None

    @property
    def singular(self) -> bool:
        return bool(self.output.singular)

    @property
    def optimisation(self):
        """Start, end, evaluations, optimiser, message, exact gradient: the audit trail."""
        return self.output.optimisation

    # -- tidy tables ------------------------------------------------------------------------------
    def fixef(self, level: float = 0.95, df: str | None = None) -> pd.DataFrame:
        """Fixed effects: estimate, standard error, t statistic and Wald interval; with
        ``df="satterthwaite"`` or ``"kenward-roger"`` (a linear mixed model by REML or ML),
        lmerTest's table instead: the df, t, its p-value and t intervals, with Kenward and Roger's
        adjusted se for the latter (``hierax.results.ddf``)."""
        if df is not None:
            from hierax.results import ddf

            return ddf.fixef_table(self, df, level)
        out = self.output
        estimate, se = np.asarray(out.beta, float), np.sqrt(np.diag(out.vcov_beta))
        names = list(self.spec.fixed_names)
        phi, vcov = self._family_link_scale()
        start = len(self.spec.scalar_dpars)
        formulas = sum(p.num_fixed for p in self.spec.dpar_predictors)
        if formulas:                        # each parameter formula's coefficients, on its link scale
            estimate = np.concatenate([estimate, phi[start:start + formulas]])
            se = np.concatenate([se, np.sqrt(np.diag(vcov))[start:start + formulas]])
            names += [name for p in self.spec.dpar_predictors for name in p.fixed_names]
        if self.spec.thresholds:            # an ordinal model's thresholds, first (brms's order)
            cut, cut_se = _thresholds(phi[start + formulas:], vcov[start + formulas:, start + formulas:])
            estimate, se = np.concatenate([cut, estimate]), np.concatenate([cut_se, se])
            names = [layout.threshold_label(k) for k in range(1, len(cut) + 1)] + names
        z = special.ndtri(0.5 + level / 2)
        return pd.DataFrame({"estimate": estimate, "se": se, "statistic": estimate / se,
                             "lower": estimate - z * se, "upper": estimate + z * se},
                            index=pd.Index(names, name="term"))

    def anova(self, type=3, df: str = "satterthwaite") -> pd.DataFrame:
        """lmerTest's anova table: an F test of each fixed-effect term with Satterthwaite's or
        Kenward-Roger's df (type 3, or sequential type 1; :func:`hierax.results.anova.anova`)."""
        from hierax.results.anova import anova

        return anova(self, type=type, df=df)

    def contrast(self, L, df: str = "satterthwaite") -> pd.DataFrame:
        """A test of the fixed effects' contrast ``L`` (a vector, or a matrix of several
        contrasts tested jointly) with small-sample df, as lmerTest's ``contest``: for a vector,
        the estimate, se, df, t and p; for a matrix, the F statistic, its numerator and
        denominator df and p (``hierax.results.ddf``)."""
        from hierax.results import ddf

        ddf.check_method(df)
        L = np.asarray(L, dtype=float)
        p = len(self.spec.fixed_names)
        if L.ndim not in (1, 2) or L.shape[-1] != p or not np.all(np.isfinite(L)):
            raise ModelError(f"the contrast needs {p} finite numbers a row, one per fixed effect "
                             f"({list(self.spec.fixed_names)}); got an array of shape {L.shape}")
        pieces = ddf.tests_for(self, df)
        row = pieces.t_test(L) if L.ndim == 1 else pieces.f_test(L)
        return pd.DataFrame([row], index=pd.Index(["contrast"], name="term"))

    def _family_link_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """The family's scalar parameters on their link scales and their covariance: what a
        Laplace fit estimates with beta (an LMM's output has none: its sigma is profiled out)."""
        phi = getattr(self.output, "phi", np.zeros(0))
        return np.asarray(phi, float), np.asarray(getattr(self.output, "vcov_phi", np.zeros((0, 0))), float)

    def family_params(self, level: float = 0.95) -> pd.DataFrame:
        """The family's parameters besides the mean (``shape``, ``phi``, ``sigma``, ``nu``, ``zi``,
        ``hu``), one row each, on their natural scale.

        They are estimated on their link scale (``link_estimate``, ``link_se``, the columns
        glmmTMB's ``betad``/``psi``/``betazi`` correspond to), where the likelihood is closer to
        quadratic, so the natural-scale ``se`` is the delta method's (|d inverse / d eta| times
        the link-scale se) and the interval is the link-scale Wald interval mapped back, which
        stays inside the parameter's support. Empty for a family with no such parameter.
        """
        phi, vcov = self._family_link_scale()
        link_se = np.sqrt(np.diag(vcov)) if len(phi) else np.zeros(0)
        z = special.ndtri(0.5 + level / 2)
        dpars = self.spec.scalar_dpars if len(phi) else ()
        rows = []
        for dpar, eta, se in zip(dpars, phi, link_se):
            link = LINKS[dpar.link]
            rows.append({"estimate": float(link.inverse(eta)), "se": float(np.exp(link.log_derivative(eta))) * se,
                         "lower": float(link.inverse(eta - z * se)), "upper": float(link.inverse(eta + z * se)),
                         "link": dpar.link, "link_estimate": eta, "link_se": se})
        columns = ["estimate", "se", "lower", "upper", "link", "link_estimate", "link_se"]
        return pd.DataFrame(rows, columns=columns, index=pd.Index([d.name for d in dpars], name="term"))

    def _family_residual_sd(self) -> float | None:
        """The sigma of a student or lognormal family fitted by Laplace: shown where lme4 shows a
        residual sd (it does not scale the group effects, whose factors are absolute here)."""
        family = self.family_params()
        return float(family.loc[RESIDUAL, "estimate"]) if RESIDUAL in family.index else None

    def varcorr(self) -> pd.DataFrame:
        """sds and correlations as lme4's ``as.data.frame(VarCorr(fit))``: ``estimate`` is the sd or
        correlation (lme4's sdcor), ``vcov`` the variance or covariance; a blank ``var1``/``var2``
        is '' (``print(fit)`` shows them as lme4's ``VarCorr`` prints them); indexed by the labels of
        ``summary()``."""
        rows = []
        sigma2 = 1.0 if self.output.sigma is None else self.output.sigma**2
        for block, T in zip(self.spec.blocks, self.output.factors):
            cov = sigma2 * T @ T.T
            sd = np.sqrt(np.diag(cov))
            for k, term in enumerate(block.terms):
                rows.append((block.group, term, "", sd[k], cov[k, k]))
            if block.has_cor:
                for i, j in cor_pairs(block.terms):
                    cor = cov[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else np.nan
                    rows.append((block.group, block.terms[i], block.terms[j], cor, cov[i, j]))
        residual = self.output.sigma if self.output.sigma is not None else self._family_residual_sd()
        if residual is not None:
            rows.append(("Residual", "", "", residual, residual**2))
        return pd.DataFrame(rows, columns=["group", "var1", "var2", "estimate", "vcov"],
                            index=varcorr_index([row[:3] for row in rows]))

    def ranef(self) -> pd.DataFrame:
        """Conditional modes of the group effects (``estimate``) and their conditional sds (``se``)."""
        return self._group_table(add_fixed=False)

    def coef(self) -> pd.DataFrame:
        """Each level's coefficients: fixed effect plus conditional mode, for effects also fixed."""
        return self._group_table(add_fixed=True)

    def summary(self) -> pd.DataFrame:
        """Fixed effects (with se) then sds, correlations and sigma, then the family's other
        parameters (shape, phi, nu, zi, hu) with their delta-method se, labelled as in the NUTS
        summary. The sds and correlations have no se (lme4 gives none); sigma has one when the
        family estimates it with the fixed effects (student, lognormal by Laplace)."""
        vc = self.varcorr()[["estimate"]].assign(se=np.nan)
        family = self.family_params()[["estimate", "se"]]
        shared = family.index.intersection(vc.index)
        vc.loc[shared, "se"] = family.loc[shared, "se"]
        others = family.drop(index=shared)
        return pd.concat([self.fixef()[["estimate", "se"]], vc] + ([others] if len(others) else []))

    def _group_table(self, add_fixed: bool) -> pd.DataFrame:
        frames = []
        fixed = dict(zip(self.spec.fixed_names, self.output.beta))
        all_variances = self.output.random_variances() if not add_fixed else [None] * len(self.spec.blocks)
        for block, modes, variances in zip(self.spec.blocks, self.output.random_effects, all_variances):
            for k, term in enumerate(block.terms):
                estimate = modes[:, k] + (fixed.get(term, 0.0) if add_fixed else 0.0)
                frame = pd.DataFrame({"group": block.group, "level": list(block.levels), "term": term,
                                      "estimate": estimate})
                if not add_fixed:
                    frame["se"] = np.sqrt(variances[:, k])
                frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def predict(self, newdata=None, kind: str = "mean", new_groups: str = "sample", level: float = 0.95,
                seed: int | None = None, num_draws: int = 1000) -> pd.DataFrame:
        """Predictions for ``newdata`` (default: the fitted rows) with simulation intervals.

        ``estimate`` is the prediction at the estimates (lme4's ``predict``; new levels at the
        population mean), except for ``kind="response"``, where it is the mean of the simulated
        responses. Intervals come from ``num_draws`` draws of the fixed effects (N(beta^, V^)) and
        of each level's effects from their conditional distribution, as merTools'
        ``predictInterval``; the variance parameters are held at their estimates. Other arguments
        and the columns returned are as for :meth:`hierax.FitResult.predict`.
        """
        from hierax.results.predict import predict

        return predict(self, newdata, kind, new_groups, level, seed, num_draws)

    def __str__(self) -> str:
        """The fit as lme4's ``summary()`` prints it: criterion, random effects, groups, fixed effects."""
        from hierax.results.lme4_text import summary_text

        return summary_text(self)

    def __repr__(self) -> str:
        kind = "REML criterion" if self.output.reml else "deviance" if self.method == "ml" else "-2 logLik (Laplace)"
        return (f"MixedFit({self.formula!r}, method={self.method}, n={self.nobs}, {kind} "
                f"{self.output.objective:.4f}{', singular' if self.singular else ''})")


def _thresholds(raw: np.ndarray, vcov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The thresholds c = ordered(raw) (c_1 = raw_1, c_k = c_{k-1} + exp(raw_k)) and their standard
    errors by the delta method: J V J' with dc_k / draw_j = 1 (j = 1) or exp(raw_j) (1 < j <= k)."""
    steps = np.concatenate([raw[:1], np.exp(raw[1:])])
    jacobian = np.tril(np.ones((len(raw), len(raw)))) * np.concatenate([[1.0], np.exp(raw[1:])])[None, :]
    return np.cumsum(steps), np.sqrt(np.diag(jacobian @ vcov @ jacobian.T))


def likelihood_ratio_test(smaller: MixedFit, larger: MixedFit) -> pd.DataFrame:
    """Likelihood-ratio test of nested ML fits (chi-squared on the difference in df).

    REML criteria of models with different fixed effects are not comparable, so both fits must be
    ML (refit with ``method="ml"``), as lme4's ``anova`` refits them.
    """
    from hierax.errors import HieraxError

    for fit in (smaller, larger):
        if not isinstance(fit, MixedFit) or fit.method != "ml":
            raise HieraxError("a likelihood-ratio test needs two fits with method='ml' (REML criteria of "
                              "models with different fixed effects are not comparable); refit with method='ml'")
    if smaller.nobs != larger.nobs:
        raise HieraxError(f"the fits use different data ({smaller.nobs} and {larger.nobs} observations)")
    if larger.df <= smaller.df:
        raise HieraxError("the second fit must be the larger model (more parameters than the first)")
    chisq = max(smaller.deviance - larger.deviance, 0.0)
    ddf = larger.df - smaller.df
    return pd.DataFrame({
        "df": [smaller.df, larger.df], "aic": [smaller.aic, larger.aic], "bic": [smaller.bic, larger.bic],
        "loglik": [smaller.loglik, larger.loglik], "deviance": [smaller.deviance, larger.deviance],
        "chisq": [np.nan, chisq], "chi_df": [np.nan, ddf], "p_value": [np.nan, special.chdtrc(ddf, chisq)],
    }, index=pd.Index([smaller.formula, larger.formula], name="model"))
