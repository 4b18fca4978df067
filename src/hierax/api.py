"""``fit()``: the composition of the stages, formula -> design -> spec -> density -> engine -> result."""

from __future__ import annotations

import dataclasses
import functools
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

import jax
from tqdm.auto import tqdm

from hierax._programs import release_if_crowded
from hierax._threads import blas_limit
from hierax.config import check_flag, check_seed, nuts_config
from hierax.density import initial_position
from hierax.density.logdensity import default_centering
from hierax.density.init import crude_fit
from hierax.density.likelihood import row_data, dpar_start, family_likelihood
from hierax.engines.laplace import fit_glmm
from hierax.engines.keys import seed_key, split_keys
from hierax.engines.known_variance import fit_known_variance
from hierax.missing import refuse_other_methods, split_missing_response, with_imputations
from hierax.engines.lmm import fit_lmm
from hierax.errors import HieraxError, ModelError, ModeWarning
from hierax.formula import MvBf, as_bf, as_formula
from hierax.model.build import build_model
from hierax.model.layout import PARAMS
from hierax.model.scaling import unit_scaled
from hierax.model.separation import check_separation
from hierax.outofcore.source import is_out_of_core
from hierax.results import FitResult
from hierax.results.base import FittedModel
from hierax.results.diagnostics import laplace_warnings, mixed_warnings, nuts_warnings
from hierax.results.mixedfit import MixedFit
from hierax.results.idata import build_inference_data
from hierax.results.tables import missing_diagnostics, summary

NUTS_SETTINGS = ("chains", "warmup", "draws", "target_accept", "max_tree_depth", "parameterisation", "collapse",
                 "progress", "warm_start")


@dataclass(frozen=True)
class Engine:
    """A method of fitting, as :func:`fit` looks it up in :data:`ENGINES` by its name.

    Attributes
    ----------
    fit_fn : the function that composes the stages for this method and returns the fit.
    result_type : the class of what it returns (a :class:`~hierax.results.base.FittedModel`).
    arguments : the names of :func:`fit`'s arguments that ``fit_fn`` takes, by keyword. What a
        method takes is declared here, once, rather than spelled by a branch of ``fit``: ``fit``
        passes these, and notes the priors that a method without ``"priors"`` leaves unused.
    """

    fit_fn: Callable[..., FittedModel]
    result_type: type
    arguments: tuple[str, ...]

    @property
    def takes_priors(self) -> bool:
        """Whether the method uses priors (Bayesian methods); others say that they ignored them."""
        return "priors" in self.arguments

    @property
    def takes_nuts_settings(self) -> bool:
        """Whether the method runs the sampler, and so takes NUTS's settings and a warm start."""
        return set(NUTS_SETTINGS) <= set(self.arguments)


