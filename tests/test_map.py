"""method="map" (issue 4): the posterior mode, and the warning where it misleads."""

from pathlib import Path

import pandas as pd
import pytest

import hierax as hx

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
pytestmark = pytest.mark.skipif(not SHARED.exists(), reason="../shared (data) is not beside the checkout")


def test_the_mode_collapses_the_group_sds_and_says_so():
    """sleepstudy: the joint mode puts both subject sds near zero (the density grows without bound
    as the effects and their sd shrink together), while REML, which integrates the effects out,
    gives 24.7 and 5.9 (lme4's values). The warning names each sd and gives both numbers."""
    sleep = pd.read_csv(SHARED / "teaching" / "sleepstudy.csv")
    with pytest.warns(hx.ModeWarning, match="at or near zero"):
        fit = hx.fit("Reaction ~ Days + (Days | Subject)", sleep, method="map", seed=1)
    summary = fit.summary()
    assert summary.attrs["warnings"] == fit.warnings
    assert summary.loc["sd[Subject][Days]", "estimate"] < 0.05 * 5.92
    assert summary["sd"].isna().all()                              # a mode carries no uncertainty
    assert len(fit.warnings) == 2
    assert fit.warnings[1].startswith("sd[Subject][Days]: the mode is") and "(reml" in fit.warnings[1]
    assert "5.92" in fit.warnings[1]
    # the fixed effects are hardly affected: within 1% of REML's
    reml = hx.fit("Reaction ~ Days + (Days | Subject)", sleep, method="reml")
    pd.testing.assert_series_equal(fit.fixef()["estimate"], reml.fixef()["estimate"], rtol=0.01)


def test_a_report_of_a_mode_is_refused(tmp_path):
    from hierax.report import write_report

    sleep = pd.read_csv(SHARED / "teaching" / "sleepstudy.csv")
    with pytest.warns(hx.ModeWarning):
        fit = hx.fit("Reaction ~ Days + (1 | Subject)", sleep, method="map", seed=2)
    with pytest.raises(hx.HieraxError, match="posterior mode"):
        write_report(fit, tmp_path / "r.html")
