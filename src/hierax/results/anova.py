"""The analysis-of-variance table of a linear mixed model's fixed effects, as R's lmerTest prints it
(``anova(m, type = 3)``): one F test per formula term, with Satterthwaite's or Kenward-Roger's
denominator df (``hierax.results.ddf``).

A term's type III hypothesis (SAS's, lmerTest's default) asks whether the term matters once every
other term is in the model, averaged over the levels of the factors it interacts with; it does not
depend on how the factors are coded. lmerTest builds it from the model's terms alone:

1. Write the model overparameterised: an intercept and, per term, one column for every combination
   of its factors' levels (all levels, numbers multiplying). Each of these columns is a fixed
   combination of the fit's columns X (treatment coding: a first level's indicator is one minus the
   others); the coefficients of that combination form a row of K (overparameterised x p).
2. K's column j is the fit's coefficient beta_j written over the overparameterised cells. Going
   from the highest-order terms down, a term's columns are replaced by their residuals from the
   columns of the terms that contain it (a containing term has the same numeric variables and more
   factors), so that the term's hypothesis says nothing about its interactions.
3. Each of the term's columns, read at the rows of the cells that are X's own columns, is one row of
   its hypothesis L (L beta = 0); rows that vanish are dropped.

lmerTest's containment compares only the variables R codes by contrasts in a term (those whose
removal leaves a term of the model; R's ``factors`` attribute 1, not 2), so a term nested in
another (``a + a:b`` without ``b``) is not contained in it; we follow it. With one term (or one
column) lmerTest uses the type I rows instead, and so do we. The rows are built as lmerTest builds
them, not merely to span the same hypothesis, because Satterthwaite's df of a test of several rows
depends on the rows: lmerTest rotates them to independent contrasts (the eigenvectors of L V L'),
each with its own df, so a term of more than one df changes DenDF (not F) with the reference level.

Type I (sequential) rows are those of the unit upper-triangular factor of X'X (lmerTest's Doolittle
decomposition): the row of a column ignores the columns before it.

The term-to-column map is computed here from the formula's terms, the factors' levels recorded in
``DesignInfo`` and the coding rule of ``hierax.design.build`` (treatment contrasts by R's rule),
rather than stored with the design: the overparameterised expansion needs each column's factor
levels anyway, which a stored list of names would only give back by parsing labels, and every fit,
saved with an older hierax or not, has what it needs. Every column the rule predicts is looked up
by its label in the fit's ``fixed_names``, and the map must claim each column exactly once; a fit
whose columns do not follow its formula is refused rather than tested against the wrong columns.
"""

from __future__ import annotations

import itertools
import numbers

import numpy as np
import pandas as pd

from hierax.errors import ModelError
from hierax.formula.nodes import to_text
from hierax.results import ddf

TYPES = {"3": 3, "iii": 3, "1": 1, "i": 1}
COLUMNS = ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"]
INTERCEPT = "(Intercept)"
HINTS = {"nuts": "for draws, test the coefficients with hx.hypothesis(fit, ...) or compare models with hx.loo",
         "map": "for a posterior mode, test the coefficients of a NUTS fit with hx.hypothesis",
         "laplace": "for a GLMM, compare nested fits by likelihood ratio (hx.lrt, method='ml' fits) or AIC"}


def anova(fit, type=3, df: str = "satterthwaite") -> pd.DataFrame:
    """lmerTest's ``anova(m, type = 3)``: an F test of each term of the fixed part.

    Parameters
    ----------
    fit : a linear mixed model fitted by ``method="reml"`` or ``"ml"``.
    type : 3 (or "III"): each term adjusted for all others (SAS's type III hypotheses, invariant to
        the coding); 1 (or "I"): sequential, each term adjusted for the terms before it.
    df : "satterthwaite" or "kenward-roger" (REML fits, at most 5,000 rows): the denominator df.

    Returns
    -------
    pandas.DataFrame indexed by term with lmerTest's columns ``Sum Sq``, ``Mean Sq``, ``NumDF``,
    ``DenDF``, ``F value``, ``Pr(>F)``. As in lmerTest, Mean Sq = sigma^2 times the Wald F (before
    Kenward-Roger's scaling) and Sum Sq = Mean Sq * NumDF: a scale for the F, not a sum of squares of
    the data. ``attrs`` holds ``type`` and ``df``; :func:`hypotheses` gives each term's L matrix
    (lmerTest's ``attr(table, "hypotheses")``).

    Raises
    ------
    ModelError
        For a fit that is not a REML/ML linear mixed model, an unknown ``type`` or ``df``, and
        Kenward-Roger's refusals (an ML fit, too many rows).
    """
    check_fit(fit)
    kind, method = check_type(type), check_df(df)
    L = hypotheses(fit, kind)
    pieces = ddf.tests_for(fit, method)
    sigma2 = float(fit.output.sigma) ** 2
    table = pd.DataFrame([_row(pieces, matrix, sigma2, method) for matrix in L.values()],
                         index=pd.Index(list(L), name="term"), columns=COLUMNS)
    table.attrs.update(type=kind, df=method)
    return table