def fit(formula: str, data, family: str = "gaussian", method: str = "nuts", priors: dict | None = None,
        chains: int = 4, warmup: int | None = None, draws: int = 1000, seed: int | None = None,
        target_accept: float | None = None, max_tree_depth: int = 10, link: str | None = None,
        parameterisation=None, collapse: bool | None = None, progress: bool = False,
        warm_start: FitResult | None = None, nAGQ: int = 1) -> FittedModel:
    """Fit a hierarchical model written as an lme4/brms formula.

    Parameters
    ----------
    formula : str or ``hx.bf(...)``
        e.g. ``"log_radon ~ floor + (1 + floor | county)"``; ``hx.bf("y ~ x + (1 | g)", sigma="~ x")``
        gives a parameter of the family its own formula (distributional regression, as brms's
        ``bf()``; as text ``"y ~ x + (1 | g); sigma ~ x"``).
    data : pandas or polars DataFrame.
    family : a name from the families table (README; ``hierax.model.families.FAMILIES``): brms's
        names and parametrisations, e.g. "gaussian", "negbinomial", "beta", "student";
        ``link`` overrides the mean's default link.
    method : "nuts" (full Bayesian inference; the default), or "reml" / "ml" for a frequentist fit
        of a gaussian model by the profiled deviance (lme4's method), or "laplace" for every other
        family (lme4's glmer, glmmTMB's families; ``nAGQ`` below), each returning a
        :class:`~hierax.results.mixedfit.MixedFit` with the same tables; or "map", the posterior
        mode (fast, and a warning where it misleads, see :func:`fit_map`).
    priors : dict of overrides keyed by class or name, see :func:`hierax.model.specify`; a family's
        parameter by its name (``"shape"``), a formula's coefficients as ``"Intercept_sigma"``,
        ``"b_sigma"``, ``"b_sigma[x]"``.
    chains, warmup, draws, seed, target_accept, max_tree_depth : NUTS settings (NumPy numbers
        too; fewer than 4 draws or one chain leave ESS/R-hat NaN, with a warning). ``warmup=None``
        is 1,000 iterations, 100 with ``warm_start``. ``target_accept=None`` is 0.95 (0.8 for a
        collapsed model, or one whose every grouping factor has at least 1,000 levels), raised in turn when divergences appear late in warmup or in sampling
        (those draws discarded, :func:`hierax.engines.sample_nuts`); ``fit.adaptation`` says how.
    parameterisation : "auto" (default), "noncentered", "centered", or a dict of these by group.
        "auto" starts every level non-centred and, early in warmup, centres the levels that the
        data inform strongly (see ``hierax.density.centering``); ``fit.parameterisation`` reports
        the outcome.
    collapse : None (default) integrates the group effects out exactly wherever that is possible
        (a gaussian model with the identity link: ``hierax.density.collapsed``), samples the
        few remaining parameters and draws the effects from their exact conditional; the result
        is the same posterior, sampled faster. For other models with one grouping factor of at
        least 1,000 levels and at most three effects a level it integrates them out by the
        corrected Laplace approximation below ("laplace"), and where that approximation's check
        fails it samples every effect instead (``fit.parameterisation`` says which, and keeps
        the failed check; ``fit.timing["laplace_tried"]`` its time). True insists (and fails,
        saying why, where it is not possible); False samples every effect. "laplace" integrates
        them out of any family by the Laplace approximation (``hierax.density.embedded``; the
        embedded Laplace of Margossian et al. 2020): NUTS then samples only the fixed effects, family parameters, sds and
        correlations, faster for GLMMs with many groups, and the effects are drawn from the
        approximation. With one grouping factor (up to three effects a level) adaptive
        quadrature's correction to the approximation, fitted at the mode as a quadratic, is added
        to the density sampled (``hierax.density.embedded_correction``), which takes out the
        Laplace approximation's bias for binary data in small groups. It is approximate:
        ``fit.parameterisation`` gives its check (with one grouping factor, how far a finer
        quadrature over each group's effects moves every fixed effect and sd, in posterior sds,
        and the Pareto k of those weights; else the Pareto k of the effect draws' importance
        ratios), and ``fit.warnings`` says where it fails.
    progress : a progress bar ("compiling the sampler", then warm-up and sampling).
    warm_start : an earlier NUTS fit (in this session) of the same formula to data of the same
        shape: the sampler starts from its metric, step size, centring and last draws, and warmup
        tunes the step size alone, for 100 iterations. For data like that fit's (bootstrap,
        cross-validation); not where the posterior differs much (SBC's prior-predictive data).
    nAGQ : method='laplace' only, lme4's option: 1 (default) is the Laplace approximation; more
        integrates each level's effect by adaptive Gauss-Hermite quadrature with that many nodes
        (``hierax.engines.quadrature``), for models with one grouping factor and one effect per
        level, such as ``(1 | g)``: more accurate for binary data in small clusters.

    Returns
    -------
    FitResult (NUTS, MAP) or MixedFit (REML, ML, Laplace): ``ENGINES[method].result_type``
        One interface (:class:`~hierax.results.base.FittedModel`): ``summary()``, ``fixef()``,
        ``ranef()``, ``varcorr()``, ``coef()``, ``predict()``; a NUTS fit has ``idata`` and ``priors``.
        After Ctrl-C in sampling, the fit of the draws made so far (``fit.interrupted``, a
        warning); in compiling or warm-up nothing is kept and the KeyboardInterrupt propagates.

    Examples
    --------
    >>> import hierax as hx
    >>> fit = hx.fit("Reaction ~ Days + (Days | Subject)", sleepstudy, seed=1)   # doctest: +SKIP
    >>> fit.fixef()                                                              # doctest: +SKIP
    """
    engine = ENGINES.get(method) if isinstance(method, str) else None
    if engine is None:
        raise ModelError(f"unknown method {method!r}; available: {', '.join(METHODS)}")
    _refuse_foreign_settings(engine, method, warm_start, collapse, nAGQ)
    given = {"formula": formula, "data": data, "family": family, "method": method, "link": link, "priors": priors,
             "seed": seed, "chains": chains, "warmup": warmup, "draws": draws, "target_accept": target_accept,
             "max_tree_depth": max_tree_depth, "parameterisation": parameterisation, "collapse": collapse,
             "progress": progress, "warm_start": warm_start, "nAGQ": nAGQ}
    release_if_crowded()
    if is_out_of_core(data):
        return _note_unused_priors(_fit_out_of_core(engine, given), priors, engine, method)
    whole = as_formula(formula)
    if isinstance(whole, MvBf) or _calls(whole, "me"):      # latent predictors: the joint model, by NUTS
        return _fit_joint(formula, data, family, method, link, priors, seed, chains, warmup, draws, target_accept,
                          max_tree_depth, progress)
    _refuse_mi_without_model(whole)
    refuse_other_methods(formula, method)
    split = split_missing_response(formula, data)
    if split is not None:                   # y | mi(): fit the observed rows, then draw the missing ones
        given["data"] = split[0]
    result = engine.fit_fn(**{name: given[name] for name in engine.arguments})
    if split is not None and len(split[1]):
        result = with_imputations(result, split[1], result.seed)
    return _note_unused_priors(result, priors, engine, method)


