"""Predictions for existing and new groups, from NUTS and REML/ML/Laplace fits alike.

Both kinds of fit are reduced to draws of the same things: fixed effects beta (S, p), each
block's fitted effects b (S, levels, q), each block's population covariance (S, q, q), and sigma.
For a NUTS fit they are the posterior draws. For a REML/ML/Laplace fit they are draws from the
estimates' approximate sampling distribution: beta ~ N(beta^, V^), each level's effects from
their conditional distribution (mode, conditional variances; effects of one level taken as
independent), the covariance and sigma fixed at their estimates. That is what merTools'
predictInterval does for lme4; it leaves out the uncertainty in the variance parameters, which
is why a Bayesian fit's intervals for new groups are wider when there are few groups.

A level of a grouping factor the fit never saw gets, by ``new_groups``:
- ``"sample"`` (default): effects drawn from the fitted population distribution, afresh for each
  draw, one draw per new level shared by its rows. This is the honest answer for an unseen group:
  its intervals include the between-group spread.
- ``"population"``: effects at the population mean (zero deviation), as lme4's
  ``re.form = NA``; intervals reflect only the fixed effects' uncertainty.
- ``"error"``: a DataError naming the unseen levels.
The output says, per row and grouping factor, which was used.

The code is part of ``results`` because a fit's own ``predict()`` and ``posterior_predictive()``
call it (and ``results`` never imports ``workflow``); ``hierax.workflow.predict`` re-exports it.
Which kind of draws a fit gives is read from the fit's interface (``has_idata``, ``has_draws``),
never from its type.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from hierax.outofcore.source import is_out_of_core
from hierax.config import check_seed
from hierax.design.block import Block
from hierax.design.newdata import NewDesign, encode_newdata
from hierax.errors import DataError, HieraxError
from hierax.model.families import Mu
from hierax.model.spec import SE_FIXES as RESIDUAL, with_known
from hierax.model.layout import PARAMS
from hierax.model import layout
from hierax.design.incomplete import refuse_truncated_draws

KINDS = ("mean", "response", "link")
NEW_GROUPS = ("sample", "population", "error")
ROWS_PER_CHUNK_DRAWS = 2_000_000     # draws x rows held at once


@dataclass(frozen=True)
class ParameterDraws:
    """S joint draws of what prediction needs (numpy arrays)."""

    beta: np.ndarray            # (S, p)
    b: tuple                    # per block (S, levels, q)
    cov: tuple                  # per block (S, q, q): population covariance of the block's effects
    scalars: dict               # {dpar name: (S,)}: the family's scalar parameters (sigma, shape, ...)
    plug_in: bool               # True: the estimate is the prediction at the point estimates
    formulas: dict = field(default_factory=dict)   # {dpar: ParameterDraws} of each parameter's formula;
    #                                                 bound to the rows predicted: (draws, design, new effects, link)


def predict(fit, newdata=None, kind: str = "mean", new_groups: str = "sample", level: float = 0.95,
            seed: int | None = None, num_draws: int = 1000) -> pd.DataFrame:
    """Predictions with intervals; see :meth:`hierax.FitResult.predict`. For out-of-core new data
    (a Dask frame, Parquet files), a Dask frame of each partition's predictions."""
    if newdata is not None and is_out_of_core(newdata):
        from hierax.outofcore.predict import predict_partitions

        return predict_partitions(predict, fit, newdata, kind=kind, new_groups=new_groups, level=level, seed=seed,
                                  num_draws=num_draws)
    if kind not in KINDS:
        raise HieraxError(f"kind must be one of {KINDS}, got {kind!r}")
    if new_groups not in NEW_GROUPS:
        raise HieraxError(f"new_groups must be one of {NEW_GROUPS}, got {new_groups!r}")
    if not 0.0 < level < 1.0:
        raise HieraxError(f"level must be between 0 and 1, got {level!r}")
    spec = fit.spec
    if kind != "link":
        refuse_truncated_draws(spec.truncation, f"predictions of kind={kind!r}",
                               "; kind='link' gives the linear predictor")
    if kind == "response" and spec.se is not None:
        raise HieraxError("kind='response' is not available for a model with se(): the new rows' "
                          "measurement sds are unknown; use kind='mean'")
    design = observed_design(spec) if newdata is None else _encode_mean(fit, newdata)
    _check_new_levels(spec.blocks, design, new_groups)
    rng = np.random.default_rng(check_seed(seed))
    draws = _bind_formulas(spec, parameter_draws(fit, rng, num_draws), newdata, new_groups, rng)
    table = summarise(draws, spec, design, kind, new_groups, level, rng)
    if draws.plug_in and kind != "response":
        table["estimate"] = plug_in(fit, design, kind, newdata)
    index = pd.RangeIndex(design.num_obs) if newdata is None or not hasattr(newdata, "index") else newdata.index
    table.index = index
    for block, new_block in zip(spec.blocks, design.blocks):
        used = "new: sampled from the population" if new_groups == "sample" else "new: population mean"
        table[f"level[{block.name}]"] = np.where(new_block.group_index < 0, used, "fitted")
    table.attrs.update(kind=kind, new_groups=new_groups, level=level)
    return table


