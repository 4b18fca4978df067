"""``fit()``: the composition of the stages, formula -> design -> spec -> density -> engine -> result."""

from __future__ import annotations

import time
from importlib import metadata

import jax
from tqdm.auto import tqdm

from hierax.config import check_seed, nuts_config
from hierax.density import initial_position, make_logdensity
from hierax.density.centering import describe_centering, make_retune
from hierax.density.logdensity import default_centering
from hierax.design import build_design
from hierax.engines import sample_nuts
from hierax.errors import HieraxError
from hierax.formula import parse_formula
from hierax.model import specify
from hierax.results import FitResult
from hierax.results.diagnostics import nuts_warnings
from hierax.results.idata import build_inference_data
from hierax.results.tables import summary

METHODS = ("nuts",)


def fit(formula: str, data, family: str = "gaussian", method: str = "nuts", priors: dict | None = None,
        chains: int = 4, warmup: int = 1000, draws: int = 1000, seed: int | None = None,
        target_accept: float | None = None, max_tree_depth: int = 10, link: str | None = None,
        parameterisation=None, progress: bool = False) -> FitResult:
    """Fit a hierarchical model written as an lme4/brms formula.

    Parameters
    ----------
    formula : str
        e.g. ``"log_radon ~ floor + (1 + floor | county)"``.
    data : pandas or polars DataFrame.
    family : "gaussian", "bernoulli", "binomial" or "poisson"; ``link`` overrides the default link.
    method : "nuts" (full Bayesian inference; the default).
    priors : dict of overrides keyed by class or name, see :func:`hierax.model.specify`.
    chains, warmup, draws, seed, target_accept, max_tree_depth : NUTS settings.
        ``target_accept=None`` (default) is 0.95, raised to 0.99 when divergent transitions
        appear late in warmup or in sampling (then discarded, the end of warmup rerun and
        sampling restarted, see :func:`hierax.engines.sample_nuts`); a number is used as given.
        ``fit.adaptation`` reports what happened.
    parameterisation : "auto" (default), "noncentered", "centered", or a dict of these by group.
        "auto" starts every level non-centred and, early in warmup, centres the levels that the
        data inform strongly (see ``hierax.density.centering``); ``fit.parameterisation`` reports
        the outcome.
    progress : show a progress bar.

    Returns
    -------
    FitResult
        With ``summary()``, ``fixef()``, ``ranef()``, ``varcorr()``, ``coef()``, ``idata``, ``priors``.

    Examples
    --------
    >>> import hierax as hx
    >>> fit = hx.fit("Reaction ~ Days + (Days | Subject)", sleepstudy, seed=1)   # doctest: +SKIP
    >>> fit.fixef()                                                              # doctest: +SKIP
    """
    if method not in METHODS:
        raise HieraxError(f"unknown method {method!r}; available: {', '.join(METHODS)}")
    config = nuts_config(chains, warmup, draws, target_accept, max_tree_depth)
    seed = check_seed(seed)
    timing = {}
    start = time.perf_counter()
    design = build_design(parse_formula(formula), data)
    spec = specify(design, family, link, priors, parameterisation)
    timing["setup"] = time.perf_counter() - start
    output = _run_nuts(spec, config, seed, progress, timing)
    start = time.perf_counter()
    idata = build_inference_data(spec, output, design.response_name, output.aux)
    messages = nuts_warnings(idata, config.max_tree_depth, summary(idata, spec))
    timing["results"] = time.perf_counter() - start
    return FitResult(formula, spec.family.name, spec.link.name, method, spec, design.info, idata, config,
                     seed, messages, timing, _versions(), describe_centering(spec, output.aux),
                     {"target_accept": output.target_accept,
                      "raised": [{"phase": phase, "target_accept": t, "divergent": n}
                                 for phase, t, n in output.escalations]})


def _run_nuts(spec, config, seed, progress, timing):
    start = time.perf_counter()
    logdensity = make_logdensity(spec)
    key = jax.random.PRNGKey(seed)
    init_key, run_key = jax.random.split(key)
    positions = jax.vmap(lambda k: initial_position(k, spec))(jax.random.split(init_key, config.chains))
    bar = tqdm(total=config.warmup + config.draws, desc="warmup", disable=not progress, unit="it", leave=False)

    def update(phase, steps):
        bar.set_description(phase)
        bar.update(steps)

    try:
        output = sample_nuts(run_key, logdensity, positions, config, update,
                             aux=default_centering(spec), retune=make_retune(spec))
    finally:
        bar.close()
    timing["sampling"] = time.perf_counter() - start
    return output


def _versions() -> dict:
    out = {}
    for package in ("hierax", "jax", "blackjax", "arviz"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "unknown"
    return out
