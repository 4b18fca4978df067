"""Syntax-tree nodes of a parsed formula.

The parser builds these without looking at data. The same node types serve the formula operators
(``+``, ``:``, ``*``, ``/``, ``|``) and, inside function calls such as ``I(x^2)`` or
``cbind(s, n - s)``, plain arithmetic; which meaning applies is decided by the resolver.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Name:
    """A column name."""

    name: str
    position: int


@dataclass(frozen=True)
class Number:
    """A numeric literal, kept as written."""

    text: str
    position: int

    @property
    def value(self) -> float:
        return float(self.text)


@dataclass(frozen=True)
class Call:
    """A function applied to arguments, e.g. ``log(x)`` or ``trials(n)``; ``keywords`` holds
    R's named arguments, ``(name, value)`` pairs in order, e.g. ``se(s, sigma = TRUE)`` (which
    calls take which names is the resolver's business)."""

    func: str
    args: tuple
    position: int
    keywords: tuple = ()


@dataclass(frozen=True)
class BinOp:
    """A binary operator: one of ``+ - * / : ^``."""

    op: str
    left: object
    right: object
    position: int


@dataclass(frozen=True)
class Neg:
    """Unary minus: ``-1`` removes the intercept, ``-x`` removes a term."""

    operand: object
    position: int


@dataclass(frozen=True)
class Bar:
    """``lhs | group`` (correlated) or ``lhs || group`` (independent effects)."""

    lhs: object
    group: object
    correlated: bool
    position: int


@dataclass(frozen=True)
class Paren:
    """An expression in parentheses (kept so that error positions stay exact)."""

    inner: object
    position: int


def to_text(node) -> str:
    """Canonical text of an expression: the label used for columns and coefficients."""
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Number):
        return node.text
    if isinstance(node, Call):
        items = [to_text(a) for a in node.args] + [f"{name} = {to_text(value)}" for name, value in node.keywords]
        return f"{node.func}({', '.join(items)})"
    if isinstance(node, Neg):
        return f"-{to_text(node.operand)}"
    if isinstance(node, Paren):
        return f"({to_text(node.inner)})"
    if isinstance(node, Bar):
        bar = "|" if node.correlated else "||"
        return f"({to_text(node.lhs)} {bar} {to_text(node.group)})"
    if isinstance(node, BinOp):
        if node.op in ("^", ":"):
            return f"{to_text(node.left)}{node.op}{to_text(node.right)}"
        return f"{to_text(node.left)} {node.op} {to_text(node.right)}"
    raise TypeError(f"not a formula node: {node!r}")