def response_draws(fit, newdata, seed: int) -> np.ndarray:
    """(draws, rows): a new response at each row of ``newdata`` at every posterior draw, in the
    posterior's chain-major order (``hierax.missing`` joins them to the posterior); a level
    the fit never saw gets effects drawn from the fitted population."""
    spec = fit.spec
    refuse_truncated_draws(spec.truncation, "imputed responses")
    if spec.se is not None:
        raise HieraxError("a missing response with se() cannot be drawn: its row's measurement sd is unknown")
    return replicated_response(fit, newdata, _posterior_draws(fit), np.random.default_rng(check_seed(seed)))


def replicated_response(fit, newdata, draws: ParameterDraws, rng: np.random.Generator) -> np.ndarray:
    """(draws, rows): a new response at each row of ``newdata`` for each of ``draws`` (posterior
    draws, all or some: :func:`posterior_draws`); a level the fit never saw gets effects drawn
    from the fitted population."""
    spec = fit.spec
    design = _encode_mean(fit, newdata)
    draws = _bind_formulas(spec, draws, newdata, "sample", rng)
    new_effects = [_new_level_effects(draws.cov[k], block, "sample", rng) for k, block in enumerate(design.blocks)]
    key = jax.random.PRNGKey(int(rng.integers(2**31)))
    return np.asarray(_draws_of("response", draws, spec, design, new_effects, slice(0, design.num_obs), key))


def _encode_mean(fit, newdata) -> NewDesign:
    """``newdata`` encoded for the mean's formula; an ordinal model's without the intercept column
    its thresholds replace (``hierax.model.spec``)."""
    spec = fit.spec
    dropped = spec.thresholds and fit.design_info.formula.intercept
    names = ("(Intercept)",) + tuple(spec.fixed_names) if dropped else spec.fixed_names
    design = encode_newdata(fit.design_info, names, spec.blocks, newdata)
    return dataclasses.replace(design, X=design.X[:, 1:]) if dropped else design


def observed_design(spec) -> NewDesign:
    """The fit's own rows, as a NewDesign."""
    spec.require_rows("a prediction for the fit's own rows (no newdata)")
    return _observed(spec.X, spec.blocks, spec.offset, spec.trials, spec.num_obs)


def _observed(X, blocks, offset, trials, num_obs: int) -> NewDesign:
    new_blocks = tuple(b.on_rows(b.Z, b.group_index) for b in blocks)
    return NewDesign(X, new_blocks, offset, trials, num_obs)


def _check_new_levels(blocks, design: NewDesign, new_groups: str) -> None:
    if new_groups == "error":
        _refuse_unseen(blocks, design, "; pass new_groups='sample' to draw them from the population, or "
                                       "'population' for its mean")


def _refuse_unseen(blocks, design: NewDesign, fix: str) -> None:
    """A DataError naming a grouping factor's levels the fit never saw, and ``fix``."""
    for block, new_block in zip(blocks, design.blocks):
        unseen = sorted({str(v) for v in new_block.new_labels if v is not None})
        if unseen:
            raise DataError(f"{len(unseen)} level(s) of {block.group!r} were not in the fit "
                            f"({', '.join(map(repr, unseen[:5]))}){fix}")


def parameter_draws(fit, rng: np.random.Generator, num_draws: int) -> ParameterDraws:
    """Posterior draws (NUTS; a posterior mode's single draw) or draws from the estimates'
    sampling distribution (REML etc.)."""
    if fit.has_idata:
        return _posterior_draws(fit)
    return _estimate_draws(fit, rng, num_draws)


def _posterior_draws(fit) -> ParameterDraws:
    return posterior_draws(fit)


