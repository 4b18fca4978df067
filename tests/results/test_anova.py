"""hx.anova (hierax.results.anova) against lmerTest 3.1.3's anova tables (type III and type I,
Satterthwaite and Kenward-Roger via pbkrtest 0.5.2) on lme4 fits run to convergence
(tests/reference/anova_type3.R and .json; ChickWeight's type III table from
variance_decomposition.json). lmerTest differentiates numerically (df 41.9999998 where the balanced
cake design gives exactly 42) and its hypotheses are rounded to 7 significant digits; hierax's are
exact, so the tables are compared to 1e-4 relative and the hypotheses to 1e-6."""

import dataclasses
import json
import types
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.errors import HieraxError, ModelError
from hierax.results.anova import anova, hypotheses

HERE = Path(__file__).resolve().parent
REFERENCE = json.loads((HERE.parent / "reference" / "anova_type3.json").read_text())
CHICKWEIGHT = json.loads((HERE.parent / "reference" / "variance_decomposition.json").read_text())["chickweight"]
DATA = HERE.parent / "reference" / "data"
TEACHING = HERE.parents[2] / "shared" / "data" / "teaching"

# name: (formula, data file, columns that are categories written as numbers, method)
MODELS = {
    "cake": ("angle ~ recipe * temp + (1 | recipe:replicate)", DATA / "cake.csv", ["replicate", "temp"], "reml"),
    "cake_nested": ("angle ~ recipe + recipe:temp + (1 | recipe:replicate)", DATA / "cake.csv",
                    ["replicate", "temp"], "reml"),
    "co2": ("uptake ~ conc * Type + Treatment + (1 | Plant)", DATA / "CO2.csv", [], "reml"),
    "co2_threeway": ("uptake ~ conc * Type * Treatment + (1 | Plant)", DATA / "CO2.csv", [], "reml"),
    "co2_ml": ("uptake ~ conc * Type + Treatment + (1 | Plant)", DATA / "CO2.csv", [], "ml"),
    "assay": ("logDens ~ sample * dilut + (1 | Block) + (1 | Block:sample) + (1 | Block:dilut)", DATA / "Assay.csv",
              ["Block", "dilut"], "reml"),
    "grouseticks": ("log(TICKS + 1) ~ YEAR * cHEIGHT + (1 | BROOD) + (1 | LOCATION)", TEACHING / "grouseticks.csv",
                    ["YEAR", "BROOD", "LOCATION"], "reml"),
    "grouseticks_year97": ("log(TICKS + 1) ~ YEAR * cHEIGHT + (1 | BROOD) + (1 | LOCATION)",
                           TEACHING / "grouseticks.csv", ["YEAR", "BROOD", "LOCATION"], "reml"),
    "grouseticks_year_only": ("log(TICKS + 1) ~ YEAR + (1 | BROOD) + (1 | LOCATION)", TEACHING / "grouseticks.csv",
                              ["YEAR", "BROOD", "LOCATION"], "reml"),
    "chickweight_no_intercept": ("weight ~ 0 + Diet + Diet:Time + (1 | Chick)", TEACHING / "ChickWeight.csv",
                                 ["Chick", "Diet"], "reml"),
    "chickweight": ("weight ~ Time * Diet + (1 | Chick)", TEACHING / "ChickWeight.csv", ["Chick", "Diet"], "reml"),
}
KEYS = {"satterthwaite": "satterthwaite", "kenward-roger": "kenward_roger"}
COLUMNS = {"sum_sq": "Sum Sq", "mean_sq": "Mean Sq", "num_df": "NumDF", "den_df": "DenDF", "F": "F value",
           "p": "Pr(>F)"}


