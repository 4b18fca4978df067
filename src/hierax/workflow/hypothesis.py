"""Hypotheses about a posterior, tested on its draws, as brms's ``hypothesis()`` does.

``hx.hypothesis(fit, "Days > 8")`` moves everything to the left, d = (left) - (right), evaluates d
at every draw and reports, as brms 2.18 does:

- ``estimate`` and ``est_error``: the mean and sd of d (``robust=True``: the median and R's
  ``mad``, 1.4826 times the median absolute deviation);
- ``lower`` and ``upper``: the quantiles (R's type 7) at alpha and 1 - alpha for a one-sided
  hypothesis ("<", ">"), at alpha / 2 and 1 - alpha / 2 for a point one ("=");
- ``evidence_ratio``: for "d > 0" the posterior odds #{d > 0} / #{d <= 0} (infinite when every
  draw agrees), for "<" likewise; for "=" brms's Savage-Dickey ratio needs prior draws, and is
  left NaN here;
- ``post_prob``: evidence / (1 + evidence), the posterior probability of a one-sided hypothesis;
- ``star``: "*" where the hypothesis is supported at alpha: a one-sided posterior probability
  above 1 - alpha, or 0 outside a point hypothesis's interval.

Names are the fit's labels (``fit.summary()``'s index): a fixed effect by its name ("Days"; the
intercept as "Intercept" or "(Intercept)"), any label that is not a plain name between backticks
(``"`sd[Subject][Days]` < sigma / 3"``). A DataFrame of draws is taken as is, its columns the
names. Expressions use + - * / ^ (or **), parentheses, numbers and exp, log, sqrt, abs.
"""

from __future__ import annotations

import ast
import re

import numpy as np
import pandas as pd

from hierax.errors import ModelError

_FUNCTIONS = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs}
_OPERATORS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
              ast.Pow: np.power, ast.BitXor: np.power}
_MAD = 1.4826                     # R's mad(): the normal consistency constant brms's robust sd uses


def hypothesis(fit, hypotheses, alpha: float = 0.05, robust: bool = False) -> pd.DataFrame:
    """Test ``hypotheses`` (a string or a list of them) on the draws of ``fit`` (a NUTS fit, or a
    DataFrame of draws); see the module docstring for the columns."""
    if not (isinstance(alpha, float | int) and 0.0 < alpha < 0.5):
        raise ModelError(f"alpha={alpha!r}: give a number between 0 and 0.5 (0.05: 90% one-sided intervals)")
    draws = _draws(fit)
    rows = [_one(text, draws, float(alpha), bool(robust)) for text in
            ([hypotheses] if isinstance(hypotheses, str) else list(hypotheses))]
    table = pd.DataFrame(rows).set_index("hypothesis")
    table.attrs.update(alpha=float(alpha), robust=bool(robust))
    return table


def _draws(fit) -> dict:
    """{name: flat draws} of a DataFrame's columns, or of every label of a fit's summary."""
    if isinstance(fit, pd.DataFrame):
        return {str(k): np.asarray(v, dtype=float) for k, v in fit.items()}
    if not getattr(fit, "has_draws", False):
        raise ModelError("hypothesis() tests hypotheses on posterior draws: fit with method='nuts' (or pass a "
                         "DataFrame of draws)")
    from hierax.results import tables

    flat = tables.draws_by_label(fit.idata, fit.spec)
    if "(Intercept)" in flat:
        flat["Intercept"] = flat["(Intercept)"]
    return flat


def _one(text: str, draws: dict, alpha: float, robust: bool) -> dict:
    if not isinstance(text, str):
        raise ModelError(f"a hypothesis is a string such as 'x > 0'; got {text!r}")
    found = re.findall(r"<=|>=|==|!=|<|>|=", text)
    if len(found) != 1 or found[0] not in ("<", ">", "="):
        raise ModelError(f"{text!r}: a hypothesis compares two sides with one of <, > or =, e.g. 'x > 0' or "
                         f"'a = b'")
    left, right = (side.strip() for side in text.split(found[0]))
    operator = found[0]
    d = _evaluate(left, draws, text) - _evaluate(right or "0", draws, text)
    label = f"({left})-({right}) {operator} 0" if right.replace(" ", "") not in ("0", "") else f"({left}) {operator} 0"
    estimate, error = (np.median(d), _MAD * np.median(np.abs(d - np.median(d)))) if robust else (d.mean(), d.std(ddof=1))
    probs = (alpha, 1.0 - alpha) if operator != "=" else (alpha / 2.0, 1.0 - alpha / 2.0)
    lower, upper = np.quantile(d, probs)
    if operator == "=":
        evidence = post_prob = np.nan
        star = "*" if (lower > 0.0 or upper < 0.0) else ""
    else:
        k = int(np.sum(d > 0.0) if operator == ">" else np.sum(d < 0.0))
        evidence = np.inf if k == len(d) else k / (len(d) - k)
        post_prob = 1.0 if np.isinf(evidence) else evidence / (1.0 + evidence)
        star = "*" if post_prob > 1.0 - alpha else ""
    return {"hypothesis": label, "estimate": float(estimate), "est_error": float(error), "lower": float(lower),
            "upper": float(upper), "evidence_ratio": float(evidence), "post_prob": float(post_prob), "star": star}


def _evaluate(expression: str, draws: dict, text: str):
    """The expression's value at every draw, by a small evaluator: names, numbers, + - * / ^."""
    names = {}

    def protect(match):                       # `sd[g][x]` -> a plain name for the parser
        key = f"__label{len(names)}"
        names[key] = match.group(1)
        return key

    source = re.sub(r"`([^`]+)`", protect, expression).replace("^", "**")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        raise ModelError(f"{text!r}: {expression!r} is not an expression of names, numbers and + - * / ^; write "
                         "labels such as sd[g][x] between backticks") from None

    def value(node):
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            name = names.get(node.id, node.id)
            if name not in draws:
                raise ModelError(f"{text!r}: no parameter named {name!r}; the names are {sorted(draws)}")
            return draws[name]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            return -value(node.operand) if isinstance(node.op, ast.USub) else value(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS \
                and len(node.args) == 1 and not node.keywords:
            return _FUNCTIONS[node.func.id](value(node.args[0]))
        raise ModelError(f"{text!r}: {ast.unparse(node)!r} is not allowed in a hypothesis (names, numbers, + - * / ^, "
                         f"and {sorted(_FUNCTIONS)})")

    return np.broadcast_to(np.asarray(value(tree), dtype=float), (len(next(iter(draws.values()))),))