def posterior_draws(fit, rows=None) -> ParameterDraws:
    """The posterior's draws (chain-major), or those at the flat indices ``rows``: for a lazy
    posterior (``hierax.outofcore.lazy``) only those are kept once drawn."""
    post = fit.idata.posterior
    draws = post.sizes["chain"] * post.sizes["draw"]      # explicit: beta may have no columns (p = 0)

    def flattened(name):
        values = post[name].data.reshape((draws,) + post[name].shape[2:])
        return np.asarray(values if rows is None else values[rows])

    flat = {name: flattened(name) for name in post.data_vars}
    scalars = {d.name: flat[d.name] for d in fit.spec.scalar_dpars}
    if fit.spec.thresholds:                 # (S, K-1): a column per draw, as the scalars
        scalars[PARAMS.thresholds] = flat[layout.THRESHOLDS_VARIABLE]
    formulas = {p.dpar: ParameterDraws(flat[layout.variable("fixed", dpar=p.dpar)], *_block_draws(flat, p.blocks), {}, plug_in=False)
                for p in fit.spec.dpar_predictors}
    return ParameterDraws(flat[layout.FIXED_VARIABLE], *_block_draws(flat, fit.spec.blocks), scalars, plug_in=False,
                          formulas=formulas)


def _block_draws(flat: dict, blocks) -> tuple:
    """(effects, population covariances) per block, as tuples of (S, levels, q) and (S, q, q)."""
    bs, covs = [], []
    for block in blocks:
        bs.append(flat[layout.variable("effects", block)])
        sd = flat[layout.variable("sd", block)]
        R = np.broadcast_to(np.eye(block.num_terms), sd.shape + (block.num_terms,)).copy()
        if block.has_cor:
            pairs = [(i, j) for i in range(block.num_terms) for j in range(i + 1, block.num_terms)]
            for p, (i, j) in enumerate(pairs):
                R[:, i, j] = R[:, j, i] = flat[layout.variable("cor", block)][:, p]
        covs.append(sd[:, :, None] * R * sd[:, None, :])
    return tuple(bs), tuple(covs)


def _bind_formulas(spec, draws: ParameterDraws, newdata, new_groups: str, rng) -> ParameterDraws:
    """``draws`` with each parameter's formula bound to the rows predicted: its draws, its design
    for those rows (the fit's, or ``newdata`` encoded as its formula's), new levels' effects."""
    if not spec.dpar_predictors:
        return draws
    bound = {}
    for predictor in spec.dpar_predictors:
        sub = draws.formulas[predictor.dpar]
        if newdata is None:
            design = _observed(predictor.X, predictor.blocks, predictor.offset, None, spec.num_obs)
        else:
            written = tuple(name[len(predictor.dpar) + 1:] for name in predictor.fixed_names)
            design = encode_newdata(predictor.info, written, predictor.blocks, newdata)
        _check_new_levels(predictor.blocks, design, new_groups)
        effects = [_new_level_effects(sub.cov[k], nb, new_groups, rng) for k, nb in enumerate(design.blocks)]
        bound[predictor.dpar] = (sub, design, effects, predictor.link)
    return dataclasses.replace(draws, formulas=bound)


def _estimate_draws(fit, rng: np.random.Generator, num: int) -> ParameterDraws:
    out = fit.output
    beta = _beta_draws(out.beta, out.vcov_beta, rng, num)
    scale2 = 1.0 if out.sigma is None else out.sigma**2
    bs, covs = [], []
    for modes, variances, T in zip(out.random_effects, out.random_variances(), out.factors):
        bs.append(modes[None] + np.sqrt(variances)[None] * rng.standard_normal((num,) + modes.shape))
        covs.append(np.broadcast_to(scale2 * T @ T.T, (num,) + T.shape))
    return ParameterDraws(beta, tuple(bs), tuple(covs), _estimated_scalars(fit, num), plug_in=True,
                          formulas=_estimated_formulas(fit, rng, num))


def _estimated_formulas(fit, rng: np.random.Generator | None, num: int) -> dict:
    """Each parameter formula's coefficients: ``num`` draws from their estimates' normal sampling
    distribution (their block of the Laplace fit's covariance), or the estimates when ``rng`` is
    None. A frequentist fit's formulas have no group terms (``hierax.density.likelihood``)."""
    phi = np.asarray(getattr(fit.output, "phi", np.zeros(0)), float)
    vcov = np.asarray(getattr(fit.output, "vcov_phi", np.zeros((0, 0))), float)
    start, out = len(fit.spec.scalar_dpars), {}
    for predictor in fit.spec.dpar_predictors:
        part = slice(start, start + predictor.num_fixed)
        coefficients = phi[part][None] if rng is None else _beta_draws(phi[part], vcov[part, part], rng, num)
        out[predictor.dpar] = ParameterDraws(coefficients, (), (), {}, plug_in=True)
        start += predictor.num_fixed
    return out


