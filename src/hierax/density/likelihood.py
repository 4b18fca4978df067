"""The response's log-likelihood as a function of the linear predictor (and, for the Laplace
engine, of the family's other parameters on their link scales): what the Laplace and GLM engines
take, which see functions and arrays, never a family."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hierax.density.init import crude_fit
from hierax.errors import ModelError
from hierax.model.families import Family, Mu
from hierax.model.links import LINKS
from hierax.model.spec import ModelSpec


def _aux(trials) -> dict:
    """The family's aux data from the engine's row data: None, binomial trials, or the dict of
    :func:`row_data` (trials and weights)."""
    if isinstance(trials, dict):
        return {k: v for k, v in trials.items() if k != "weights"}
    return {} if trials is None else {"trials": trials}


def _weighted(pointwise, trials):
    """weights(w) multiply each row's log-likelihood (brms's and glmmTMB's meaning of weights)."""
    return pointwise * trials["weights"] if isinstance(trials, dict) and "weights" in trials else pointwise


def row_data(spec: ModelSpec):
    """What the engines pass as ``trials``: the binomial trials, or with weights(w) a dict of both."""
    if spec.weights is None:
        return spec.trials
    return {"weights": spec.weights, **({} if spec.trials is None else {"trials": spec.trials})}


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
    pairs), and each is mapped to its own scale by its link's inverse (the link is the parameter's
    constraining map), so an optimiser works on the real line. Static and hashable, as
    :class:`MeanLikelihood`."""

    family: Family
    link: str
    dpars: tuple = ()

    def __call__(self, y, eta, phi, trials):
        params = {"mu": Mu(eta, self.link)}
        params.update({name: LINKS[link].inverse(phi[k]) for k, (name, link) in enumerate(self.dpars)})
        return _weighted(self.family.log_likelihood(y, params, _aux(trials)), trials)


def family_likelihood(spec: ModelSpec) -> FamilyLikelihood:
    """The likelihood of ``spec`` in its mean and its scalar dpars (``spec.scalar_dpars`` order)."""
    return FamilyLikelihood(spec.family, spec.link.name, tuple((d.name, d.link) for d in spec.scalar_dpars))


def dpar_start(spec: ModelSpec) -> np.ndarray:
    """Starting values of the scalar dpars on their link scales: each Dpar's own ``start`` from the
    response and its scale (the residual sd of least squares for a location family, as the NUTS
    initialisation uses), mapped through the dpar's link."""
    scale = crude_fit(spec)[1]
    return np.array([float(LINKS[d.link].forward(d.start(spec.y, scale))) for d in spec.scalar_dpars], dtype=float)


def mean_likelihood(spec: ModelSpec, purpose: str) -> MeanLikelihood:
    """The likelihood of ``spec`` in its mean alone; refused, naming NUTS, for a family with other
    parameters (a shape, a precision, zero inflation), which ``purpose`` cannot estimate yet."""
    if spec.scalar_dpars:
        names = ", ".join(d.name for d in spec.scalar_dpars)
        raise ModelError(f"{purpose} is not available yet for the {spec.family.name} family, whose parameters besides "
                         f"the mean ({names}) it cannot estimate; use method='nuts'")
    return MeanLikelihood(spec.family, spec.link.name)
