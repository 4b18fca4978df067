"""Expand formula syntax trees into terms: ``*``, ``:``, ``/``, ``^``, ``-``, ``0``/``1`` and group terms.

The rules are R's (Chambers & Hastie 1992) as lme4 and brms use them:
``a*b = a + b + a:b``; ``a/b = a + a:b``; ``(a+b)^2 = a + b + a:b``; ``- 1`` or ``0 +`` drops the
intercept; ``(1 | a/b) = (1 | a) + (1 | a:b)``; ``(1 + x || g)`` gives independent effects.
"""

from __future__ import annotations

from hierax.errors import FormulaError
from hierax.formula.nodes import Bar, BinOp, Call, Name, Neg, Number, Paren, to_text
from hierax.formula.not_yet import NOT_YET
from hierax.formula.parser import ParsedFormula, parse, too_deep
from hierax.formula.terms import Formula, GroupTerm, Response, Term

#: Functions of columns allowed as predictors, with the number of arguments each takes.
TRANSFORMS = {
    "log": 1, "log1p": 1, "log2": 1, "log10": 1, "exp": 1, "sqrt": 1, "abs": 1,
    "scale": 1, "center": 1, "I": 1, "factor": 1, "as.factor": 1,
}
#: Functions that only make sense on the response side.
RESPONSE_FUNCTIONS = {"cbind": 2}
#: Addition terms (``y | se(s) ~ ...``): the fewest and most unnamed arguments each takes, and its
#: named ones (brms's: ``cens(censored, y2)``, ``trunc(lb = 0, ub = 10)``).
ADDITION_TERMS = {"se": (1, 1), "trials": (1, 1), "weights": (1, 1), "cens": (1, 2), "trunc": (0, 0), "mi": (0, 0)}
ADDITION_KEYWORDS = {"se": ("sigma",), "trunc": ("lb", "ub")}
_ADDITION_EXAMPLES = "se(sd), trials(n), weights(w), cens(censored), cens(censored, y2), trunc(lb = 0), mi()"
_LOGICAL = {"TRUE": True, "T": True, "FALSE": False, "F": False}
#: Predictors that are parameters of the model where the data do not pin them: mi(x) (missing values)
#: and me(x, sdx) (measured with known error sd); ``hierax.missing_predictor``.
LATENT_CALLS = ("mi", "me")


def parse_formula(text: str) -> Formula:
    """Parse and resolve an lme4/brms formula.

    Parameters
    ----------
    text : str
        For example ``"log_radon ~ floor + (1 + floor | county)"``.

    Returns
    -------
    Formula
        Immutable terms, with no reference to data.

    Raises
    ------
    FormulaError
        Naming the offending position.

    Examples
    --------
    >>> f = parse_formula("y ~ x * z + (1 | g/h)")
    >>> [t.label for t in f.fixed]
    ['x', 'z', 'x:z']
    >>> [g.group_label for g in f.random]
    ['g', 'g:h']
    """
    parsed = parse(text)
    try:
        return _Resolver(parsed).resolve()
    except RecursionError:
        raise too_deep(text) from None