def _note_unused_priors(result, priors, engine: Engine, method: str):
    if priors and not engine.takes_priors:
        note = f"priors are not used by method={method!r} (they apply to method='nuts')"
        result = dataclasses.replace(result, warnings=result.warnings + (note,))
    return result


def _fit_out_of_core(engine: Engine, given: dict) -> FittedModel:
    """A Dask frame or Parquet files: the fit from sums over their chunks (``hierax.outofcore``):
    REML/ML, or NUTS with the group effects integrated out (the collapsed sampler's statistics
    are sums too)."""
    from hierax.outofcore.fit import fit_lmm_summarised

    method = given["method"]
    if method == "nuts":
        if given["collapse"] is False or given["warm_start"] is not None:
            raise ModelError("out-of-core data are sampled with the group effects integrated out (collapse=None) and "
                             "without warm_start: both other choices read every row at every step")
        return _fit_nuts(**{name: given[name] for name in engine.arguments})
    if method not in ("reml", "ml"):
        raise ModelError(f"out-of-core data (a Dask frame or Parquet files) are fitted by method='reml', 'ml' or "
                         f"'nuts' so far, not {method!r}; fit a data frame in memory for method={method!r}")
    text, design, spec, output, timing = fit_lmm_summarised(given["formula"], given["data"], given["family"], method,
                                                           given["link"])
    return MixedFit(text, spec.family.name, spec.link.name, method, spec, design.info, output,
                    mixed_warnings(output, spec), timing, _versions(), None)


def _calls(formula, func: str) -> list:
    """The calls of ``func`` (mi, me) among the mean's fixed terms' factors."""
    return [factor for term in formula.mean.fixed for factor in term.factors if getattr(factor, "func", None) == func]


def _refuse_mi_without_model(formula) -> None:
    """mi(x) among the predictors needs a model for x, added with ``+ hx.bf("x | mi() ~ ...")``."""
    for factor in _calls(formula, "mi"):
        name = factor.args[0].name
        raise ModelError(f"mi({name}) imputes {name!r} from a model of it, which the formula lacks: write "
                         f"hx.bf({formula.formula!r}) + hx.bf('{name} | mi() ~ ...'), its predictors on the "
                         "right (e.g. '~ 1' for none)")