def check_fit(fit) -> None:
    """F tests with small-sample df are for linear mixed models fitted by REML or ML: a residual
    variance estimated from the data, and the variance parameters' likelihood to derive the df."""
    if not all(hasattr(fit, name) for name in ("method", "spec", "design_info")):
        raise ModelError(f"anova takes a fit, such as hx.fit(formula, data, method='reml') returns; "
                         f"got {type(fit).__name__}, which is not a fit")
    if fit.method not in ("reml", "ml"):
        hint = HINTS.get(fit.method, "pass the MixedFit that hx.fit(formula, data, method='reml') returns")
        raise ModelError(f"anova's F tests are for linear mixed models fitted by method='reml' or 'ml' (lmerTest's "
                         f"anova); this fit is method={fit.method!r}: refit a gaussian model with method='reml', or "
                         f"{hint}")
    if fit.spec.se is not None:
        raise ModelError("anova's F tests need a residual variance estimated from the data; this fit has known sds "
                         "(se()), a meta-analysis: test its coefficients with fit.fixef() or fit.contrast() instead")
    if getattr(getattr(fit, "output", None), "sigma", None) is None:
        raise ModelError("anova's F tests need a linear mixed model's residual sd, which this fit does not have; "
                         "refit a gaussian model with method='reml'")


def check_type(type) -> int:
    """``type`` as 3 or 1 (lmerTest's spellings: 3, "3", "III"; 1, "1", "I")."""
    known = isinstance(type, (numbers.Integral, str)) and not isinstance(type, bool)
    kind = TYPES.get(str(type).strip().lower()) if known else None
    if kind is None:
        raise ModelError(f"type={type!r} is not an anova type hierax computes; use type=3 (each term adjusted for all "
                         "others, lmerTest's default) or type=1 (sequential)")
    return kind


def check_df(df) -> str:
    """``df`` as one of ``ddf.METHODS``: an anova's F tests always need a denominator df."""
    name = df.lower().replace("_", "-") if isinstance(df, str) else None
    if name not in ddf.METHODS:
        raise ModelError(f"df={df!r} is not a method for the F tests' denominator degrees of freedom; use one of "
                         f"{list(ddf.METHODS)}")
    return name


def hypotheses(fit, type=3) -> dict:
    """Each term's hypothesis matrix L (rows over ``fit.spec.fixed_names``), as lmerTest builds it."""
    terms = TermColumns(fit.design_info, fit.spec.fixed_names)
    X = np.asarray(fit.spec.X, float)
    if check_type(type) == 1 or X.shape[1] <= 1 or len(terms.terms) <= 1:
        fit.spec.require_rows("type I (sequential) hypotheses (they read X'X)")
        return type_one(X, terms)
    return type_three(terms)


def type_one(X: np.ndarray, terms: "TermColumns") -> dict:
    """Sequential hypotheses: the rows of the unit upper-triangular factor U of X'X = U' D U."""
    R = np.linalg.cholesky(X.T @ X).T
    U = R / np.diag(R)[:, None]
    return {term.label: U[terms.columns[term.key]] for term in terms.terms}


def type_three(terms: "TermColumns") -> dict:
    """Type III hypotheses from the containment of the terms (module docstring, steps 1-3)."""
    K, rows = terms.overparameterised()
    for term in sorted(terms.terms, key=lambda t: -len(t.key)):         # stable, as R's order()
        containing = [terms.columns[other.key] for other in terms.terms if terms.contains(other, term)]
        if containing:
            A, own = K[:, np.concatenate(containing)], terms.columns[term.key]
            K[:, own] -= A @ np.linalg.lstsq(A, K[:, own], rcond=None)[0]
    H = K[rows]                           # H[:, j]: column j's hypothesis row over X's columns
    out = {}
    for term in terms.terms:
        L = H[:, terms.columns[term.key]].T
        out[term.label] = L[np.abs(L).sum(axis=1) > 1e-8]
    return out


def _row(pieces, L: np.ndarray, sigma2: float, method: str) -> dict:
    """One line of the table: the F test of L beta = 0 and lmerTest's Sum Sq and Mean Sq."""
    if L.shape[0] == 0:                   # nothing left to test (lmerTest prints NA)
        return dict.fromkeys(COLUMNS, np.nan)
    test = pieces.f_test(L)
    wald = test["F"]
    if method == "kenward-roger":         # Mean Sq from pbkrtest's unscaled F, with the adjusted covariance
        estimate = L @ pieces.beta
        wald = float(estimate @ np.linalg.solve(L @ pieces.vcov @ L.T, estimate)) / test["num_df"]
    mean_sq = wald * sigma2
    return {"Sum Sq": mean_sq * test["num_df"], "Mean Sq": mean_sq, "NumDF": test["num_df"],
            "DenDF": test["den_df"], "F value": test["F"], "Pr(>F)": test["p"]}


