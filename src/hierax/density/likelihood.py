"""The response's log-likelihood as a function of the linear predictor (and, for the Laplace
engine, of the family's other parameters on their link scales): what the Laplace and GLM engines
take, which see functions and arrays, never a family."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hierax.density.init import crude_fit
from hierax.density.transforms import ordered, ordered_inverse
from hierax.model.families.ordinal import threshold_start
from hierax.model.layout import PARAMS
from hierax.errors import ModelError
from hierax.model.families import Family, Mu
from hierax.model.links import LINKS
from hierax.model.spec import ModelSpec


def _aux(trials) -> dict:
    """The family's aux data from the engine's row data: None, binomial trials, or the dict of
    :func:`row_data` (trials and weights)."""
    if isinstance(trials, dict):
        return {k: v for k, v in trials.items() if k not in ("weights", FORMULA_DESIGNS)}
    return {} if trials is None else {"trials": trials}


def _weighted(pointwise, trials):
    """weights(w) multiply each row's log-likelihood (brms's and glmmTMB's meaning of weights)."""
    return pointwise * trials["weights"] if isinstance(trials, dict) and "weights" in trials else pointwise


FORMULA_DESIGNS = "formula_designs"


def row_data(spec: ModelSpec, weights=None):
    """What the engines pass as ``trials``: the binomial trials, or a dict of the trials, the
    weights(w) and each parameter formula's design, where the model has those. ``weights``
    replaces the model's weights(w) (a sampler's runtime weights, e.g. 0 for a row left out)."""
    weights = spec.weights if weights is None else weights
    if weights is None and not spec.dpar_predictors:
        return spec.trials
    data = {} if spec.trials is None else {"trials": spec.trials}
    if weights is not None:
        data["weights"] = weights
    if spec.dpar_predictors:
        data[FORMULA_DESIGNS] = {p.dpar: p.X for p in spec.dpar_predictors}
    return data


class MeanLikelihood(NamedTuple):
    """``(y, eta, trials) -> pointwise log-likelihood`` of a family whose only parameter is its
    mean; static and hashable (nothing of the data), so a model of the same shape reuses
    compiled code."""

    family: Family
    link: str

    def __call__(self, y, eta, trials):
        return _weighted(self.family.log_likelihood(y, {"mu": Mu(eta, self.link)}, _aux(trials)), trials)


class FamilyLikelihood(NamedTuple):
    """``(y, eta, phi, trials) -> pointwise log-likelihood`` for any family: ``phi`` holds the
    family's scalar parameters on their link scales, in the order of ``dpars`` ((name, link)
    pairs), each mapped to its own scale by its link's inverse (the link is the parameter's
    constraining map), so an optimiser works on the real line; then the coefficients of each
    parameter's formula (``formulas``: (name, link, number of columns)), whose design the row data
    carry (:func:`row_data`). Static and hashable, as :class:`MeanLikelihood`."""

    family: Family
    link: str
    dpars: tuple = ()
    formulas: tuple = ()
    thresholds: int = 0         # an ordinal model's, last in phi, raw (Stan's ordered transform)

    def __call__(self, y, eta, phi, trials):
        params = {"mu": Mu(eta, self.link)}
        params.update({name: LINKS[link].inverse(phi[k]) for k, (name, link) in enumerate(self.dpars)})
        start = len(self.dpars)
        for name, link, width in self.formulas:
            params[name] = LINKS[link].inverse(trials[FORMULA_DESIGNS][name] @ phi[start:start + width])
            start += width
        if self.thresholds:
            params[PARAMS.thresholds] = ordered(phi[start:start + self.thresholds])[0]
        return _weighted(self.family.log_likelihood(y, params, _aux(trials)), trials)


def family_likelihood(spec: ModelSpec) -> FamilyLikelihood:
    """The likelihood of ``spec`` in its mean, its scalar dpars (``spec.scalar_dpars`` order) and
    the fixed effects of each parameter's formula. A formula with group terms is refused: the
    engine integrates out the mean's effects only."""
    for predictor in spec.dpar_predictors:
        if predictor.blocks:
            raise ModelError(f"the formula for {predictor.dpar} has group terms, which method='laplace' and 'ml' "
                             "cannot integrate out yet; use method='nuts'")
    formulas = tuple((p.dpar, p.link.name, p.num_fixed) for p in spec.dpar_predictors)
    return FamilyLikelihood(spec.family, spec.link.name, tuple((d.name, d.link) for d in spec.scalar_dpars), formulas,
                            spec.thresholds)


def dpar_start(spec: ModelSpec) -> np.ndarray:
    """Starting values of the scalar dpars on their link scales: each Dpar's own ``start`` from the
    response and its scale (the residual sd of least squares for a location family, as the NUTS
    initialisation uses), mapped through the dpar's link."""
    scale = crude_fit(spec)[1]
    scalars = [float(LINKS[d.link].forward(d.start(spec.y, scale))) for d in spec.scalar_dpars]
    formulas = [c for p in spec.dpar_predictors for c in _formula_start(spec, p, scale)]
    thresholds = list(ordered_inverse(threshold_start(spec.y, spec.link.name))) if spec.thresholds else []
    return np.array(scalars + formulas + thresholds, dtype=float)


def _formula_start(spec: ModelSpec, predictor, scale: float) -> list:
    """A formula's coefficients at the parameter's crude start: the intercept at its link value."""
    coefficients = [0.0] * predictor.num_fixed
    if predictor.num_fixed and np.allclose(predictor.X[:, 0], 1.0):
        coefficients[0] = float(predictor.link.forward(spec.family.dpar(predictor.dpar).start(spec.y, scale)))
    return coefficients


def mean_likelihood(spec: ModelSpec, purpose: str) -> MeanLikelihood:
    """The likelihood of ``spec`` in its mean alone; refused, naming NUTS, for a family with other
    parameters (a shape, a precision, zero inflation), which ``purpose`` cannot estimate yet."""
    if spec.scalar_dpars:
        names = ", ".join(d.name for d in spec.scalar_dpars)
        raise ModelError(f"{purpose} is not available yet for the {spec.family.name} family, whose parameters besides "
                         f"the mean ({names}) it cannot estimate; use method='nuts'")
    return MeanLikelihood(spec.family, spec.link.name)
