"""What every fit records about how it was made, whichever engine made it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FittedModel:
    """The provenance shared by NUTS fits (:class:`~hierax.FitResult`) and REML/ML/Laplace fits
    (:class:`~hierax.MixedFit`): formula, family and link names, method, the ModelSpec and what
    is needed to encode new data (``design_info``)."""

    formula: str
    family: str
    link: str
    method: str
    spec: object
    design_info: object

    @property
    def nobs(self) -> int:
        return self.spec.num_obs
