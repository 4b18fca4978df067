"""Recursive-descent parser for lme4/brms formulas.

Precedence follows R, from loosest to tightest: ``~``; ``|`` and ``||`` (only inside parentheses,
or on the response side for brms addition terms such as ``y | se(s)``); ``+`` and ``-``;
``*`` and ``/``; ``:``; unary minus; ``^``.
"""

from __future__ import annotations

from dataclasses import dataclass

from hierax.errors import FormulaError
from hierax.formula.nodes import Bar, BinOp, Call, Name, Neg, Number, Paren
from hierax.formula.not_yet import NOT_YET
from hierax.formula.scanner import Token, scan


@dataclass(frozen=True)
class ParsedFormula:
    """The two sides of ``lhs ~ rhs`` as syntax trees, with the original text."""

    text: str
    lhs: object
    rhs: object


def parse(text: str) -> ParsedFormula:
    """Parse formula ``text`` into syntax trees.

    Raises
    ------
    FormulaError
        With the position of the first problem, e.g. an unclosed parenthesis.
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be a string such as 'y ~ x + (1 | g)', got {type(text).__name__}")
    if not text.strip():
        raise FormulaError("the formula is empty; write it as 'response ~ predictors', e.g. 'y ~ x + (1 | g)'")
    try:
        return _Parser(text).formula()
    except RecursionError:
        raise too_deep(text) from None


def too_deep(text: str) -> FormulaError:
    """The error for a formula nested beyond Python's recursion limit (hundreds of parentheses or
    terms): refused as a FormulaError rather than crashing the parser or the resolver."""
    return FormulaError(f"the formula is nested too deeply or has too many terms to read ({len(text)} characters); "
                        "remove redundant parentheses, or build a shorter formula")


_EMPTY_PARENS = "empty parentheses; put a term inside them or remove them"
_EMPTY_CALLS = {"trunc": "trunc() needs a bound: trunc(lb = 0), trunc(ub = 100) or both"}
EMPTY_CALLS = ("mi",)           # calls that take no arguments: y | mi() ~ ... (the resolver places them)


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = scan(text)
        self.i = 0

    # -- token helpers -------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def at(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def advance(self) -> Token:
        tok = self.tok
        self.i += 1
        return tok

    def fail(self, message: str, position: int | None = None):
        raise FormulaError(message, self.text, self.tok.position if position is None else position)

    # -- grammar -------------------------------------------------------------------------------
    def formula(self) -> ParsedFormula:
        if self.at("~"):
            self.fail("a response is needed on the left of '~', e.g. 'y ~ x'")
        if "~" not in (t.text for t in self.tokens if t.kind == "op"):
            self.fail("missing '~' between the response and the predictors, e.g. 'y ~ x'", len(self.text))
        lhs = self.bar_expr(context="response")
        if not self.at("~"):
            self.unexpected()
        self.advance()
        rhs = self.sum_expr()
        if self.at("|", "||"):
            self.fail("a group term must be in parentheses, e.g. 'y ~ x + (1 | g)'")
        if self.at("~"):
            self.fail("a formula has exactly one '~'; write it as 'response ~ predictors', e.g. 'y ~ x + z'")
        if self.tok.kind != "end":
            self.unexpected()
        return ParsedFormula(self.text, lhs, rhs)

    def unexpected(self):
        tok = self.tok
        if tok.kind == "end":
            self.fail("the formula ends too early; complete it, e.g. 'y ~ x'")
        if tok.text == ")":
            self.fail("unmatched ')'; remove it, or add the '(' it closes")
        if tok.text == "=":
            self.fail("'=' only names an argument inside a function, e.g. se(s, sigma = TRUE); to compare "
                      "values, compute a column in the data instead, e.g. data['big'] = data['x'] > 2")
        self.fail(f"unexpected {tok.text!r}; check for a missing operator such as '+', '*' or ':' before it")

    def bar_expr(self, context: str):
        start = self.tok.position
        if self.at("|", "||"):
            self.fail(f"expected terms before {self.tok.text!r}, e.g. '(1 | g)'")
        left = self.sum_expr()
        if not self.at("|", "||"):
            return left
        op = self.advance()
        if self.at(")", "~") or self.tok.kind == "end":
            what = "a grouping factor" if context == "group" else "an addition term such as se(s) or trials(n)"
            self.fail(f"expected {what} after {op.text!r}, e.g. '(1 | g)' or 'y | se(s) ~ x'")
        right = self.sum_expr()
        if self.at("|", "||"):
            self.fail("only one '|' is allowed in a group term; write one group term per grouping factor, "
                      "e.g. (1 | g) + (1 | h)")
        return Bar(left, right, op.text == "|", start)

    def sum_expr(self):
        left = self.product_expr()
        while self.at("+", "-"):
            op = self.advance()
            self.expect_operand(op)
            left = BinOp(op.text, left, self.product_expr(), op.position)
        return left

    def product_expr(self):
        left = self.colon_expr()
        while self.at("*", "/"):
            op = self.advance()
            self.expect_operand(op)
            left = BinOp(op.text, left, self.colon_expr(), op.position)
        return left

    def colon_expr(self):
        left = self.unary_expr()
        while self.at(":"):
            op = self.advance()
            self.expect_operand(op)
            left = BinOp(":", left, self.unary_expr(), op.position)
        return left

    def unary_expr(self):
        if self.at("-"):
            op = self.advance()
            self.expect_operand(op)
            return Neg(self.unary_expr(), op.position)
        if self.at("+"):
            op = self.advance()
            self.expect_operand(op)
            return self.unary_expr()
        return self.power_expr()

    def power_expr(self):
        base = self.atom()
        if self.at("^"):
            op = self.advance()
            self.expect_operand(op)
            return BinOp("^", base, self.unary_expr(), op.position)
        return base

    def expect_operand(self, op: Token):
        if self.tok.kind == "end" or self.at(")", "~", "|", "||", ",", "+", "*", "/", ":", "^"):
            if op.text == "+" and self.at("+"):
                return
            self.fail(f"expected a term after {op.text!r}; add one, or remove the {op.text!r}")

    def atom(self):
        tok = self.tok
        if tok.kind == "number":
            self.advance()
            return Number(tok.text, tok.position)
        if tok.kind == "name":
            self.advance()
            if self.at("("):
                return self.call(tok)
            return Name(tok.text, tok.position)
        if self.at("("):
            return self.paren()
        if tok.kind == "end":
            self.fail("the formula ends too early: expected a term, e.g. 'y ~ 1' or 'y ~ x'")
        if self.at(")"):
            empty = self.i > 0 and self.tokens[self.i - 1].text == "("
            self.fail(_EMPTY_PARENS if empty else "unmatched ')'; remove it, or add the '(' it closes")
        self.fail(f"expected a term, found {tok.text!r}; put a column, a number or a function call there")

    def paren(self):
        open_tok = self.advance()
        if self.at(")"):
            self.fail(_EMPTY_PARENS)
        inner = self.bar_expr(context="group")
        if not self.at(")"):
            if self.tok.kind == "end":
                self.fail("unclosed '('; add the missing ')'", open_tok.position)
            self.unexpected()
        self.advance()
        return inner if isinstance(inner, Bar) else Paren(inner, open_tok.position)

    def call(self, name: Token):
        open_tok = self.advance()
        args, keywords = [], []
        if self.at(")") and name.text in EMPTY_CALLS:
            self.advance()
            return Call(name.text, (), name.position)
        if self.at(")"):
            self.fail(NOT_YET.get(name.text, _EMPTY_CALLS.get(name.text, f"{name.text}() needs an argument, e.g. "
                                                                         f"{name.text}(x)")))
        while True:
            if self.tok.kind == "name" and self.tokens[self.i + 1].text == "=":
                keyword = self.advance()
                self.advance()
                if keyword.text in (k for k, _ in keywords):
                    self.fail(f"{keyword.text} is given twice in {name.text}(); give it once", keyword.position)
                keywords.append((keyword.text, self.sum_expr()))
            elif keywords:
                self.fail(f"an unnamed argument cannot follow a named one in {name.text}(); put the named ones last")
            else:
                args.append(self.sum_expr())
            if self.at(","):
                self.advance()
                continue
            if self.at(")"):
                self.advance()
                return Call(name.text, tuple(args), name.position, tuple(keywords))
            if self.tok.kind == "end":
                self.fail(f"unclosed '(' after {name.text}; add the missing ')'", open_tok.position)
            if self.at("|", "||"):
                self.fail(f"'|' cannot appear inside {name.text}(...); a group term stands on its own, "
                          "e.g. log(x) + (1 | g)")
            self.unexpected()