def _frame(name, reverse: tuple = ()) -> pd.DataFrame:
    """The model's data with R's factors as pandas categories (levels sorted as R sorts them;
    YEAR 97, 95, 96 for grouseticks_year97; the columns in ``reverse`` in reversed order)."""
    _, path, categorical, _ = MODELS[name]
    frame = pd.read_csv(path)
    for column in categorical:
        frame[column] = frame[column].astype(str).astype("category")
    if name == "grouseticks_year97":
        frame["YEAR"] = frame["YEAR"].cat.reorder_categories(["97", "95", "96"])
    for column in reverse:
        frame[column] = frame[column].astype("category")
        frame[column] = frame[column].cat.reorder_categories(list(frame[column].cat.categories[::-1]))
    return frame


@cache
def _fit(name, reverse: tuple = ()):
    formula, _, _, method = MODELS[name]
    return hx.fit(formula, _frame(name, reverse), method=method)


@cache
def _table(name, kind, method, reverse: tuple = ()):
    return anova(_fit(name, reverse), type=kind, df=method)


def _lme4_name(name: str) -> str:
    return name.replace("[", "").replace("]", "")


def _compare(table, expected):
    assert list(table.index) == list(np.atleast_1d(expected["terms"]))
    for key, column in COLUMNS.items():
        assert table[column].to_numpy() == pytest.approx(np.atleast_1d(expected[key]), rel=1e-4), column


# type I with Kenward-Roger for two models only: its F does not depend on the rows, which the
# Satterthwaite cases and test_hypotheses_are_lmertests check for every model
CASES = [(name, kind, method) for name in REFERENCE if name != "source" for kind in (3, 1) for method in KEYS
         if KEYS[method] in REFERENCE[name][f"anova_type{kind}"]
         and (kind == 3 or method == "satterthwaite" or name in ("cake", "co2"))]


@pytest.mark.parametrize("name, kind, method", CASES)
def test_tables_match_lmertest(name, kind, method):
    """Every entry of lmerTest's table: crossed, nested, numeric-by-factor, three-way, no-intercept
    and ML fits, both df methods, type III and type I."""
    reference = REFERENCE[name]
    assert reference["messages"] == [] and not reference["singular"]
    fit = _fit(name)
    assert [_lme4_name(n) for n in fit.spec.fixed_names] == reference["fixef"]["names"]
    assert fit.sigma == pytest.approx(reference["sigma"], rel=1e-4)
    _compare(_table(name, kind, method), reference[f"anova_type{kind}"][KEYS[method]])


@pytest.mark.parametrize("kind", [3, 1])
@pytest.mark.parametrize("name", [name for name in REFERENCE if name != "source"])
def test_hypotheses_are_lmertests(name, kind):
    """The L matrices row by row, not only their span: Satterthwaite's df of a several-df term
    depend on the rows (module docstring)."""
    got = hypotheses(_fit(name), kind)
    expected = REFERENCE[name][f"hypotheses_type{kind}"]
    assert list(got) == list(expected)
    for term, L in got.items():
        assert L == pytest.approx(np.atleast_2d(np.asarray(expected[term], float)), abs=1e-6), term


@pytest.mark.parametrize("method", list(KEYS))
def test_chickweight_table_matches_lmertest(method):
    """The table tests/results/test_ddf.py builds by hand, from the formula's terms."""
    _compare(_table("chickweight", 3, method), CHICKWEIGHT["anova_type3"][KEYS[method]])


def test_a_balanced_tables_do_not_change_with_the_reference_levels():
    """hierax's coding choice is the level order (treatment contrasts against the first level): in
    the balanced cake design every entry stays."""
    for method in KEYS:
        reversed_levels = _table("cake", 3, method, ("recipe", "temp"))
        pd.testing.assert_frame_equal(reversed_levels, _table("cake", 3, method), rtol=1e-5)


