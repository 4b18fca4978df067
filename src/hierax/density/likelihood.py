"""The response's log-likelihood as a function of the mean's linear predictor alone: what the
Laplace and GLM engines take, which see functions and arrays, never a family."""

from __future__ import annotations

from typing import NamedTuple

from hierax.errors import ModelError
from hierax.model.families import Family, Mu
from hierax.model.spec import ModelSpec


class MeanLikelihood(NamedTuple):
    """``(y, eta, trials) -> pointwise log-likelihood`` of a family whose only parameter is its
    mean; static and hashable (nothing of the data), so a model of the same shape reuses
    compiled code."""

    family: Family
    link: str

    def __call__(self, y, eta, trials):
        aux = {} if trials is None else {"trials": trials}
        return self.family.log_likelihood(y, {"mu": Mu(eta, self.link)}, aux)


def mean_likelihood(spec: ModelSpec, purpose: str) -> MeanLikelihood:
    """The likelihood of ``spec`` in its mean alone; refused, naming NUTS, for a family with other
    parameters (a shape, a precision, zero inflation), which ``purpose`` cannot estimate yet."""
    if spec.scalar_dpars:
        names = ", ".join(d.name for d in spec.scalar_dpars)
        raise ModelError(f"{purpose} is not available yet for the {spec.family.name} family, whose parameters besides "
                         f"the mean ({names}) it cannot estimate; use method='nuts'")
    return MeanLikelihood(spec.family, spec.link.name)
