"""Formula language: lme4/brms syntax to immutable terms. Imports nothing else from hierax."""

from hierax.formula.distributional import Bf, MvBf, as_bf, as_formula, bf
from hierax.formula.resolver import parse_formula
from hierax.formula.terms import Formula, GroupTerm, Response, Term

__all__ = ["parse_formula", "Formula", "GroupTerm", "Response", "Term", "Bf", "MvBf", "as_bf", "as_formula", "bf"]