def _fit_joint(formula, data, family, method, link, priors, seed, chains, warmup, draws, target_accept,
               max_tree_depth, progress):
    """``hx.bf("y ~ mi(x)") + hx.bf("x | mi() ~ z")``, or ``y ~ me(x, sdx)``: by NUTS only
    (``hierax.missing_predictor``)."""
    if method != "nuts":
        raise ModelError(f"latent predictors (mi(x), me(x, sdx)) are fitted by method='nuts', not {method!r}")
    from hierax.formula import MvBf as Whole
    from hierax.missing_predictor import fit_joint     # BlackJAX loads with the first NUTS fit

    whole = as_formula(formula)
    return fit_joint(whole if isinstance(whole, Whole) else Whole((whole,)), data, family, link, priors, seed, chains, warmup, draws, target_accept,
                     max_tree_depth, progress)


def _fit_nuts(formula, data, family, link, priors, seed, chains, warmup, draws, target_accept, max_tree_depth,
              parameterisation, collapse, progress, warm_start) -> FitResult:
    """Full Bayesian inference by NUTS (see :func:`fit`, whose arguments these are): the model
    built, its columns put on unit scale, the sampler run and its output made a FitResult.

    Warnings are raised at the caller of :func:`fit`, two frames up (``stacklevel``)."""
    if warmup is None:
        warmup = 1000 if warm_start is None else WARM_WARMUP
    config = nuts_config(chains, warmup, draws, target_accept, max_tree_depth)
    seed = check_seed(seed)
    progress = check_flag("progress", progress)
    timing = {}
    start = time.perf_counter()
    formula = str(as_bf(formula))           # a distributional formula as text: "y ~ x; sigma ~ x"
    if is_out_of_core(data):                  # sums over the chunks where the rows are: hierax.outofcore
        from hierax.outofcore.fit import nuts_model

        formula, design, spec, sampled, scale = nuts_model(formula, data, family, link, priors, parameterisation)
    else:
        design, spec = build_model(formula, data, family, link, priors, parameterisation)
        sampled, scale = unit_scaled(spec)    # columns far from unit scale sampled on it: model/scaling.py
    warm = _warm_state(warm_start, formula, spec)
    timing["setup"] = time.perf_counter() - start
    from hierax.sampler import SpecSampler       # BlackJAX loads with the first NUTS fit

    if collapse is None and warm is not None and not warm.collapsed:
        collapse = False                      # as that fit was sampled (it may have fallen back, below)
    sampler = SpecSampler(sampled, config, collapse)
    _say(missing_diagnostics(config.chains, config.draws), 4)      # before sampling: a short run can be stopped
    output = _run_nuts(sampler, seed, progress, timing, warm)
    result = _nuts_result(formula, data, design, spec, scale, sampler, output, seed, timing)
    if getattr(sampler.target, "automatic", False) and not output.interrupted \
            and laplace_warnings(result.parameterisation):
        return _every_effect_instead(formula, data, design, spec, sampled, scale, config, seed, progress, timing,
                                     result.parameterisation)
    return result


def _every_effect_instead(formula, data, design, spec, sampled, scale, config, seed, progress, timing,
                          check: dict) -> FitResult:
    """The fit sampling every effect, where the embedded Laplace that ``collapse=None`` chose
    failed its check (``check``: its ``fit.parameterisation``, kept beside the new one as
    ``laplace_check``): a default must not return a posterior its own diagnostics call biased."""
    from hierax.sampler import SpecSampler

    sampler = SpecSampler(sampled, config, False)
    laplace_seconds = timing.pop("sampling")
    output = _run_nuts(sampler, seed, progress, timing)
    timing["laplace_tried"] = laplace_seconds
    result = _nuts_result(formula, data, design, spec, scale, sampler, output, seed, timing)
    described = {name: {**value, "laplace_check": check.get(name)} for name, value in result.parameterisation.items()}
    return dataclasses.replace(result, parameterisation=described)


