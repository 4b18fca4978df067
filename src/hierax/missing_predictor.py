"""Latent predictors, by NUTS: missing values imputed in the fit (brms's ``mi()``) and values
measured with known error (brms's ``me()``):

    hx.fit(hx.bf("y ~ mi(x) + z + (1 | g)") + hx.bf("x | mi() ~ z + (1 | g)"), data)
    hx.fit("y ~ me(x, sdx) + z + (1 | g)", data)

The model, brms's without residual correlation:

    y_i ~ family(X_i(x) beta + Z_i b, ...),    X(x) = A + sum_k x_k B_k
    x_ki ~ normal(W_ki gamma_k + V_ki c_k, sigma_k)      (each latent predictor's own model)
    x_obs_ki ~ normal(x_ki, sdx_ki)                      (me(): the measurement, sdx known)

For mi(x), x_ki is the observed value, or a parameter, its latent value, where it is missing;
its model is the formula added for it. For me(x, sdx) every x_ki is latent and its model is its
population's, ``x ~ 1`` (brms's ``meanme``/``sdme``). The latent predictors' columns of the
outcome's design are linear in x (a term or an interaction with other columns), so the design
is A plus x times B, found by moving x and checked against the design itself. The outcome's
parameters, each predictor model's parameters and every latent value are drawn jointly: the
outcome's rows inform the latent values too, which complete-case analysis, imputation outside
the model and the naive use of measured values lose. How (``hierax.latent_sampler``): NUTS on
everything, or, for a gaussian outcome, with the missing x's integrated out exactly (and, with
one grouping factor, the group effects too), those drawn afterwards from their conditionals. A missing response of the outcome
(``y | mi()``) leaves its row out of the outcome's likelihood (it carries no information,
``hierax.missing``) and is drawn afterwards at each draw.

Each model keeps its own parameterisation of the group effects (hierax's default centring, fixed
for the run) and its own default priors; in ``priors=`` a key ``"x: b"`` is x's model's ``b`` (as
the summary labels its rows), any other key the outcome's.
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np
import pandas as pd

from hierax.config import check_flag, check_seed, nuts_config
from hierax.density.latent import outcome_draws
from hierax.density.target import FullTarget
from hierax.design import build_design
from hierax.latent_sampler import JointProblem, sample_joint
from hierax.engines.nuts import sample_nuts
from hierax.errors import DataError, ModelError
from hierax.formula import MvBf
from hierax.formula.nodes import Call, to_text
from hierax.missing import labelled
from hierax.model.build import build_model
from hierax.model.layout import PARAMS
from hierax.model.scaling import unit_scaled
from hierax.results import FitResult, _arviz
from hierax.results.diagnostics import nuts_warnings
from hierax.results.idata import _dataset, build_inference_data, posterior_dataset
from hierax.results.imputed import IMPUTED, IMPUTED_DIM, latent_variable
from hierax.results.tables import missing_diagnostics, summary as summary_table



@dataclasses.dataclass(frozen=True)
class Submodel:
    """An imputed predictor's model: its spec and its own posterior (``idata``: beta, sigma, the
    group terms' sds and effects, named as a fit's)."""

    name: str
    formula: str
    spec: object
    idata: object

    def summary(self) -> pd.DataFrame:
        return summary_table(self.idata, self.spec)

    def __repr__(self) -> str:
        return f"Submodel({self.formula!r})"


@dataclasses.dataclass(frozen=True, repr=False)      # FitResult's short repr
class JointFit(FitResult):
    """A fit with models for missing predictors: the outcome's model as any :class:`FitResult`,
    each predictor's model in ``submodels``, the latent values as the posterior's ``Ymi_<x>``."""

    submodels: tuple = ()

    def summary(self) -> pd.DataFrame:
        """The outcome's parameters, then each predictor model's, labelled ``x: (Intercept)``."""
        parts = [super().summary()]
        for sub in self.submodels:
            table = sub.summary()
            table.index = [f"{sub.name}: {label}" for label in table.index]
            parts.append(table)
        out = pd.concat(parts)
        out.attrs.update(parts[0].attrs)
        return out

    def predict(self, newdata=None, kind: str = "mean", new_groups: str = "sample", level: float = 0.95,
                seed: int | None = None) -> pd.DataFrame:
        """Predictions for ``newdata`` with every predictor observed (see :meth:`FitResult.predict`).
        At the fitted rows an imputed predictor differs by draw, which the prediction machinery
        does not carry yet: ``newdata`` is required."""
        if newdata is None:
            raise ModelError("predictions at the fitted rows of a model with latent predictors (mi(), me()) are not "
                             "available "
                             "yet (an imputed x differs by draw); pass newdata with the predictors observed, or "
                             "use fit.imputed() for the imputed values")
        return super().predict(newdata, kind, new_groups, level, seed)

    def _variance_parts(self):
        raise ModelError("variance components, ICC and R² of a model with latent predictors (mi(), me()) are not "
                         "available yet: its design moves with the imputed values, draw by draw; fit.varcorr() has "
                         "the group variances")

    def posterior_predictive(self, seed: int | None = None):
        raise ModelError("replicated data sets of a model with latent predictors (mi(), me()) are not available yet "
                         "(an imputed "
                         "x differs by draw); hx.loo(fit) and fit.imputed() are")

    def imputed(self, name: str | None = None, level: float = 0.9) -> pd.DataFrame:
        """The imputed values of predictor ``name`` (default: the first), or the outcome's
        (its response's name) where it has ``y | mi()``; as :meth:`FitResult.imputed`."""
        from hierax.results.imputed import imputed_table

        names = [sub.name for sub in self.submodels]
        name = names[0] if name is None else name
        if name == self.design_info.formula.response.label:
            return imputed_table(self.idata, level)
        if name not in names:
            raise ModelError(f"no imputed values of {name!r}; this fit imputes {names}")
        post = _arviz.group(self.idata, "posterior")
        variable, dim = latent_variable(name, measured=latent_variable(name, True)[0] in post)
        view = post[[variable]].rename({variable: IMPUTED, dim: IMPUTED_DIM})
        return imputed_table(_arviz.results(posterior=view), level)


def fit_joint(formula: MvBf, data, family, link, priors, seed, chains, warmup, draws, target_accept,
              max_tree_depth, progress) -> JointFit:
    """NUTS on the joint model of the module docstring (``hx.fit``'s arguments)."""
    start = time.perf_counter()
    config = nuts_config(chains, 1000 if warmup is None else warmup, draws, target_accept, max_tree_depth)
    seed = check_seed(seed)
    progress = check_flag("progress", progress)
    frame = labelled(data)
    imputed, measured = _check_latent_names(formula)
    measurements = _measurements(frame, measured)
    names = imputed + list(measured)
    rng = np.random.default_rng(seed)
    outcome = formula.outcome
    y_name = to_text(outcome.mean.response.value)
    filled, missing = frame.copy(), {}
    for name in imputed + ([y_name] if outcome.mean.response.mi else []):
        filled[name], missing[name] = _hot_deck(frame, name, rng)
    for name in measured:                   # every true value is latent
        missing[name] = np.ones(len(frame), bool)
    priors, sub_priors = _split_priors(priors, names)
    design, spec = build_model(str(outcome), filled, family, link, priors)
    A, B = _linear_in_latent(outcome, filled, names, spec)
    models = {**{name: str(formula.submodels[name]) for name in imputed}, **{name: f"{name} ~ 1" for name in measured}}
    subs = {name: build_model(models[name], filled, "gaussian", None, sub_priors[name]) for name in names}
    sampled, scale = unit_scaled(spec)
    targets = {name: FullTarget(unit_scaled(sub)[0]) for name, (_, sub) in subs.items()}
    problem = JointProblem(FullTarget(sampled), targets, A / scale, {name: b / scale for name, b in B.items()},
                           {k: filled[k].to_numpy(float) for k in names}, missing, measurements,
                           None if y_name not in missing else (~missing[y_name]).astype(float), tuple(imputed),
                           tuple(measured))
    setup = time.perf_counter() - start
    start = time.perf_counter()
    drawn = sample_joint(problem, config, seed, rng, lambda *args: _sample(*args, progress))
    sampling = time.perf_counter() - start
    return _result(formula, frame, design, spec, sampled, scale, subs, drawn, missing, names, y_name, seed,
                   {"setup": setup, "sampling": sampling}, models)


def latent_calls(formula) -> dict:
    """{predictor: its mi() or me() call} in the outcome's fixed terms (a Bf or the MvBf's first)."""
    found = {}
    for term in formula.mean.fixed:
        for factor in term.factors:
            if isinstance(factor, Call) and factor.func in ("mi", "me"):
                name = to_text(factor.args[0])
                if name in found and to_text(found[name]) != to_text(factor):
                    raise ModelError(f"{name!r} appears as {to_text(found[name])} and {to_text(factor)}; use one")
                found[name] = factor
        if sum(isinstance(f, Call) and f.func in ("mi", "me") for f in term.factors) > 1:
            raise ModelError(f"{term.label}: a product of two latent predictors is not available yet")
    return found


def _sample(run_key, density, flat, config, aux, retune, progress: bool):
    """NUTS with a progress bar (as ``hx.fit``'s), keeping the draws made if Ctrl-C stops sampling."""
    from tqdm.auto import tqdm

    bar = tqdm(total=config.warmup + config.draws, desc="compiling the sampler", unit="it", leave=False,
               disable=None if progress else True)

    def update(phase, steps):
        bar.set_description(phase)
        bar.update(steps)

    try:
        return sample_nuts(run_key, density, flat, config, update, aux=aux, retune=retune, keep_interrupted=True)
    finally:
        bar.close()


def _check_latent_names(formula: MvBf) -> tuple:
    """(the predictors in mi(), {predictor: the sd's node} of those in me()) of the outcome's
    formula; each mi() with a model, no model unused, and no model for an me() predictor (its
    model is its population's mean and sd, ``x ~ 1``)."""
    calls = latent_calls(formula.outcome)
    names = [name for name, call in calls.items() if call.func == "mi"]
    measured = {name: call.args[1] for name, call in calls.items() if call.func == "me"}
    given = list(formula.submodels)
    doubled = [name for name in given if name in measured]
    if doubled:
        raise ModelError(f"me({doubled[0]}, ...) has a model of its own (the population of the true values, "
                         f"{doubled[0]} ~ 1); a formula for it beside is not available yet")
    unused = [name for name in given if name not in names]
    if unused:
        raise ModelError(f"a model is given for {unused}, but the outcome's formula has no mi({unused[0]}); write "
                         f"mi({unused[0]}) where the outcome uses it")
    absent = [name for name in names if name not in given]
    if absent:
        raise ModelError(f"mi({absent[0]}) needs a model for {absent[0]!r}: add hx.bf('{absent[0]} | mi() ~ ...')")
    _check_predictor_models(formula, names + list(measured))
    if formula.outcome.dpars or any(sub.dpars for sub in formula.parts[1:]):
        raise ModelError("formulas for distributional parameters (sigma ~ ...) beside mi() or me() are not available "
                         "yet")
    return names, measured


def _check_predictor_models(formula: MvBf, latent: list) -> None:
    """No predictor's model reads another latent predictor or the outcome's response.

    Why: each predictor's model is built once, from the data with missing values filled in at
    random (:func:`_hot_deck`, for the designs only), so a column it reads that is itself imputed
    would enter with those fills, not its draws (a silently attenuated coefficient); and the
    outcome's response in x's model makes the model circular (y given x and x given y are not
    one joint distribution)."""
    response = to_text(formula.outcome.mean.response.value)
    for name, sub in formula.submodels.items():
        reads = [v for v in sub.variables if v != name and (v in latent or v == response)]
        if reads and reads[0] == response:
            raise ModelError(f"the model of {name!r} reads the outcome {response!r}; the outcome's model already "
                             f"relates the two (y given x), and x given y beside it is not one joint model: model "
                             f"{name} from other predictors")
        if reads:
            raise ModelError(f"the model of {name!r} reads {reads[0]!r}, which is itself latent (mi() or me()); "
                             f"models of latent predictors that depend on each other are not available yet: model "
                             f"{name} from observed columns, or impute {reads[0]} outside the model")


def _measurements(frame: pd.DataFrame, measured: dict) -> dict:
    """{x: (its measured values, their known error sds)}, checked: both complete, the sds positive."""
    from hierax.design.evaluate import evaluate

    out = {}
    for name, node in measured.items():
        x = pd.to_numeric(frame[name], errors="coerce").to_numpy(float) if name in frame else None
        if x is None or not np.all(np.isfinite(x)):
            raise DataError(f"me({name}, ...) needs {name!r} measured in every row (a missing one is mi()'s case)")
        sd = np.broadcast_to(np.asarray(evaluate(node, frame.reset_index(drop=True), {}), float), x.shape)
        bad = ~np.isfinite(sd) | (sd <= 0)
        if bad.any():
            raise DataError(f"me({name}, {to_text(node)}): the error sd must be positive and finite, and is not in "
                            f"{int(bad.sum())} row(s) (e.g. row {int(np.flatnonzero(bad)[0])}: {sd[bad][0]:g}); a "
                            f"value measured without error is not me()'s case: use {name} itself")
        out[name] = (x, sd.copy())
    return out


def _split_priors(priors: dict | None, names: list) -> tuple:
    """(the outcome's priors, {x: x's model's priors}): a key ``"x: b"`` (as the summary labels x's
    model's rows, brms's ``resp = "x"``) is x's model's ``"b"``."""
    own, subs = {}, {name: {} for name in names}
    for key, prior in (priors or {}).items():
        head, colon, rest = key.partition(":") if isinstance(key, str) else ("", "", "")
        if colon and head.strip() in subs:
            subs[head.strip()][rest.strip()] = prior
        else:
            own[key] = prior
    return own, subs


def _hot_deck(frame: pd.DataFrame, name: str, rng) -> tuple:
    """(the column with each missing value replaced by an observed one drawn at random, the
    missing mask): values for building the designs only. Drawn, not a constant: a constant would
    make mi(x) look constant within levels, and the design stage would treat it as a level-level
    predictor."""
    if name not in frame.columns:
        raise DataError(f"mi({name}) names a column the data do not have")
    values = pd.to_numeric(frame[name], errors="coerce") if frame[name].dtype == object else frame[name]
    missing = np.asarray(pd.isna(values))
    if missing.all():
        raise DataError(f"every value of {name!r} is missing: there is nothing to model it from")
    if not missing.any():
        warnings.warn(f"mi() on {name!r}, which has no missing values: there is nothing to impute",
                      UserWarning, stacklevel=4)
    out = np.asarray(values, dtype=float).copy()
    out[missing] = rng.choice(out[~missing], size=int(missing.sum()))
    return out, missing


def _linear_in_latent(outcome, filled: pd.DataFrame, names: list, spec) -> tuple:
    """(A, {x: B_x}) with X = A + sum_x x B_x, checked against the design at other values of x;
    and no level-mean design (``hierax.model.hierarchy``) reads a column that moves with x."""
    # B_x: the change of the design when x moves by one (each x in turn; the other columns as
    # filled), A what is left. Not x = 0 and 1: the design's rank checks would refuse them
    B = {k: build_design(outcome.mean, filled.assign(**{k: filled[k] + 1.0})).X - spec.X for k in names}
    A = spec.X - sum(filled[k].to_numpy(float)[:, None] * B[k] for k in names)
    moved = filled.assign(**{k: filled[k] * 2.0 - 3.0 for k in names})
    rebuilt = A + sum(moved[k].to_numpy(float)[:, None] * B[k] for k in names)
    if not np.allclose(rebuilt, build_design(outcome.mean, moved).X, rtol=1e-9,
                       atol=1e-9 * max(1.0, np.abs(spec.X).max())):
        raise ModelError("mi() enters the outcome's formula in a way that is not a term or an interaction with other "
                         "columns; write it as a term, e.g. 'y ~ mi(x) + z' or 'y ~ mi(x) * z'")
    moving = np.any([np.any(b != 0.0, axis=0) for b in B.values()], axis=0)
    for block in spec.blocks:
        if block.mean_design is not None and np.any(block.mean_design[..., moving] != 0.0):
            raise ModelError(f"mi() of a predictor constant within the levels of {block.group!r} is not available "
                             "yet; impute it at the level of the groups outside the model")
    return A, B


def _result(formula, frame, design, spec, sampled, scale, subs, drawn, missing, names, y_name, seed, timing,
            models) -> JointFit:
    start = time.perf_counter()
    output, config, rows = drawn.output, drawn.config, drawn.rows
    chains, draws = output.diverging.shape
    params = {**drawn.params, PARAMS.fixed: drawn.params[PARAMS.fixed] / scale}
    idata = build_inference_data(spec, output, design.response_name, params)
    loglik, y_draws = outcome_draws(sampled, drawn.params, rows, drawn.latent, seed)
    observed = ~missing[y_name] if y_name in missing else np.ones(spec.num_obs, bool)
    obs = {"obs": np.flatnonzero(observed)}
    groups = {"log_likelihood": _dataset({design.response_name: (("chain", "draw", "obs"), loglik[..., observed])},
                                         obs)}
    post = _arviz.group(idata, "posterior")          # a Dataset under either ArviZ
    extra, coords = {}, {}
    for k in names:
        variable, dim = latent_variable(k, measured=k in rows["measured"])
        extra[variable] = (("chain", "draw", dim), drawn.latent[k])
        coords[dim] = np.asarray(frame.index[missing[k]])
    if y_name in missing and missing[y_name].any():
        extra[IMPUTED] = (("chain", "draw", IMPUTED_DIM), y_draws[..., missing[y_name]])
        coords[IMPUTED_DIM] = np.asarray(frame.index[missing[y_name]])
    groups["posterior"] = post.merge(_dataset(extra, coords))
    idata = _arviz.with_groups(idata, **groups)
    submodels = []
    messages = list(nuts_warnings(idata, config.max_tree_depth, summary_table(idata, spec)))
    for k in names:
        sub_design, sub_spec = subs[k]
        sub_params = {**drawn.sub_params[k], PARAMS.fixed: drawn.sub_params[k][PARAMS.fixed] / unit_scaled(sub_spec)[1]}
        variables, sub_coords = posterior_dataset(sub_spec, sub_params)
        sub_idata = _arviz.results(posterior=_dataset(variables, sub_coords), sample_stats=_arviz.group(idata, "sample_stats"))
        sub = Submodel(k, models[k], sub_spec, sub_idata)
        submodels.append(sub)
        labelled = sub.summary()
        labelled.index = [f"{k}: {label}" for label in labelled.index]     # "x: z", not the outcome's "z"
        messages += [m for m in nuts_warnings(sub_idata, config.max_tree_depth, labelled) if m not in messages]
    messages += list(missing_diagnostics(chains, draws))
    timing["results"] = time.perf_counter() - start
    used = frame[[c for c in formula.variables if c in frame.columns]].copy()
    raised = [{"phase": phase, "target_accept": t, "divergent": n} for phase, t, n in output.escalations]
    return JointFit(str(formula), spec.family.name, spec.link.name, "nuts", spec, design.info, idata, config, seed,
                    tuple(messages), timing, {}, _described(drawn),
                    {"target_accept": output.target_accept, "raised": raised}, used, None, bool(output.interrupted),
                    submodels=tuple(submodels))


def _described(drawn) -> dict:
    """``fit.parameterisation``: how each group term was sampled, and each x whose missing values
    were integrated out (``hierax.latent_sampler``), under its posterior variable's name."""
    integrated = {latent_variable(k, measured=False)[0]: {"choice": "integrated out", "mean_weight": None,
                                                          "centered": 0, "noncentered": 0} for k in drawn.integrated}
    return {**drawn.described, **integrated}
