"""Fake data and parameter recovery: simulate from the model, fit, and see what comes back.

A :class:`Model` is a formula, data (for the design: predictors and groups) and priors, fixed at
creation: the default priors are scaled to the data given here and do not move with simulated
responses, which simulation-based calibration requires.

Parameters are named as in ``fit.summary()``: ``(Intercept)``, ``floor``,
``sd[county][(Intercept)]``, ``cor[county][(Intercept),floor]``, ``sigma``. Group effects are
drawn from their population distribution given the sds and correlations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from hierax.config import check_seed
from hierax.design import as_pandas
from hierax.errors import HieraxError
from hierax.formula.nodes import Name
from hierax.formula import as_bf
from hierax.model.build import build_model
from hierax.model.prior_rules import explicit_priors
from hierax.results.idata import cor_pairs, threshold_labels
from hierax.results.tables import fixed_draws
from hierax.model import layout
from hierax.model.layout import PARAMS
from hierax.design.incomplete import refuse_truncated_draws


@dataclass(frozen=True)
class Model:
    """A model not yet fitted: formula, data, family, link, priors, and its specification."""

    formula: str
    data: pd.DataFrame = field(repr=False)
    family: str
    link: str | None
    priors: dict | None
    spec: object = field(repr=False)
    response: str

    def fit(self, data=None, **options):
        """Fit this model (to ``data``, e.g. simulated, or to its own), with its priors fixed."""
        from hierax.api import fit

        priors = dict(self.spec_priors())
        return fit(self.formula, self.data if data is None else data, family=self.family, link=self.link,
                   priors=priors, **options)

    def spec_priors(self) -> dict:
        """Every prior of the specification, keyed as ``hx.fit`` takes them (defaults made explicit)."""
        return explicit_priors(self.spec)


def model(formula: str, data, family: str = "gaussian", link: str | None = None, priors: dict | None = None) -> Model:
    """A model to simulate from, recover parameters with, or calibrate (:func:`sbc`)."""
    data = as_pandas(data)
    formula = str(as_bf(formula))
    design, spec = build_model(formula, data, family, link, priors)
    return Model(formula, data, family, link, priors, spec, design.response_name)


@dataclass(frozen=True)
class Simulated:
    """A simulated data set: ``data`` (the model's data with the response replaced), the
    ``truth`` (parameters, named as in ``fit.summary()``) and the group ``effects`` used."""

    data: pd.DataFrame
    truth: pd.Series
    effects: dict
    seed: int

    def __repr__(self) -> str:
        effects = ", ".join(f"{name}: {np.shape(values)[0]} levels" for name, values in self.effects.items())
        truth = ", ".join(f"{name} = {value:.4g}" for name, value in self.truth.items())
        return (f"Simulated(seed {self.seed}; {len(self.data)} rows in .data; truth: {truth}"
                f"{'; effects in .effects (' + effects + ')' if effects else ''})")


def simulate(model: Model, params: dict | None = None, seed: int | None = None) -> Simulated:
    """Draw a data set from the prior (``params=None``) or from given parameters.

    ``params`` names every parameter of ``fit.summary()`` (a missing one is an error); the group
    effects are drawn from the population distribution they imply.
    """
    seed = check_seed(seed)
    spec = model.spec
    key = jax.random.PRNGKey(seed)
    param_key, effect_key, y_key = jax.random.split(key, 3)
    if params is None:
        from hierax.workflow.prior import draw_prior_params

        drawn = jax.device_get(draw_prior_params(param_key, spec))
    else:
        drawn = _params_from_names(spec, params, effect_key)
    y = np.asarray(simulate_response(y_key, spec, drawn))
    return Simulated(replace_response(model, y), truth_series(spec, drawn), drawn.get(PARAMS.effects, {}), seed)


def simulate_response(rng_key, spec, params):
    from hierax.density import make_linear_predictor
    from hierax.density.logdensity import aux_arrays, family_params_of

    refuse_truncated_draws(spec.truncation, "simulated data sets")
    params = jax.tree_util.tree_map(jnp.asarray, params)
    eta = make_linear_predictor(spec)(params)
    return spec.family.sample(rng_key, family_params_of(spec, params, eta), aux_arrays(spec))


def replace_response(model: Model, y: np.ndarray) -> pd.DataFrame:
    """The model's data with the response column(s) set to ``y`` (binomial: the successes)."""
    response = as_bf(model.formula).mean.response
    if not isinstance(response.value, Name):
        raise HieraxError(f"cannot simulate the response {response.label!r}: it is an expression; name a column "
                          "(transform it into a new column first)")
    data = model.data.copy()
    name = response.value.name
    if response.failures is not None and isinstance(response.failures, Name):
        trials = data[name].to_numpy(float) + data[response.failures.name].to_numpy(float)
        data[response.failures.name] = trials - y
    data[name] = y
    return data


def truth_series(spec, params) -> pd.Series:
    """Parameters named as ``fit.summary()`` names them."""
    values = dict(zip(threshold_labels(spec), np.asarray(params.get(PARAMS.thresholds, ()), float)))
    values.update(zip(spec.fixed_names, np.asarray(params[PARAMS.fixed], float)))
    for p in spec.dpar_predictors:
        values.update(zip(p.fixed_names, np.asarray(params[PARAMS.formula_fixed][p.dpar], float)))
    for block in spec.all_blocks:
        sd = np.asarray(params[PARAMS.sd][block.name])
        for term, value in zip(block.terms, sd):
            values[layout.sd_label(block, term)] = float(value)
        if block.has_cor:
            L = np.asarray(params[PARAMS.cor_chol][block.name])
            R = L @ L.T
            for i, j in cor_pairs(block.terms):
                values[layout.cor_label(block, block.terms[i], block.terms[j])] = float(R[i, j])
    for dpar in spec.scalar_dpars:
        values[dpar.name] = float(params[dpar.name])
    return pd.Series(values, name="truth")


def _params_from_names(spec, params: dict, rng_key) -> dict:
    names = list(truth_series(spec, _zero_params(spec)).index)
    missing = [n for n in names if n not in params]
    unknown = [n for n in params if n not in names]
    if missing or unknown:
        raise HieraxError(f"params must name every parameter, as fit.summary() does: missing {missing}, "
                          f"unknown {unknown}")
    out = {PARAMS.fixed: np.array([params[n] for n in spec.fixed_names], float), PARAMS.sd: {}, PARAMS.cor_chol: {}, PARAMS.effects: {}}
    if spec.dpar_predictors:
        out[PARAMS.formula_fixed] = {p.dpar: np.array([params[n] for n in p.fixed_names], float) for p in spec.dpar_predictors}
    if spec.thresholds:
        out[PARAMS.thresholds] = np.array([params[n] for n in threshold_labels(spec)], float)
        if np.any(np.diff(out[PARAMS.thresholds]) <= 0):
            raise HieraxError(f"the thresholds {threshold_labels(spec)} must increase, got {list(out[PARAMS.thresholds])}")
    keys = jax.random.split(rng_key, max(len(spec.all_blocks), 1))
    for block, key in zip(spec.all_blocks, keys):
        sd = np.array([params[layout.sd_label(block, t)] for t in block.terms], float)
        R = np.eye(block.num_terms)
        if block.has_cor:
            for i, j in cor_pairs(block.terms):
                R[i, j] = R[j, i] = params[layout.cor_label(block, block.terms[i], block.terms[j])]
        L = np.linalg.cholesky(R)
        z = np.asarray(jax.random.normal(key, (block.num_levels, block.num_terms)))
        out[PARAMS.sd][block.name], out[PARAMS.cor_chol][block.name] = sd, L
        out[PARAMS.effects][block.name] = (z @ L.T) * sd
    for dpar in spec.scalar_dpars:
        out[dpar.name] = float(params[dpar.name])
    return out


def _zero_params(spec) -> dict:
    out = {PARAMS.fixed: np.zeros(len(spec.fixed_names)), PARAMS.sd: {}, PARAMS.cor_chol: {}}
    if spec.dpar_predictors:
        out[PARAMS.formula_fixed] = {p.dpar: np.zeros(p.num_fixed) for p in spec.dpar_predictors}
    if spec.thresholds:
        out[PARAMS.thresholds] = np.arange(float(spec.thresholds))
    for block in spec.all_blocks:
        out[PARAMS.sd][block.name] = np.ones(block.num_terms)
        out[PARAMS.cor_chol][block.name] = np.eye(block.num_terms)
    for dpar in spec.scalar_dpars:
        out[dpar.name] = 1.0
    return out


def recover(model: Model, truth: dict | None = None, seed: int | None = None, level: float = 0.9,
            **fit_options) -> pd.DataFrame:
    """Simulate from ``truth`` (or the prior), fit, and compare: per parameter the truth, the
    posterior mean, the central ``level`` interval and whether it covers the truth.

    ``table.attrs`` keeps the simulated data set (``simulated``) and the fit (``fit``).
    """
    seed = check_seed(seed)
    simulated = simulate(model, truth, seed)
    fit = model.fit(simulated.data, seed=seed, **fit_options)
    post = fit.idata.posterior
    draws = _summary_draws(fit)
    lower, upper = np.quantile(draws.to_numpy(), [(1 - level) / 2, (1 + level) / 2], axis=0)
    table = pd.DataFrame({"truth": simulated.truth, "estimate": draws.mean(axis=0), "lower": lower, "upper": upper})
    table["covered"] = (table["lower"] <= table["truth"]) & (table["truth"] <= table["upper"])
    table.index.name = "parameter"
    table.attrs.update(simulated=simulated, fit=fit, level=level, chains=post.sizes["chain"])
    return table


def _summary_draws(fit) -> pd.DataFrame:
    """All posterior draws of the summary's parameters, one column each (names as the truth's)."""
    spec, post = fit.spec, fit.idata.posterior
    beta, names = fixed_draws(fit.idata, spec)
    columns = dict(zip(names, beta.reshape(-1, len(names)).T))
    for block in spec.all_blocks:
        sd = post[layout.variable("sd", block)].values.reshape(-1, block.num_terms)
        for k, term in enumerate(block.terms):
            columns[layout.sd_label(block, term)] = sd[:, k]
        if block.has_cor:
            cor = post[layout.variable("cor", block)].values.reshape(-1, len(cor_pairs(block.terms)))
            for p, (i, j) in enumerate(cor_pairs(block.terms)):
                columns[layout.cor_label(block, block.terms[i], block.terms[j])] = cor[:, p]
    for dpar in spec.scalar_dpars:
        columns[dpar.name] = post[dpar.name].values.ravel()
    return pd.DataFrame(columns)