def _estimated_scalars(fit, num: int) -> dict:
    """The family's scalar parameters at their estimates, ``num`` copies each: an LMM's sigma
    (REML/ML), or every scalar dpar of a Laplace fit (shape, phi, sigma, nu, zi, hu). Like the
    variance parameters they are held at their estimates, as merTools' intervals hold them."""
    out = fit.output
    if out.sigma is not None:
        return {RESIDUAL: np.full(num, out.sigma)}
    estimates = fit.family_params()["estimate"]
    return {name: np.full(num, float(value)) for name, value in estimates.items()}


def _beta_draws(beta: np.ndarray, vcov: np.ndarray, rng: np.random.Generator, num: int) -> np.ndarray:
    """(num, p) draws of N(beta, vcov); none to draw for a model without fixed effects
    (``y ~ 0 + (1 | g)``), where NumPy's multivariate normal fails on the empty covariance."""
    if len(beta) == 0:
        return np.zeros((num, 0))
    return rng.multivariate_normal(beta, vcov, size=num, method="cholesky")


def _point_draws(fit) -> ParameterDraws:
    """The estimates as a single draw (for the plug-in prediction)."""
    out = fit.output
    covs = tuple((1.0 if out.sigma is None else out.sigma**2) * (T @ T.T)[None] for T in out.factors)
    return ParameterDraws(out.beta[None], tuple(m[None] for m in out.random_effects), covs, _estimated_scalars(fit, 1),
                          plug_in=True, formulas=_estimated_formulas(fit, None, 1))


