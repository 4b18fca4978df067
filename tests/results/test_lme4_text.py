"""REML/ML/Laplace fits print in lme4's layout, with lme4's numbers (``../shared/reference/lme4.json``)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import hierax as hx
from hierax.results.lme4_text import format_column

SHARED = Path(__file__).resolve().parents[3] / "shared"


@pytest.fixture(scope="module")
def sleepstudy():
    return pd.read_csv(SHARED / "data" / "teaching" / "sleepstudy.csv")


def test_sleepstudy_prints_as_lme4(sleepstudy):
    ref = json.loads((SHARED / "reference" / "lme4.json").read_text())["sleepstudy_reml"]
    text = str(hx.fit("Reaction ~ Days + (Days | Subject)", sleepstudy, method="reml"))
    lines = text.splitlines()
    assert lines[0] == "Linear mixed model fit by REML"
    assert f"REML criterion at convergence: {ref['objective']:.1f}" in lines
    start = lines.index("Random effects:")
    assert lines[start + 1].split() == ["Groups", "Name", "Variance", "Std.Dev.", "Corr"]
    subject, days, residual = (lines[start + k].split() for k in (2, 3, 4))
    assert subject[:2] == ["Subject", "(Intercept)"] and days[0] == "Days" and residual[0] == "Residual"
    assert float(days[-1]) == pytest.approx(0.07)                      # lme4 prints the correlation 0.07
    # lme4's sds: the REML criterion is flat there (ours is 1.4e-9 below lme4's), so the sds agree to
    # about 1e-5 relative, not to every printed digit (24.7404 here, 24.7407 in lme4)
    sdcor = ref["varcorr"]["sdcor"]
    assert float(subject[3]) == pytest.approx(sdcor[0], rel=5e-5)
    assert float(residual[2]) == pytest.approx(sdcor[3], rel=5e-5)
    assert lines[start + 5] == "Number of obs: 180, groups:  Subject, 18"
    fixed = lines[lines.index("Fixed effects:") + 1:]
    assert fixed[0].split() == ["Estimate", "Std.", "Error", "t", "value"]
    assert fixed[1].split() == ["(Intercept)", "251.405", "6.825", "36.838"]   # lme4's own print
    assert fixed[2].split() == ["Days", "10.467", "1.546", "6.771"]
    assert "Correlation of Fixed Effects:" in lines and lines[-1].split() == ["Days", "-0.138"]
    assert "NaN" not in text


def test_crossed_groups_line_and_ml_header():
    data = pd.read_csv(SHARED / "data" / "teaching" / "Penicillin.csv")
    text = str(hx.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", data, method="ml"))
    assert text.startswith("Linear mixed model fit by maximum likelihood")
    assert "Number of obs: 144, groups:  plate, 24; sample, 6" in text
    assert "AIC" in text and "Correlation of Fixed Effects" not in text


def test_columns_share_decimals_like_r_format():
    assert format_column([24.7406, 5.92214, 25.5918]) == ["24.741", "5.922", "25.592"]
    assert format_column([612.1, 35.0717, 654.94]) == ["612.10", "35.07", "654.94"]
    assert format_column([0.0, 1.5]) == ["0.0", "1.5"]