def _nuts_result(formula, data, design, spec, scale, sampler, output, seed: int,
                 timing: dict) -> FitResult:
    """The FitResult of a NUTS run: draws named and constrained (beta in the units of ``spec``'s
    columns, of which the sampler saw ``X / scale``), diagnostics in words; an interrupted run's
    says so first, and in a warning."""
    start = time.perf_counter()
    lazy = None
    if is_out_of_core(data):                # the effects drawn when read: hierax.outofcore.lazy
        from hierax.outofcore.lazy import lazy_effects as lazy
    params = sampler.params(output, split_keys(seed_key(seed), 1, 1)[0], lazy)
    params = {**params, PARAMS.fixed: params[PARAMS.fixed] / scale}
    idata = build_inference_data(spec, output, design.response_name, params)
    chains, draws = output.diverging.shape
    interrupted = (_interrupted_message(draws, sampler.config.draws),) if output.interrupted else ()
    _say(interrupted, 5)
    messages = interrupted + nuts_warnings(idata, sampler.config.max_tree_depth, summary(idata, spec),
                                           sampler.describe(output)) + missing_diagnostics(chains, draws)
    timing["results"] = time.perf_counter() - start
    return FitResult(formula, spec.family.name, spec.link.name, "nuts", spec, design.info, idata, sampler.config,
                     seed, messages, timing, _versions(), sampler.describe(output),
                     {"target_accept": output.target_accept,
                      "raised": [{"phase": phase, "target_accept": t, "divergent": n}
                                 for phase, t, n in output.escalations]},
                     used_columns(formula, data), sampler.state(output), output.interrupted)


def _interrupted_message(kept: int, asked: int) -> str:
    """What an interrupted fit holds, and what to do about it."""
    if kept < asked:
        return (f"sampling was interrupted after {kept} of {asked} draws per chain: the fit holds the draws "
                "completed, and estimates and diagnostics (R-hat, ESS) from fewer draws than asked for are "
                "unreliable; fit again and let sampling finish for results to report.")
    return (f"sampling was interrupted after all {asked} draws per chain, before hierax could act on their "
            "divergent transitions, if any (by raising target_accept and sampling again): the fit holds those "
            "draws; fit again and let sampling finish for results to report.")


def _say(messages, stacklevel: int) -> None:
    """Each message as a UserWarning at the caller of :func:`fit` (``stacklevel`` frames up), at
    once: a notebook user may not read ``fit.warnings``."""
    for message in messages:
        warnings.warn(message, UserWarning, stacklevel=stacklevel)


WARM_WARMUP = 100  # a warm start's warmup: Stan's final fast window is 50 iterations; twice that, from a tuned step


def _warm_state(warm_start, formula: str, spec):
    """The sampler state of ``warm_start``, checked to be a NUTS fit of the same model (None if None)."""
    if warm_start is None:
        return None
    state = getattr(warm_start, "sampler_state", None)
    if not isinstance(warm_start, FitResult) or state is None:
        raise HieraxError("warm_start takes a fit made by hx.fit(..., method='nuts') in this session; a fit made "
                          "by another method, or loaded from a file, has no sampler settings to start from")
    if not isinstance(formula, str) or "".join(warm_start.formula.split()) != "".join(formula.split()):
        raise HieraxError(f"warm_start: that fit is of {warm_start.formula!r}, this one of {formula!r}; a warm start "
                          "needs the same formula")
    if (warm_start.family, warm_start.link) != (spec.family.name, spec.link.name):
        raise HieraxError(f"warm_start: that fit is {warm_start.family} with link {warm_start.link}, this one "
                          f"{spec.family.name} with link {spec.link.name}; a warm start needs the same family and link")
    return state


def used_columns(formula: str, data):
    """The columns of ``data`` that ``formula`` names (kept with a fit, and saved with it); None
    for out-of-core data, whose rows stay where they are."""
    from hierax.design import as_pandas

    if is_out_of_core(data):
        return None

    return as_pandas(data)[list(as_bf(formula).variables)].copy()


def _refuse_foreign_settings(engine, method: str, warm_start, collapse, nAGQ) -> None:
    """A HieraxError where a setting of another method was given (warm_start and collapse are
    NUTS's, nAGQ Laplace's): silently ignoring it would fit something other than what was asked."""
    if warm_start is not None and not engine.takes_nuts_settings:
        raise HieraxError(f"warm_start is for method='nuts' (it reuses the sampler's settings), not {method!r}")
    if collapse is not None and "collapse" not in engine.arguments:
        hint = (" (method='laplace' is lme4's frequentist fit; collapse='laplace' is NUTS with the effects integrated "
                "out by the same approximation)") if isinstance(collapse, str) and collapse == "laplace" else ""
        raise HieraxError(f"collapse (how NUTS treats the group effects) does not apply to method={method!r}; leave it "
                          f"out, or fit with method='nuts'{hint}")
    if (isinstance(nAGQ, bool) or nAGQ != 1) and "nAGQ" not in engine.arguments:
        raise HieraxError(f"nAGQ (the quadrature of method='laplace') does not apply to method={method!r}; "
                          "leave it at 1, or fit with method='laplace'")


