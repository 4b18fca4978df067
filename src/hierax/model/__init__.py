"""Model: families, links, priors and the model specification."""

from hierax.model.families import FAMILIES, LINKS, get_family
from hierax.model.prior_rules import PriorTable
from hierax.model.priors import LKJ, Exponential, HalfCauchy, HalfNormal, HalfStudentT, Normal, Prior, StudentT
from hierax.design.block import Block
from hierax.model.spec import ModelSpec, specify

__all__ = [
    "FAMILIES", "LINKS", "get_family", "PriorTable", "Prior", "Normal", "StudentT", "HalfNormal",
    "HalfStudentT", "HalfCauchy", "Exponential", "LKJ", "Block", "ModelSpec", "specify",
]
