"""weights(w) in the Laplace engine against glmmTMB 1.1.5, whose weights also multiply each row's
log-likelihood (tests/reference/glmmtmb_families.json, entry poisson_weights_glmmTMB:
grouseticks, TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION), w = 1 + INDEX %% 3)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hierax as hx

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "teaching"
REFERENCE = json.loads((ROOT / "tests" / "reference" / "glmmtmb_families.json").read_text())["models"]


@pytest.mark.skipif(not SHARED.exists(), reason="../shared (data) is not beside the checkout")
def test_weighted_poisson_laplace_matches_glmmtmb():
    ref = REFERENCE["poisson_weights_glmmTMB"]
    data = pd.read_csv(SHARED / "grouseticks.csv").assign(w=lambda d: 1 + d["INDEX"] % 3)
    fit = hx.fit("TICKS | weights(w) ~ factor(YEAR) + cHEIGHT + (1 | BROOD) + (1 | LOCATION)", data,
                 family="poisson", method="laplace")
    assert fit.loglik == pytest.approx(ref["logLik"], abs=1e-4)
    fixed = ref["fixef"]["cond"]
    gap = np.abs(fit.fixef()["estimate"].to_numpy() - np.asarray(fixed["estimate"])) / np.asarray(fixed["se"])
    assert gap.max() < 1e-3
    se_gap = np.abs(fit.fixef()["se"].to_numpy() / np.asarray(fixed["se"]) - 1)
    assert se_gap.max() < 1e-3
    sds = fit.varcorr()
    for group, expected in ref["ranef_sd"].items():
        assert float(sds.loc[f"sd[{group}][(Intercept)]", "estimate"]) == pytest.approx(expected["sd"][0], rel=1e-4)