def test_only_the_several_df_satterthwaite_denominators_follow_the_reference_level():
    """grouseticks with YEAR's reference 97 instead of 95 (unbalanced): F, the sums of squares and
    every Kenward-Roger number stay; Satterthwaite's DenDF of the 2-df terms moves (105.64 to 105.36)
    as lmerTest's does (test_tables_match_lmertest checks both against lmerTest)."""
    for method in KEYS:
        first, other = _table("grouseticks", 3, method), _table("grouseticks_year97", 3, method)
        same = ["Sum Sq", "Mean Sq", "NumDF", "F value"] + (["DenDF", "Pr(>F)"] if method == "kenward-roger" else [])
        pd.testing.assert_frame_equal(other[same], first[same], rtol=1e-5)
        one_df = first["NumDF"] == 1
        assert other.loc[one_df, "DenDF"].to_numpy() == pytest.approx(first.loc[one_df, "DenDF"].to_numpy(), rel=1e-5)
    first, other = _table("grouseticks", 3, "satterthwaite"), _table("grouseticks_year97", 3, "satterthwaite")
    assert other.loc["YEAR", "DenDF"] != pytest.approx(first.loc["YEAR", "DenDF"], rel=1e-3)


def test_the_table_records_its_settings():
    table = _table("co2", 3, "kenward-roger")
    assert table.attrs == {"type": 3, "df": "kenward-roger"}
    assert anova(_fit("co2"), type="III", df="Kenward_Roger").equals(table)
    assert anova(_fit("co2"), type=np.int64(1)).equals(_table("co2", 1, "satterthwaite"))
    assert table.columns.tolist() == ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"]
    assert table.index.name == "term"


def test_a_saved_fit_gives_the_same_table(tmp_path):
    """The term-to-column map comes from the formula and the levels, which a restored fit rebuilds
    from its saved columns: fits saved before anova existed need nothing new."""
    from hierax.results.io import restore, save

    restored = restore(save(_fit("co2"), tmp_path / "co2.nc"))
    pd.testing.assert_frame_equal(anova(restored), _table("co2", 3, "satterthwaite"), rtol=1e-10)


def _relabelled(method):
    """The co2 REML fit relabelled as another kind of fit (their refusal reads ``method`` and the
    residual sd; fitting a NUTS or Laplace model here would cost more than this whole file)."""
    fit = _fit("co2")
    if method == "nuts":
        return types.SimpleNamespace(method="nuts", spec=fit.spec, design_info=fit.design_info)
    return dataclasses.replace(fit, method=method)


@pytest.mark.parametrize("call, message", [
    (lambda: anova(_relabelled("laplace")), "this fit is method='laplace'.*hx.lrt"),
    (lambda: anova(_relabelled("nuts")), "this fit is method='nuts'.*hx.hypothesis"),
    (lambda: anova(_relabelled("map")), "this fit is method='map'"),
    (lambda: anova(pd.DataFrame({"y": [1.0]})), "not a fit"),
    (lambda: anova(_fit("co2"), type=2), "type=2 is not an anova type"),
    (lambda: anova(_fit("co2"), type="II"), "type='II' is not an anova type"),
    (lambda: anova(_fit("co2"), type=None), "use type=3"),
    (lambda: anova(_fit("co2"), type=True), "type=True"),
    (lambda: anova(_fit("co2"), df="kr"), "df='kr' is not a method"),
    (lambda: anova(_fit("co2"), df=None), "df=None is not a method"),
    (lambda: anova(_fit("co2_ml"), df="kenward-roger"), "Kenward-Roger's adjustment is defined at REML"),
])
def test_bad_requests_are_refused(call, message):
    with pytest.raises(ModelError, match=message) as error:
        call()
    assert isinstance(error.value, HieraxError)


def test_a_fit_with_known_sds_is_refused():
    data = pd.read_csv(DATA / "bcg.csv")
    fit = hx.fit("yi | se(sei) ~ 1 + ablat + (1 | trial)", data, method="reml")
    with pytest.raises(ModelError, match="known sds"):
        anova(fit)


def test_kenward_roger_refuses_more_than_its_row_limit(monkeypatch):
    from hierax.results.ddf import KenwardRoger

    monkeypatch.setattr(KenwardRoger, "MAX_ROWS", 50)
    with pytest.raises(ModelError, match="use df='satterthwaite'"):
        anova(_fit("co2"), df="kenward-roger")