def summarise(draws: ParameterDraws, spec, design: NewDesign, kind: str, new_groups: str, level: float,
              rng: np.random.Generator) -> pd.DataFrame:
    """estimate, sd, lower and upper of the predictions, row chunk by row chunk."""
    new_effects = [_new_level_effects(draws.cov[k], nb, new_groups, rng) for k, nb in enumerate(design.blocks)]
    S = draws.beta.shape[0]
    chunk = max(1, ROWS_PER_CHUNK_DRAWS // S)
    key = jax.random.PRNGKey(int(rng.integers(2**31)))
    parts = []
    for start in range(0, design.num_obs, chunk):
        rows = slice(start, min(start + chunk, design.num_obs))
        key, sub = jax.random.split(key)
        values = _draws_of(kind, draws, spec, design, new_effects, rows, sub)
        lower, upper = np.quantile(values, [(1 - level) / 2, (1 + level) / 2], axis=0)
        spread = values.std(axis=0, ddof=1) if len(values) > 1 else np.full(values.shape[1], np.nan)
        parts.append(pd.DataFrame({"estimate": values.mean(axis=0), PARAMS.sd: spread,
                                   "lower": lower, "upper": upper}))
    return pd.concat(parts, ignore_index=True)


def plug_in(fit, design: NewDesign, kind: str, newdata=None) -> np.ndarray:
    """The prediction at the point estimates, new levels at the population mean (lme4's ``predict``)."""
    point = _bind_formulas(fit.spec, _point_draws(fit), newdata, "population", np.random.default_rng(0))
    zero = [(sorted({v for v in nb.new_labels if v is not None}), None) for nb in design.blocks]
    zero = [(labels, np.zeros((1, len(labels), b.shape[-1]))) for (labels, _), b in zip(zero, point.b)]
    rows = slice(0, design.num_obs)
    eta = linear_predictor_draws(point, design, zero, rows)
    return eta[0] if kind == "link" else _means(fit.spec, point, design, eta, rows)[0]


def _new_level_effects(cov: np.ndarray, new_block: Block, new_groups: str, rng) -> tuple:
    """(labels, effects (S, n_new, q)) for the block's unseen levels."""
    labels = sorted({v for v in new_block.new_labels if v is not None})
    S, q = cov.shape[0], cov.shape[-1]
    if not labels or new_groups != "sample":
        return labels, np.zeros((S, len(labels), q))
    jitter = 1e-12 * np.maximum(np.trace(cov, axis1=1, axis2=2), 1e-300)[:, None, None] * np.eye(q)
    root = np.linalg.cholesky(cov + jitter)
    z = rng.standard_normal((S, len(labels), q))
    return labels, np.einsum("sij,slj->sli", root, z)


def _draws_of(kind, draws: ParameterDraws, spec, design: NewDesign, new_effects, rows, key) -> np.ndarray:
    eta = linear_predictor_draws(draws, design, new_effects, rows)
    if kind == "link":
        return eta
    if kind == "mean":
        return _means(spec, draws, design, eta, rows)
    if spec.family.needs_trials and design.trials is None:
        raise HieraxError("kind='response' for a binomial model needs the number of trials: include the "
                          "response's columns (those of cbind(...)) in the new data")
    return np.asarray(spec.family.sample(key, _family_params(spec, draws, eta, rows), _aux(design, rows)))


def _family_params(spec, draws: ParameterDraws, eta, rows, known: dict | None = None) -> dict:
    """The family's parameters by name for draws x rows: the mean's linear predictor, each scalar
    parameter's draws as a column, each formula's values at the rows, and the values the data
    fix (se())."""
    scalars = {name: jnp.asarray(values)[:, None] for name, values in draws.scalars.items()}
    predicted = {name: link.inverse(jnp.asarray(linear_predictor_draws(sub, design, effects, rows)))
                 for name, (sub, design, effects, link) in draws.formulas.items()}
    return with_known({"mu": Mu(jnp.asarray(eta), spec.link.name), **scalars, **predicted}, known or {})


def _aux(design: NewDesign, rows) -> dict:
    return {} if design.trials is None else {"trials": jnp.asarray(design.trials[rows])}


def _means(spec, draws: ParameterDraws, design: NewDesign, eta, rows) -> np.ndarray:
    """E[y] per draw and row (brms's ``posterior_epred``): the inverse link of eta for most
    families; with the other parameters where they enter the mean (lognormal, zero-inflated and
    hurdle counts). A binomial model's is the success probability, per trial."""
    return np.asarray(spec.family.mean(_family_params(spec, draws, eta, rows), _aux(design, rows)))


def linear_predictor_draws(draws: ParameterDraws, design: NewDesign, new_effects, rows) -> np.ndarray:
    """eta (S, rows): X beta + offset + each block's effects (fitted or new level)."""
    eta = draws.beta @ design.X[rows].T
    if design.offset is not None:
        eta = eta + design.offset[rows]
    for b, new_block, (labels, effects) in zip(draws.b, design.blocks, new_effects):
        index = new_block.group_index[rows]
        if labels:
            position = {label: i for i, label in enumerate(labels)}
            new_rows = index < 0
            index = index.copy()
            index[new_rows] = b.shape[1] + np.array([position[v] for v in new_block.new_labels[rows][new_rows]])
            b = np.concatenate([b, effects], axis=1)
        eta = eta + np.einsum("snq,nq->sn", b[:, index, :], new_block.Z[rows])
    return eta


def posterior_predictive(fit, seed: int | None = None):
    """The fit's InferenceData with a ``posterior_predictive`` group: one replicated data set per
    posterior draw, at the observed rows (same groups), named as the response."""
    import xarray as xr

    from hierax.results import _arviz

    if not fit.has_draws:
        raise HieraxError("posterior_predictive needs posterior draws (method='nuts'); for a REML/ML/Laplace "
                          "fit, fit.predict(kind='response') gives predictive intervals")
    spec = fit.spec
    refuse_truncated_draws(spec.truncation, "replicated data sets")
    draws = _bind_formulas(spec, _posterior_draws(fit), None, "sample", np.random.default_rng(0))
    design = observed_design(spec)
    no_new = [([], None) for _ in spec.blocks]
    key = jax.random.PRNGKey(check_seed(seed))
    S = draws.beta.shape[0]
    chunk = max(1, ROWS_PER_CHUNK_DRAWS // S)
    parts = []
    for start in range(0, design.num_obs, chunk):
        rows = slice(start, min(start + chunk, design.num_obs))
        key, sub = jax.random.split(key)
        eta = jnp.asarray(linear_predictor_draws(draws, design, no_new, rows))
        known = {name: jnp.asarray(values[rows])[None, :] for name, values in spec.known_dpars().items()}
        params = _family_params(spec, draws, eta, rows, known)
        parts.append(np.asarray(spec.family.sample(sub, params, _aux(design, rows))))
    post = fit.idata.posterior
    chains, num = post.sizes["chain"], post.sizes["draw"]
    name = next(iter(fit.idata.observed_data.data_vars))
    y_rep = np.concatenate(parts, axis=1).reshape(chains, num, design.num_obs)
    group = xr.Dataset({name: xr.DataArray(y_rep, dims=("chain", "draw", "obs"))},
                       coords={"chain": post["chain"].values, "draw": post["draw"].values,
                               "obs": np.arange(design.num_obs)})
    return _arviz.with_groups(fit.idata, posterior_predictive=group)


def bayes_r2_draws(fit) -> np.ndarray:
    """Gelman, Goodrich, Gabry and Vehtari's (2019) R² at every posterior draw, as brms's
    ``bayes_R2``: var(ypred) / (var(ypred) + var(y - ypred)) over the fitted rows, ypred the
    expected response with the draw's group effects (a binomial model's in counts), accumulated
    over chunks of rows."""
    spec = fit.spec
    draws = parameter_draws(fit, np.random.default_rng(0), 0)
    design = observed_design(spec)
    S = draws.beta.shape[0]
    none = [_new_level_effects(draws.cov[k], nb, "population", np.random.default_rng(0))
            for k, nb in enumerate(design.blocks)]
    y = np.asarray(spec.y, float)
    sums = np.zeros((4, S))                 # sum ypred, ypred^2, e, e^2
    chunk = max(1, ROWS_PER_CHUNK_DRAWS // S)
    for start in range(0, design.num_obs, chunk):
        rows = slice(start, min(start + chunk, design.num_obs))
        ypred = _draws_of("mean", draws, spec, design, none, rows, jax.random.PRNGKey(0))
        if spec.family.needs_trials:
            ypred = ypred * np.asarray(design.trials[rows], float)
        e = y[rows][None, :] - ypred
        sums += np.stack([ypred.sum(1), (ypred ** 2).sum(1), e.sum(1), (e ** 2).sum(1)])
    n = design.num_obs
    var_ypred = (sums[1] - sums[0] ** 2 / n) / (n - 1)
    var_e = (sums[3] - sums[2] ** 2 / n) / (n - 1)
    return var_ypred / (var_ypred + var_e)


def bound_draws(fit, newdata, effects: bool, rng: np.random.Generator | None = None) -> tuple:
    """(draws, design) for the expected response on ``newdata`` at every posterior draw (NUTS) or
    at the estimates (REML/ML/Laplace: one draw, the group effects at their conditional modes, as
    lme4's ``predict``): the draws bound to the rows of every formula. ``effects=False`` sets every
    level's effects to zero (brms's ``re_formula = NA``); with effects, a level the fit never saw
    is an error, because no effect of it was estimated."""
    spec = fit.spec
    refuse_truncated_draws(spec.truncation, "expected responses")
    draws = _posterior_draws(fit) if fit.has_idata else _point_draws(fit)
    if not effects:
        draws = _without_effects(draws)
    design = _encode_mean(fit, newdata)
    if effects:
        _refuse_unseen(spec.blocks, design, ", so their group effects are unknown; average over fitted levels, or "
                                            "leave the group effects out (re=False: every effect at zero)")
    rng = np.random.default_rng(0) if rng is None else rng
    return _bind_formulas(spec, draws, newdata, "error" if effects else "population", rng), design


def _without_effects(draws: ParameterDraws) -> ParameterDraws:
    zero = tuple(np.zeros_like(b) for b in draws.b)
    formulas = {name: _without_effects(sub) for name, sub in draws.formulas.items()}
    return dataclasses.replace(draws, b=zero, formulas=formulas)


def expected_draws(spec, draws: ParameterDraws, design: NewDesign, rows: slice) -> np.ndarray:
    """(S, rows) expected response (``kind="mean"``) of bound ``draws`` on ``rows`` of ``design``;
    no level is new (:func:`bound_draws` refused or zeroed them)."""
    none = [([], None) for _ in design.blocks]
    eta = linear_predictor_draws(draws, design, none, rows)
    return _means(spec, draws, design, eta, rows)


def expected_at(spec, point: ParameterDraws, design: NewDesign):
    """The expected response on every row of ``design`` as a JAX function of the fixed effects
    beta (p,), everything else held at the single draw ``point``: what the delta method
    differentiates (marginaleffects' jacobian, here exact)."""
    rows = slice(0, design.num_obs)
    none = [([], None) for _ in design.blocks]
    held = linear_predictor_draws(dataclasses.replace(point, beta=np.zeros_like(point.beta)), design, none, rows)
    X, held = jnp.asarray(design.X), jnp.asarray(held)

    def mean(beta):
        eta = (X @ beta)[None, :] + held
        return spec.family.mean(_family_params(spec, point, eta, rows), _aux(design, rows))[0]

    return mean
