"""Distributional regression formulas: a formula for the mean and one for any other parameter.

``bf("y ~ x + (1 | g)", sigma="~ x + (1 | g)")`` follows brms's ``bf()``: each keyword names a
distributional parameter of the family (``sigma``, ``shape``, ``phi``, ``zi``, ``hu``, ``nu``)
and gives a one-sided formula for it, on that parameter's link scale. Which names a family has is
checked when the model is specified (the formula knows no families).

As text, a distributional formula is the mean's formula followed by each parameter's, separated
by semicolons: ``"y ~ x + (1 | g); sigma ~ x"``. That is how a fit stores it, how the command
line takes it, and what :func:`as_bf` reads back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hierax.errors import FormulaError
from hierax.formula.resolver import parse_formula
from hierax.formula.terms import Formula

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Bf:
    """The mean's formula (text, response included) and ``dpars``: ((name, "~ ..."), ...)."""

    formula: str
    dpars: tuple = ()

    def __str__(self) -> str:
        return "; ".join([self.formula] + [f"{name} {rhs}" for name, rhs in self.dpars])

    @property
    def mean(self) -> Formula:
        """The mean's formula, parsed."""
        return parse_formula(self.formula)

    def dpar_formula(self, name: str) -> Formula:
        """The formula of parameter ``name`` with the mean's response on its left, so that its
        design is built on the same rows with the same checks."""
        lhs = self.formula.split("~", 1)[0]
        return parse_formula(f"{lhs}{dict(self.dpars)[name]}")

    @property
    def variables(self) -> tuple:
        """Every column any of the formulas names, in order of first appearance."""
        names = list(self.mean.variables)
        for name, _ in self.dpars:
            names += [v for v in self.dpar_formula(name).variables if v not in names]
        return tuple(names)


def bf(formula: str, **dpars: str) -> Bf:
    """A distributional formula: ``bf("y ~ x + (1 | g)", sigma="~ x")``, as brms's ``bf()``.

    Raises
    ------
    FormulaError
        A formula that is not text, a parameter's formula with a response of its own, or one that
        does not parse.
    """
    if not isinstance(formula, str):
        raise FormulaError(f"bf() takes the mean's formula as text, e.g. bf('y ~ x', sigma='~ x'), got {formula!r}")
    if ";" in formula:
        raise FormulaError("give each parameter's formula as a keyword of bf(), e.g. bf('y ~ x', sigma='~ x'), "
                           "not after a ';' in the first formula")
    parts = []
    for name, text in dpars.items():
        if not isinstance(text, str) or not text.strip().startswith("~"):
            raise FormulaError(f"the formula for {name!r} must be one-sided text such as '~ x + (1 | g)' (the response "
                               f"is the mean's), got {text!r}")
        parts.append((name, " ".join(text.split())))
    result = Bf(" ".join(formula.split()), tuple(parts))
    result.mean
    for name, _ in result.dpars:
        try:
            result.dpar_formula(name)      # each parses, with the mean's response on its left
        except FormulaError as error:
            raise FormulaError(f"in the formula for {name!r}: {error}") from None
    return result


def as_bf(formula) -> Bf:
    """A :class:`Bf` from a Bf, a formula's text, or the text form ``"y ~ x; sigma ~ x"``."""
    if isinstance(formula, Bf):
        return formula
    if not isinstance(formula, str):
        raise FormulaError(f"a formula must be text such as 'y ~ x + (1 | g)' or hx.bf(...), got {formula!r}")
    first, *rest = formula.split(";")
    dpars = {}
    for part in rest:
        name, tilde, rhs = part.strip().partition("~")
        name = name.strip()
        if not tilde or not _NAME.match(name):
            raise FormulaError(f"after ';' each part must be a parameter's formula such as 'sigma ~ x', got {part.strip()!r}")
        if name in dpars:
            raise FormulaError(f"the parameter {name!r} has two formulas; give it one")
        dpars[name] = "~" + rhs
    return bf(first.strip(), **dpars)