class TermColumns:
    """Which of X's columns each fixed-effect term owns, and each overparameterised cell written in
    X's columns (module docstring: why this is derived, not stored).

    A cell is a term's key with a level index for each categorical factor (a dict text -> index);
    a numeric factor multiplies and has no level.
    """

    def __init__(self, info, fixed_names):
        formula = info.formula
        self.terms = tuple(formula.fixed)
        self.levels = {text: tuple(levels) for text, levels in info.categorical_levels.items()}
        self.keys = {term.key for term in self.terms}
        self.present = self.keys | ({frozenset()} if formula.intercept else set())
        self.texts = {term.key: tuple(to_text(f) for f in term.factors) for term in self.terms}
        self.position = {name: j for j, name in enumerate(fixed_names)}
        self.intercept = formula.intercept
        self._expanded: dict = {}
        self.columns = {term.key: np.array(sorted(self._column(term.key, cell) for cell in self._cells(term, True)),
                                           dtype=int) for term in self.terms}
        claimed = sorted(itertools.chain([self._column(frozenset(), {})] if self.intercept else [],
                                         *self.columns.values()))
        if claimed != list(range(len(fixed_names))):
            raise ModelError("the fit's fixed-effect columns do not follow its formula's terms, so anova cannot tell "
                             "which columns a term owns; refit the model with hx.fit")

    def _categorical(self, text) -> bool:
        return text in self.levels

    def _contrast(self, key, text) -> bool:
        """R's rule, as ``hierax.design.build``: a factor is coded by contrasts (first level dropped)
        where the term without it is in the model (the intercept being the empty term)."""
        return self._categorical(text) and (key - {text}) in self.present

    def _cells(self, term, coded: bool):
        """The term's cells: X's columns (``coded``) or every combination of levels."""
        texts = self.texts[term.key]
        choices = [range(1 if coded and self._contrast(term.key, t) else 0, len(self.levels[t]))
                   if self._categorical(t) else [None] for t in texts]
        for combination in itertools.product(*choices):
            yield {t: level for t, level in zip(texts, combination) if level is not None}

    def _label(self, key, cell) -> str:
        if not key:
            return INTERCEPT
        return ":".join(f"{t}[{self.levels[t][cell[t]]}]" if self._categorical(t) else t for t in self.texts[key])

    def _column(self, key, cell) -> int:
        label = self._label(key, cell)
        if label not in self.position:
            raise ModelError(f"the fit has no fixed-effect column {label!r}, which its formula's terms imply; anova "
                             "cannot map the terms to the columns: refit the model with hx.fit")
        return self.position[label]

    def expand(self, key, cell) -> np.ndarray:
        """The cell's column of the overparameterised design as a combination of X's columns: a
        contrast-coded factor at its first level is the term without it minus its other levels."""
        memo = (key, frozenset(cell.items()))
        if memo not in self._expanded:
            self._expanded[memo] = self._expand(key, cell)
        return self._expanded[memo]

    def _expand(self, key, cell) -> np.ndarray:
        for text in sorted(key):
            if self._contrast(key, text) and cell[text] == 0:
                rest = {t: level for t, level in cell.items() if t != text}
                out = self.expand(key - {text}, rest)
                for level in range(1, len(self.levels[text])):
                    out = out - self.expand(key, {**cell, text: level})
                return out
        out = np.zeros(len(self.position))
        out[self._column(key, cell)] = 1.0
        return out

    def overparameterised(self) -> tuple[np.ndarray, np.ndarray]:
        """K (cells x p) and, for each of X's columns, the row of its own cell."""
        cells = [(frozenset(), {})] if self.intercept else []
        cells += [(term.key, cell) for term in self.terms for cell in self._cells(term, False)]
        K = np.array([self.expand(key, cell) for key, cell in cells])
        rows = np.empty(len(self.position), dtype=int)
        for r, (key, cell) in enumerate(cells):
            if all(cell[t] > 0 for t in key if self._contrast(key, t)):
                rows[self._column(key, cell)] = r
        return K, rows

    def contains(self, larger, smaller) -> bool:
        """lmerTest's containment: ``smaller``'s contrast-coded variables (R's factors attribute 1:
        a main effect's variable, or one whose removal leaves a term) are a proper subset of
        ``larger``'s, and both have the same numeric ones."""
        a, b = self._coded_variables(smaller.key), self._coded_variables(larger.key)
        numeric = {t for t in a if not self._categorical(t)} == {t for t in b if not self._categorical(t)}
        return a < b and numeric

    def _coded_variables(self, key) -> frozenset:
        return frozenset(t for t in key if len(key) == 1 or (key - {t}) in self.keys)

