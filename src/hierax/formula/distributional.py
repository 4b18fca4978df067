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
from hierax.formula.nodes import to_text
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

    def __add__(self, other):
        """``bf("y ~ mi(x) + z") + bf("x | mi() ~ z")``: a model for a predictor, fitted jointly."""
        return MvBf((self,)) + other


@dataclass(frozen=True)
class MvBf:
    """Formulas of several responses fitted jointly (brms's ``bf() + bf()``): the first is the
    outcome's, each other a model of a predictor the outcome's formula imputes, ``mi(x)``, with
    ``x | mi()`` on its left. As text, the parts follow one another after semicolons, a part
    with ``|`` on its left starting a new response: ``"y ~ mi(x) + z; x | mi() ~ z"``."""

    parts: tuple

    def __str__(self) -> str:
        return "; ".join(str(part) for part in self.parts)

    def __add__(self, other):
        if isinstance(other, str):
            other = as_bf(other)
        if not isinstance(other, Bf):
            raise FormulaError(f"add formulas made by hx.bf(), e.g. hx.bf('y ~ mi(x)') + hx.bf('x | mi() ~ z'), "
                               f"not {type(other).__name__}")
        whole = MvBf(self.parts + (other,))
        whole.check()
        return whole

    @property
    def outcome(self) -> Bf:
        return self.parts[0]

    @property
    def submodels(self) -> dict:
        """{predictor: its Bf} for each part after the first."""
        return {to_text(part.mean.response.value): part for part in self.parts[1:]}

    @property
    def variables(self) -> tuple:
        names = []
        for part in self.parts:
            names += [v for v in part.variables if v not in names]
        return tuple(names)

    def check(self) -> None:
        """Each part after the first models a column with ``| mi()``, once."""
        seen = set()
        for part in self.parts[1:]:
            response = part.mean.response
            name = to_text(response.value)
            if not response.mi:
                raise FormulaError(f"the formula {part.formula!r} added to the outcome's must model a missing "
                                   f"predictor, with mi() on its left: '{name} | mi() ~ ...'")
            if name in seen:
                raise FormulaError(f"{name!r} has two formulas; give it one")
            seen.add(name)


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
    """A :class:`Bf` from a Bf, a formula's text, or the text form ``"y ~ x; sigma ~ x"``.

    Formulas of several responses (:class:`MvBf`) are refused here, with what takes them: every
    entry point but NUTS's fit reads one response (:func:`as_formula` reads both kinds)."""
    whole = as_formula(formula)
    if isinstance(whole, MvBf):
        raise FormulaError("a formula with a model for a missing predictor (hx.bf(...) + hx.bf('x | mi() ~ ...')) is "
                           "fitted by hx.fit(..., method='nuts') only; other methods and tools take one response")
    return whole


def as_formula(formula):
    """A :class:`Bf`, or an :class:`MvBf` where the formula has a model for a predictor."""
    if isinstance(formula, (Bf, MvBf)):
        return formula
    if not isinstance(formula, str):
        raise FormulaError(f"a formula must be text such as 'y ~ x + (1 | g)' or hx.bf(...), got {formula!r}")
    parts, current = [], []
    for piece in formula.split(";"):
        lhs = piece.partition("~")[0]
        if current and "|" in lhs:           # 'x | mi() ~ z' starts the formula of another response
            parts.append(current)
            current = []
        current.append(piece)
    parts.append(current)
    single = [_single_bf(";".join(pieces)) for pieces in parts]
    if len(single) == 1:
        return single[0]
    whole = MvBf(tuple(single))
    whole.check()
    return whole


def _single_bf(formula: str) -> Bf:
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
