"""The resolved formula: terms of the fixed part, group terms, and the response."""

from __future__ import annotations

from dataclasses import dataclass

from hierax.formula.nodes import BinOp, Call, Name, Neg, Paren, to_text


@dataclass(frozen=True)
class Term:
    """A product of factors (columns or calls); the empty product is the intercept.

    Factors are kept in the order written, so ``a:b`` keeps the label ``a:b``; two terms are
    equal when they hold the same factors in any order.
    """

    factors: tuple

    @property
    def label(self) -> str:
        return ":".join(to_text(f) for f in self.factors) if self.factors else "1"

    @property
    def key(self) -> frozenset:
        return frozenset(to_text(f) for f in self.factors)

    def __eq__(self, other):
        return isinstance(other, Term) and self.key == other.key

    def __hash__(self):
        return hash(self.key)

    def __mul__(self, other: "Term") -> "Term":
        seen = {to_text(f) for f in self.factors}
        return Term(self.factors + tuple(f for f in other.factors if to_text(f) not in seen))


@dataclass(frozen=True)
class GroupTerm:
    """``(lhs | group)``: effects ``terms`` (plus an intercept) varying by the levels of ``group``.

    ``correlated`` is False for ``||``, which gives the effects independent priors.
    """

    intercept: bool
    terms: tuple
    group: Term
    correlated: bool

    @property
    def group_label(self) -> str:
        return self.group.label


@dataclass(frozen=True)
class Response:
    """The left of ``~``.

    ``value`` is the outcome expression; for ``cbind(s, f)`` it is ``s`` with ``failures`` ``f``;
    ``trials`` is set by ``s | trials(n)``; ``se`` by ``y | se(s)`` (known measurement sd);
    ``weights`` by ``y | weights(w)`` (each row's log-likelihood multiplied by w, as brms does);
    ``se_sigma`` by ``se(s, sigma = TRUE)``: a residual sd estimated beside the known ones;
    ``cens``/``cens_y2`` by ``y | cens(censored, y2)``; ``trunc_lb``/``trunc_ub`` by
    ``y | trunc(lb = 0, ub = 10)``.
    """

    value: object
    failures: object = None
    trials: object = None
    se: object = None
    weights: object = None
    se_sigma: bool = False
    cens: object = None                 # cens(censored): each row's censoring code (brms's)
    cens_y2: object = None              # cens(censored, y2): the upper end of interval-censored rows
    trunc_lb: object = None             # trunc(lb = ., ub = .): truncation bounds, numbers or columns
    trunc_ub: object = None
    mi: bool = False                    # y | mi(): missing responses imputed in the fit (hierax.missing)

    @property
    def label(self) -> str:
        return to_text(self.value)


@dataclass(frozen=True)
class Formula:
    """A resolved formula: no data yet, only the structure of the model.

    Attributes
    ----------
    text : the formula as written.
    response : the outcome and its addition terms.
    intercept : whether the fixed part has an intercept.
    fixed : the fixed-effect terms, main effects before interactions.
    random : one ``GroupTerm`` per grouping factor (``(1 | a/b)`` gives two).
    offset : an expression added to the linear predictor with coefficient 1, or None.
    """

    text: str
    response: Response
    intercept: bool
    fixed: tuple
    random: tuple
    offset: object = None

    @property
    def variables(self) -> tuple:
        """Every column name the formula refers to, in order of first appearance."""
        names: list[str] = []
        for node in _all_nodes(self):
            for name in names_in(node):
                if name not in names:
                    names.append(name)
        return tuple(names)


def _all_nodes(formula: Formula):
    r = formula.response
    yield from (n for n in (r.value, r.failures, r.trials, r.se, r.weights, r.cens, r.cens_y2, r.trunc_lb, r.trunc_ub)
                if n is not None)
    yield from right_hand_nodes(formula)


def right_hand_nodes(formula: Formula):
    """The expressions of the right-hand side: offset, fixed terms' factors, group terms' factors
    and grouping factors (what new data for prediction must provide)."""
    if formula.offset is not None:
        yield formula.offset
    for term in formula.fixed:
        yield from term.factors
    for group_term in formula.random:
        for term in group_term.terms:
            yield from term.factors
        yield from group_term.group.factors


def names_in(node):
    if isinstance(node, Name):
        yield node.name
    elif isinstance(node, Call):
        for arg in node.args:
            yield from names_in(arg)
    elif isinstance(node, BinOp):
        yield from names_in(node.left)
        yield from names_in(node.right)
    elif isinstance(node, (Neg, Paren)):
        yield from names_in(node.operand if isinstance(node, Neg) else node.inner)
