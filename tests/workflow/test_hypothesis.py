"""``hx.hypothesis`` against brms 2.18's ``hypothesis()`` on the same 2,000 posterior draws
(tests/reference/hypothesis.R: a data frame of draws, no Stan), and on a fit's own labels."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.errors import ModelError

HERE = Path(__file__).resolve().parent
DRAWS = pd.read_csv(HERE.parent / "reference" / "data" / "sleepstudy_draws.csv")
BRMS = json.loads((HERE.parent / "reference" / "hypothesis.json").read_text())["hypotheses"]
COLUMNS = {"Estimate": "estimate", "Est.Error": "est_error", "CI.Lower": "lower", "CI.Upper": "upper",
           "Evid.Ratio": "evidence_ratio", "Post.Prob": "post_prob"}


def _number(value):
    return {"NA": np.nan, "NaN": np.nan, "Inf": np.inf, "-Inf": -np.inf}.get(value, value)


@pytest.mark.parametrize("entry", BRMS, ids=[f"{e['input']} alpha {e['alpha']} robust {e['robust']}" for e in BRMS])
def test_every_column_matches_brms(entry):
    row = hx.hypothesis(DRAWS, entry["input"], alpha=entry["alpha"], robust=entry["robust"]).iloc[0]
    assert row.name.replace(" ", "") == entry["Hypothesis"].replace(" ", "")
    for theirs, ours in COLUMNS.items():
        expected = _number(entry[theirs])
        if np.isnan(expected):
            assert np.isnan(row[ours]), theirs
        else:
            assert row[ours] == pytest.approx(expected, rel=1e-12, abs=1e-12), theirs
    assert row["star"] == entry["Star"]


def test_a_fits_labels_name_its_parameters():
    data = pd.read_csv(HERE.parents[2] / "shared" / "data" / "teaching" / "sleepstudy.csv").astype({"Subject": str})
    fit = hx.fit("Reaction ~ Days + (Days | Subject)", data, chains=2, warmup=200, draws=200, seed=3, progress=False)
    table = hx.hypothesis(fit, ["Days > 0", "Intercept + 10 * Days > 300", "`sd[Subject][Days]` < sigma / 3"])
    assert len(table) == 3 and table["post_prob"].between(0.0, 1.0).all()
    days = fit.idata.posterior["beta"].values[..., 1].ravel()
    assert table["estimate"].iloc[0] == pytest.approx(days.mean(), rel=1e-12)


@pytest.mark.parametrize("hypothesis, message", [
    ("b_Days", "compares two sides"),
    ("b_Days >= 0", "compares two sides"),
    ("b_Dayz > 0", "no parameter named 'b_Dayz'"),
    ("__import__('os') > 0", "is not allowed"),
    ("b_Days > (", "is not an expression"),
])
def test_bad_hypotheses_are_refused(hypothesis, message):
    with pytest.raises(ModelError, match=message):
        hx.hypothesis(DRAWS, hypothesis)