def fit_mixed(formula: str, data, family: str = "gaussian", method: str = "reml", link: str | None = None,
              nAGQ: int = 1) -> MixedFit:
    """REML/ML fit of a linear mixed model or Laplace fit of a GLMM (see :func:`fit`; ``nAGQ`` for
    Laplace only); no priors."""
    release_if_crowded()
    start = time.perf_counter()
    formula = str(as_bf(formula))
    design, spec = build_model(formula, data, family, link, bayesian=False)
    gaussian = spec.family.collapsible and spec.link.name == "identity" and not spec.dpar_predictors
    if spec.incomplete:
        raise ModelError(f"censored or truncated responses (cens(), trunc()) are not supported by method={method!r} "
                         "yet; fit them with method='nuts'")
    if spec.dpar_predictors and method == "reml":
        names = ", ".join(p.dpar for p in spec.dpar_predictors)
        raise ModelError(f"method='reml' does not fit a formula for {names}: fit it by maximum likelihood, "
                         "method='ml' (or 'laplace': for a gaussian response its integral over the group effects is "
                         "exact), or by method='nuts'")
    # the Laplace engine estimates a formula's coefficients, exactly so for a gaussian response
    engine = "laplace" if method == "laplace" or spec.dpar_predictors else "lmm"
    if method == "laplace" and gaussian:
        raise ModelError("method='laplace' is for GLMMs; a gaussian model is fitted exactly by method='reml' or 'ml'")
    if engine != "laplace" and not gaussian:
        raise ModelError(f"method={method!r} fits gaussian models with the identity link; for "
                          f"{spec.family.name} use method='laplace' or method='nuts'")
    if spec.weights is not None and engine != "laplace":
        raise ModelError(f"weights(w) are not supported by method={method!r} yet (hierax's weights multiply each row's "
                         "log-likelihood, as brms's and glmmTMB's do, not lme4's precision weights); use method='nuts'")
    if not spec.blocks and spec.se is None:
        raise ModelError("the formula has no group terms such as (1 | g); a linear model without them "
                          "needs no REML")
    blocks = list(spec.blocks)
    timing = {"setup": time.perf_counter() - start}
    start = time.perf_counter()
    if engine == "laplace":
        check_separation(spec)
    with blas_limit():                      # one BLAS thread by default: see hierax._threads
        if engine == "laplace":
            output = fit_glmm(spec.X, spec.y, blocks, family_likelihood(spec), trials=row_data(spec),
                              offset=spec.offset, phi_start=dpar_start(spec),
                              beta_start=crude_fit(spec)[0], nagq=nAGQ)
        elif spec.se is not None:       # known sds per row: a meta-analysis (metafor's rma)
            output = fit_known_variance(spec.X, spec.y, spec.se, blocks, reml=(method == "reml"), offset=spec.offset,
                                        residual_sd=spec.se_sigma)
        else:
            output = fit_lmm(spec.X, spec.y, blocks, reml=(method == "reml"), offset=spec.offset)
    timing["optimisation"] = time.perf_counter() - start
    return MixedFit(formula, spec.family.name, spec.link.name, method, spec, design.info, output,
                    mixed_warnings(output, spec), timing, _versions(), used_columns(formula, data))


