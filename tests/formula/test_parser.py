"""Table-driven tests of the formula language: every syntax form, and malformed formulas.

Each valid formula is checked against the exact resolved structure (intercept, fixed term labels,
group terms), as formulae's tests compare syntax trees exactly.
"""

import pytest

from hierax.errors import FormulaError
from hierax.formula import parse_formula


def groups(formula):
    return [(g.intercept, [t.label for t in g.terms], g.group_label, g.correlated) for g in formula.random]


VALID = [
    # formula, intercept, fixed labels, group terms (intercept, terms, group, correlated)
    ("y ~ x", True, ["x"], []),
    ("y ~ 1", True, [], []),
    ("y ~ 0 + x", False, ["x"], []),
    ("y ~ x - 1", False, ["x"], []),
    ("y ~ -1 + x", False, ["x"], []),
    ("y ~ x + z", True, ["x", "z"], []),
    ("y ~ x:z", True, ["x:z"], []),
    ("y ~ x * z", True, ["x", "z", "x:z"], []),
    ("y ~ x * z - x:z", True, ["x", "z"], []),
    ("y ~ (a + b + c)^2", True, ["a", "b", "c", "a:b", "a:c", "b:c"], []),
    ("y ~ a/b", True, ["a", "a:b"], []),
    ("y ~ a*b*c", True, ["a", "b", "c", "a:b", "a:c", "b:c", "a:b:c"], []),
    ("y ~ log(x) + sqrt(z)", True, ["log(x)", "sqrt(z)"], []),
    ("y ~ scale(x) + center(z)", True, ["scale(x)", "center(z)"], []),
    ("y ~ I(x^2) + I(x * z)", True, ["I(x^2)", "I(x * z)"], []),
    ("y ~ factor(year)", True, ["factor(year)"], []),
    ("log(y) ~ x", True, ["x"], []),
    ("y ~ `my col` + x", True, ["my col", "x"], []),
    ("y ~ x.1 + x_2", True, ["x.1", "x_2"], []),
    ("y ~ x + (1 | g)", True, ["x"], [(True, [], "g", True)]),
    ("y ~ x + (x | g)", True, ["x"], [(True, ["x"], "g", True)]),
    ("y ~ x + (1 + x | g)", True, ["x"], [(True, ["x"], "g", True)]),
    ("y ~ x + (1 + x || g)", True, ["x"], [(True, ["x"], "g", False)]),
    ("y ~ x + (0 + x | g)", True, ["x"], [(False, ["x"], "g", True)]),
    ("y ~ x + (x - 1 | g)", True, ["x"], [(False, ["x"], "g", True)]),
    ("y ~ (1 | a/b)", True, [], [(True, [], "a", True), (True, [], "a:b", True)]),
    ("y ~ (1 | a:b)", True, [], [(True, [], "a:b", True)]),
    ("y ~ (1 | a) + (1 | b) + (1 | c)", True, [], [(True, [], "a", True), (True, [], "b", True), (True, [], "c", True)]),
    ("y ~ 0 + (1 | g)", False, [], [(True, [], "g", True)]),
    ("y ~ x + (1 + x * z | g)", True, ["x"], [(True, ["x", "z", "x:z"], "g", True)]),
]


@pytest.mark.parametrize("text, intercept, fixed, random", VALID)
def test_valid_formulas_resolve_to_expected_terms(text, intercept, fixed, random):
    formula = parse_formula(text)
    assert formula.intercept is intercept
    assert [t.label for t in formula.fixed] == fixed
    assert groups(formula) == random


def test_binomial_and_addition_responses():
    f = parse_formula("cbind(incidence, size - incidence) ~ period + (1 | herd)")
    assert f.response.label == "incidence" and f.response.failures is not None
    f = parse_formula("s | trials(n) ~ x")
    assert f.response.label == "s" and f.response.trials is not None
    f = parse_formula("y | se(sigma) ~ 1 + (1 | school)")
    assert f.response.se is not None and f.response.trials is None


def test_offset_is_separated_from_fixed_terms():
    f = parse_formula("y ~ x + offset(log(t))")
    assert [t.label for t in f.fixed] == ["x"] and f.offset is not None


def test_variables_lists_every_column_once():
    f = parse_formula("cbind(s, n - s) ~ x * z + log(w) + (1 + x | g/h)")
    assert f.variables == ("s", "n", "x", "z", "w", "g", "h")


MALFORMED = [
    # formula, a phrase the message must contain
    ("", "the formula is empty"),
    ("y", "missing '~'"),
    ("~ x", "a response is needed"),
    ("y ~", "ends too early"),
    ("y ~ x +", "expected a term after '+'"),
    ("y ~ x *", "expected a term after '*'"),
    ("y ~ x :", "expected a term after ':'"),
    ("y ~ (x", "unclosed '('"),
    ("y ~ x)", "unmatched ')'"),
    ("y ~ x | g", "must be in parentheses"),
    ("y ~ (x | )", "expected a grouping factor"),
    ("y ~ ( | g)", "expected terms before '|'"),
    ("y ~ x ~ z", "exactly one '~'"),
    ("y ~ x $ z", "unexpected character '$'"),
    ("y ~ 2", "may only be 0 or 1"),
    ("y ~ log(x", "unclosed '(' after log"),
    ("y ~ log()", "log() needs an argument"),
    ("y ~ (1 | g1 + g2)", "cannot be a sum"),
    ("y ~ x:(1 | g)", "cannot be part of an interaction"),
    ("y ~ foo(x)", "unknown function 'foo'"),
    ("y ~ `x", "unclosed backtick"),
    ("y | foo(n) ~ x", "unknown addition term"),
    ("y ~ x^z", "positive whole number"),
    ("cbind(a) ~ x", "cbind() takes 2 arguments"),
    ("y ~ (0 | g)", "needs at least one varying effect"),
    ("y ~ x, z", "unexpected ','"),
    ("y ~ ()", "empty parentheses"),
    ("y ~ (1 | 1)", "must be a column"),
    ("y ~ scale(x, z)", "scale() takes 1 argument"),
    ("y ~ (1 | log(g))", "must be a column name"),
    ("y ~ x = 2", "'=' only names an argument inside a function"),
    ("y ~ (1 | g | h)", "only one '|'"),
    ("y ~ log(x | g)", "cannot appear inside log"),
    ("y ~ x + trials(n)", "belongs on the left"),
    ("3 ~ x", "not a number"),
    ("y || se(s) ~ 1", "single '|'"),
    ("y ~ x - (1 | g)", "cannot be part of an interaction"),
]


@pytest.mark.parametrize("text, phrase", MALFORMED)
def test_malformed_formulas_give_clear_messages(text, phrase):
    with pytest.raises(FormulaError) as error:
        parse_formula(text)
    assert phrase in str(error.value)


def test_error_message_points_at_the_position():
    with pytest.raises(FormulaError) as error:
        parse_formula("y ~ x + foo(z)")
    lines = str(error.value).splitlines()
    assert lines[1].strip() == "y ~ x + foo(z)"
    assert lines[2].index("^") - lines[1].index("y") == len("y ~ x + ")


def test_non_string_formula_is_rejected():
    with pytest.raises(FormulaError, match="must be a string"):
        parse_formula(42)