class _Resolver:
    def __init__(self, parsed: ParsedFormula):
        self.parsed = parsed
        self.text = parsed.text

    def fail(self, message: str, node) -> None:
        raise FormulaError(message, self.text, getattr(node, "position", None))

    # -- the whole formula ---------------------------------------------------------------------
    def resolve(self) -> Formula:
        response = self.response(self.parsed.lhs)
        intercept, terms, groups = self.expand(self.parsed.rhs, allow_groups=True)
        offset = None
        fixed = []
        for term in terms:
            if len(term.factors) == 1 and isinstance(term.factors[0], Call) and term.factors[0].func == "offset":
                call = term.factors[0]
                self.check_arity(call, 1)
                self.check_keywords(call, ())
                self.check_arithmetic(call.args[0])
                if offset is not None:
                    self.fail("only one offset() is supported; add the columns inside it", call)
                offset = call.args[0]
            else:
                fixed.append(term)
        intercept = True if intercept is None else intercept
        if not intercept and not fixed and not groups:
            self.fail("the formula has no intercept, no predictors and no group terms, so there is nothing to "
                      "estimate; write 'y ~ 1' for an intercept alone, or add predictors or a group term, "
                      "e.g. 'y ~ 0 + (1 | g)'", self.parsed.rhs)
        return Formula(
            text=self.text,
            response=response,
            intercept=intercept,
            fixed=tuple(sorted(fixed, key=lambda t: len(t.factors))),
            random=tuple(groups),
            offset=offset,
        )

    def response(self, node) -> Response:
        additions = {}
        if isinstance(node, Bar):
            if not node.correlated:
                self.fail("use a single '|' before addition terms, e.g. 'y | se(s) ~ 1'", node)
            for term in self.sum_items(node.group):
                if isinstance(term, Call) and term.func == "mi" and term.args:
                    self.fail("mi(sdy), a response measured with known error, is not available in hierax yet; for a "
                              "response with known standard errors write y | se(sdy), and for a missing one y | mi()",
                              term)
                if isinstance(term, Call) and term.func in NOT_YET and term.func not in ADDITION_TERMS:
                    self.fail(NOT_YET[term.func], term)
                if not isinstance(term, Call) or term.func not in ADDITION_TERMS:
                    self.fail(f"unknown addition term {to_text(term)!r}; known: {_ADDITION_EXAMPLES}", term)
                if term.func in additions:
                    self.fail(f"{term.func}() is given twice; give each addition term once", term)
                self.check_addition(term)
                additions[term.func] = term
            node = node.lhs
        node = self.strip(node)
        if isinstance(node, Call) and node.func == "cbind":
            self.check_arity(node, 2)
            self.check_keywords(node, ())
            for arg in node.args:
                self.check_arithmetic(arg)
            if "trials" in additions:
                self.fail("use either cbind(successes, failures) or successes | trials(n), not both", node)
            return Response(value=node.args[0], failures=node.args[1], **self.addition_fields(additions))
        self.check_arithmetic(node)
        if isinstance(node, Number):
            self.fail("the response must be a column or an expression of columns, not a number, e.g. 'y ~ x'", node)
        return Response(value=node, trials=_argument(additions.get("trials")), **self.addition_fields(additions))

    def addition_fields(self, additions: dict) -> dict:
        """The Response's fields from the addition terms by name (trials() aside: cbind() has none)."""
        se, cens, trunc = additions.get("se"), additions.get("cens"), additions.get("trunc")
        bounds = dict(trunc.keywords) if trunc is not None else {}
        return {"se": _argument(se), "weights": _argument(additions.get("weights")),
                "se_sigma": se is not None and self.logical(se, "sigma", default=False),
                "mi": "mi" in additions, "cens": _argument(cens), "cens_y2": cens.args[1] if cens is not None and len(cens.args) > 1 else None,
                "trunc_lb": bounds.get("lb"), "trunc_ub": bounds.get("ub")}

    def check_addition(self, term: Call):
        """Arguments of an addition term: how many, which names, and arithmetic of columns only."""
        fewest, most = ADDITION_TERMS[term.func]
        if not fewest <= len(term.args) <= most:
            if most == 0:
                self.fail(f"{term.func}() takes named arguments only, e.g. {term.func}(lb = 0)", term)
            self.check_arity(term, fewest if len(term.args) < fewest else most)
        allowed = ADDITION_KEYWORDS.get(term.func, ())
        self.check_keywords(term, allowed)
        if term.func == "trunc" and not term.keywords:
            self.fail("trunc() needs a bound: trunc(lb = 0), trunc(ub = 100) or both", term)
        for node in list(term.args) + [value for name, value in term.keywords if name in ("lb", "ub")]:
            self.check_arithmetic(node)

    def check_keywords(self, call: Call, allowed: tuple):
        for name, value in call.keywords:
            if name not in allowed:
                known = f"its named arguments: {', '.join(allowed)}" if allowed else "it takes no named arguments"
                self.fail(f"{call.func}() has no argument {name!r}; {known}", value)

    def logical(self, call: Call, keyword: str, default: bool) -> bool:
        """The value of a TRUE/FALSE named argument, e.g. se(s, sigma = TRUE)."""
        for name, value in call.keywords:
            if name == keyword:
                if not (isinstance(value, Name) and value.name in _LOGICAL):
                    self.fail(f"{keyword} in {call.func}() is TRUE or FALSE, not {to_text(value)!r}", value)
                return _LOGICAL[value.name]
        return default

    def sum_items(self, node):
        node = self.strip(node)
        if isinstance(node, BinOp) and node.op == "+":
            return self.sum_items(node.left) + self.sum_items(node.right)
        return [node]

    # -- term algebra --------------------------------------------------------------------------
    def expand(self, node, allow_groups: bool):
        """Return (intercept: True/False/None for unspecified, terms, group terms)."""
        node = self.strip(node)
        if isinstance(node, Number):
            if node.value not in (0.0, 1.0):
                self.fail(f"a number alone may only be 0 or 1 (no intercept / intercept), not {node.text}", node)
            return bool(node.value), [], []
        if isinstance(node, Name):
            if node.name == ".":
                self.fail("'.' (every other column) is not supported; name the predictors, e.g. 'y ~ a + b'", node)
            return None, [Term((node,))], []
        if isinstance(node, Call):
            if node.func in LATENT_CALLS:
                self.check_latent(node)
            else:
                self.check_call(node)
            return None, [Term((node,))], []
        if isinstance(node, Bar):
            if not allow_groups:
                self.fail("a group term (… | g) cannot be part of an interaction or a function; add it with '+'", node)
            return None, [], self.group_terms(node)
        if isinstance(node, Neg):
            intercept, terms, groups = self.expand(node.operand, allow_groups=False)
            if terms or groups or intercept is None:
                self.fail("'-' can only remove a term that was added before it, e.g. 'y ~ a * b - a:b'", node)
            return (not intercept), [], []
        if isinstance(node, BinOp):
            return self.binop(node, allow_groups)
        self.fail(f"unexpected {to_text(node)!r}; check the formula's operators", node)

    def binop(self, node: BinOp, allow_groups: bool):
        if node.op == "+":
            li, lt, lg = self.expand(node.left, allow_groups)
            ri, rt, rg = self.expand(node.right, allow_groups)
            return (ri if ri is not None else li), _union(lt, rt), lg + rg
        if node.op == "-":
            li, lt, lg = self.expand(node.left, allow_groups)
            ri, rt, rg = self.expand(node.right, allow_groups=False)
            if rg:
                self.fail("a group term cannot be removed with '-'; leave it out of the formula instead", node.right)
            intercept = (not ri) if ri is not None else li
            return intercept, [t for t in lt if t not in rt], lg
        left_int, left, _ = self.expand(node.left, allow_groups=False)
        if node.op == "^":
            return self.power(node, left)
        _, right, _ = self.expand(node.right, allow_groups=False)
        if left_int is not None and node.op != "/":
            self.fail(f"0 and 1 cannot be used with {node.op!r}; add them with '+', e.g. 'y ~ 0 + a * b'", node)
        if not left or not right:
            self.fail(f"{node.op!r} needs a term on each side, e.g. 'a {node.op} b'", node)
        products = [a * b for a in left for b in right]
        if node.op == ":":
            return None, _union(products, []), []
        if node.op == "*":
            return None, _union(_union(left, right), products), []
        if node.op == "/":
            whole = left[0]
            for t in left[1:]:
                whole = whole * t
            return None, _union(left, [whole * b for b in right]), []
        self.fail(f"unknown operator {node.op!r}; the operators are + - * / : ^", node)

    def power(self, node: BinOp, base: list):
        exponent = self.strip(node.right)
        if not isinstance(exponent, Number) or not _positive_whole(exponent.value):
            self.fail("the power of a sum of terms must be a positive whole number, e.g. (a + b + c)^2", node.right)
        terms = list(base)
        # each round adds products of one more factor; beyond len(base) rounds nothing new appears,
        # so a power such as ^1000000 costs no more than ^len(base)
        for _ in range(min(int(exponent.value), len(base)) - 1):
            terms = _union(terms, [a * b for a in terms for b in base])
        return None, terms, []

    def group_terms(self, bar: Bar) -> list[GroupTerm]:
        intercept, terms, _ = self.expand(bar.lhs, allow_groups=False)
        for term in terms:
            for factor in term.factors:
                if isinstance(factor, Call) and factor.func in LATENT_CALLS:
                    self.fail(f"{factor.func}() in a group term (a slope that varies on a latent predictor) is not "
                              f"available in hierax yet; use {factor.func}() among the fixed effects", factor)
        intercept = True if intercept is None else intercept
        if not intercept and not terms:
            self.fail("a group term needs at least one varying effect, e.g. (1 | g) or (0 + x | g)", bar)
        group_int, group_terms, _ = self.expand(bar.group, allow_groups=False)
        if group_int is not None or not group_terms:
            self.fail("the grouping factor must be a column, e.g. (1 | g)", bar.group)
        if isinstance(self.strip(bar.group), BinOp) and self.strip(bar.group).op in ("+", "-", "*"):
            self.fail("a grouping factor cannot be a sum; write one group term per factor, e.g. (1 | a) + (1 | b)", bar.group)
        for term in group_terms:
            for factor in term.factors:
                if not isinstance(factor, Name):
                    self.fail("a grouping factor must be a column name (interactions with ':' and nesting with '/' "
                              "are fine); compute the grouping column in the data first, e.g. data['g2'] = ...", factor)
        sorted_terms = tuple(sorted(terms, key=lambda t: len(t.factors)))
        return [GroupTerm(intercept, sorted_terms, g, bar.correlated) for g in group_terms]

    # -- checks ----------------------------------------------------------------------------------
    def strip(self, node):
        while isinstance(node, Paren):
            node = node.inner
        return node

    def check_latent(self, call: Call):
        """``mi(x)``: a predictor with missing values imputed in the fit (a model for it is added
        with ``hx.bf(...) + hx.bf("x | mi() ~ ...")``); ``me(x, sdx)``: a predictor measured with
        known error sd; each a term or in an interaction."""
        if call.func == "me":
            if len(call.args) != 2 or not isinstance(self.strip(call.args[0]), Name) or call.keywords:
                self.fail("me() takes the measured predictor's column and its error sd, e.g. 'y ~ me(x, sdx) + z'",
                          call)
            self.check_arithmetic(call.args[1])
            return
        if len(call.args) != 1 or not isinstance(self.strip(call.args[0]), Name) or call.keywords:
            self.fail("mi() on the right of '~' takes the predictor's column alone, e.g. 'y ~ mi(x) + z'", call)

    def check_call(self, call: Call):
        if call.func == "offset":
            return
        if call.func in LATENT_CALLS:
            self.fail(f"{call.func}() is a term of its own or part of an interaction ({to_text(call)}:z); it "
                      "cannot be inside a function or arithmetic", call)
        if call.func in NOT_YET:
            self.fail(NOT_YET[call.func], call)
        if call.func in RESPONSE_FUNCTIONS or call.func in ADDITION_TERMS:
            self.fail(f"{call.func}() belongs on the left of '~', e.g. 'cbind(s, f) ~ x' or 'y | se(s) ~ x'", call)
        if call.func not in TRANSFORMS:
            known = ", ".join(sorted(TRANSFORMS))
            self.fail(f"unknown function {call.func!r}; known functions: {known}, offset", call)
        self.check_keywords(call, ())
        self.check_arity(call, TRANSFORMS[call.func])
        for arg in call.args:
            self.check_arithmetic(arg)

    def check_arity(self, call: Call, arity: int):
        if len(call.args) != arity:
            plural = "argument" if arity == 1 else "arguments"
            example = ", ".join(("x", "z")[:arity])
            if call.func in ADDITION_TERMS and ADDITION_TERMS[call.func][0] != ADDITION_TERMS[call.func][1]:
                fewest, most = ADDITION_TERMS[call.func]
                self.fail(f"{call.func}() takes {fewest} to {most} arguments, got {len(call.args)}; write it as "
                          f"{call.func}(x) or {call.func}(x, z)", call)
            self.fail(f"{call.func}() takes {arity} {plural}, got {len(call.args)}; "
                      f"write it as {call.func}({example})", call)

    def check_arithmetic(self, node):
        """Inside a call, only arithmetic of columns and numbers is allowed."""
        node = self.strip(node)
        if isinstance(node, (Name, Number)):
            return
        if isinstance(node, Neg):
            return self.check_arithmetic(node.operand)
        if isinstance(node, BinOp):
            if node.op not in "+-*/^":
                self.fail(f"{node.op!r} is a formula operator and cannot be used inside a function; inside a "
                          "function use arithmetic (+ - * / ^), e.g. I(x * z)", node)
            self.check_arithmetic(node.left)
            self.check_arithmetic(node.right)
            return
        if isinstance(node, Call):
            return self.check_call(node)
        self.fail(f"{to_text(node)!r} cannot be used here; inside a function use columns, numbers and "
                  "arithmetic", node)


def _argument(call: Call | None):
    """The first argument of an addition term, or None where the term is absent."""
    return None if call is None else call.args[0]


def _positive_whole(value: float) -> bool:
    """1, 2, 3, ... (an infinite value such as 1e400 is not whole)."""
    return value >= 1 and value != float("inf") and value == int(value)


def _union(first: list, second: list) -> list:
    out = list(first)
    for term in second:
        if term not in out:
            out.append(term)
    return out