def fit_map(formula: str, data, family: str = "gaussian", link: str | None = None, priors: dict | None = None,
            seed: int | None = None) -> FitResult:
    """The joint posterior mode over beta, the group effects, their sds and correlations, and sigma.

    The result has the tables of a NUTS fit, from one "draw" (the mode). In hierarchical models
    this mode puts a weakly informed group sd at or near zero even when its posterior mean is
    well away from it; ``fit.warnings`` says so, naming the sd and comparing it with the
    marginal estimate (REML, or Laplace for GLMMs), which integrates the group effects out.
    """
    import jax.numpy as jnp
    import numpy as np

    from hierax.density import make_constrain, make_log_prior, make_pointwise_loglik
    from hierax.engines.mode import find_mode
    from hierax.results.diagnostics import map_warnings
    from hierax.results import _arviz
    from hierax.results.idata import _dataset, posterior_dataset

    seed = check_seed(seed)
    start = time.perf_counter()
    formula = str(as_bf(formula))
    design, spec = build_model(formula, data, family, link, priors, "centered")
    constrain, loglik, log_prior = make_constrain(spec), make_pointwise_loglik(spec), make_log_prior(spec)
    centring = default_centering(spec)

    def log_posterior(position):            # no Jacobian: the mode over the model's own parameters
        params, _ = constrain(position, centring)
        return jnp.sum(loglik(params)) + log_prior(params, position, centring)

    with blas_limit():
        mode = find_mode(log_posterior, initial_position(jax.random.PRNGKey(seed), spec))
    params = jax.tree_util.tree_map(lambda x: np.asarray(x)[None, None], constrain(mode.position, centring)[0])
    variables, coords = posterior_dataset(spec, params)
    idata = _arviz.results(posterior=_dataset(variables, coords))
    messages = map_warnings(spec, params, _marginal_fit(formula, data, spec, family, link), mode)
    for message in messages:                # said at once too: a notebook user may not read fit.warnings
        warnings.warn(message, ModeWarning, stacklevel=3)
    return FitResult(formula, spec.family.name, spec.link.name, "map", spec, design.info, idata, None, seed, messages,
                     {"optimisation": time.perf_counter() - start}, _versions())


def _marginal_fit(formula, data, spec, family, link):
    """The REML (gaussian) or Laplace (GLMM) fit to compare a mode's sds with, or None."""
    gaussian = spec.family.collapsible and spec.link.name == "identity"
    try:
        return fit_mixed(formula, data, family, "reml" if gaussian else "laplace", link)
    except HieraxError:
        return None


def _run_nuts(sampler, seed, progress: bool, timing, warm=None):
    """The sampler's output, with a progress bar if asked; Ctrl-C in sampling keeps the draws made.

    The bar reads "compiling the sampler" until the first chunk of warm-up is done: on a first
    fit JAX compiles for seconds before then, and a bar at "warmup 0" looks stuck. A Ctrl-C
    before the first draw is raised again without the frames of JAX it interrupted (its
    traceback was 58 lines of them), since there is nothing to keep.
    """
    start = time.perf_counter()
    config = sampler.config
    bar = tqdm(total=config.warmup + config.draws, desc="compiling the sampler", unit="it", leave=False,
               disable=None if progress else True)        # None: shown on a terminal or in a notebook, not in a log

    def update(phase, steps):
        bar.set_description(phase)
        bar.update(steps)

    try:
        with blas_limit():
            output = sampler.sample(seed_key(seed), progress=update, warm=warm, keep_interrupted=True)
    except KeyboardInterrupt:
        raise KeyboardInterrupt("interrupted before the first draw (while compiling or in warm-up): there are no "
                                "draws to keep") from None
    finally:
        bar.close()
    timing["sampling"] = time.perf_counter() - start
    return output


def _versions() -> dict:
    """The versions a result records (a copy: results are independent)."""
    return dict(_installed_versions())


@functools.lru_cache(maxsize=1)
def _installed_versions() -> dict:
    """Read once: importlib.metadata parses each package's METADATA file, 0.7 ms a package, a
    quarter of a small REML refit's time when read at every fit."""
    out = {}
    for package in ("hierax", "jax", "blackjax", "arviz"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "unknown"
    return out


# The registry of methods: adding an engine is one entry here plus the function that composes it.
ENGINES = {
    "nuts": Engine(_fit_nuts, FitResult, ("formula", "data", "family", "link", "priors", "seed") + NUTS_SETTINGS),
    "reml": Engine(fit_mixed, MixedFit, ("formula", "data", "family", "method", "link")),
    "ml": Engine(fit_mixed, MixedFit, ("formula", "data", "family", "method", "link")),
    "laplace": Engine(fit_mixed, MixedFit, ("formula", "data", "family", "method", "link", "nAGQ")),
    "map": Engine(fit_map, FitResult, ("formula", "data", "family", "link", "priors", "seed")),
}
METHODS = tuple(ENGINES)      # the names, in the order errors and ``hierax fit --help`` list them
