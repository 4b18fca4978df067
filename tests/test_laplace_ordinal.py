"""The cumulative family by the Laplace approximation against ordinal's clmm (wine; logit and
probit links; tests/reference/clmm_wine.json). clmm's thresholds theta_k are ours (P(y <= k) =
F(theta_k - eta)), its 'k|k+1' our Intercept[k].

Estimates and the log-likelihood are compared at the stated tolerances. Standard errors are
compared to 1%: clmm takes its Hessian by finite differences of a Laplace objective whose inner
optimisation it converges to a gradient of about 1e-6 (the reference's ordinal_gradient), which
leaves its standard errors a few tenths of a percent off; ours come from central differences of
the exact gradient (the same code agrees with glmmTMB's analytic Hessians to 1e-6,
tests/test_laplace_families.py)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hierax as hx

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = json.loads((ROOT / "tests" / "reference" / "clmm_wine.json").read_text())["models"]


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_cumulative_laplace_matches_clmm(link):
    ref = REFERENCE[f"cumulative_{link}_laplace"]
    data = pd.read_csv(ROOT / ref["data_file"])
    fit = hx.fit("rating ~ temp + contact + (1 | judge)", data, family="cumulative", link=link, method="laplace")
    assert fit.loglik == pytest.approx(ref["logLik"], abs=1e-4)
    assert fit.df == ref["df"]
    table = fit.fixef()
    names = [f"Intercept[{k}]" for k in range(1, 5)] + ["temp[warm]", "contact[yes]"]
    estimates = ref["thresholds"]["estimate"] + ref["fixef"]["estimate"]
    ses = ref["thresholds"]["se"] + ref["fixef"]["se"]
    assert list(table.index) == names
    np.testing.assert_array_less(np.abs(table["estimate"].to_numpy() - estimates) / ses, 1e-3)
    np.testing.assert_allclose(table["se"].to_numpy(), ses, rtol=0.01)
    sd = fit.varcorr().loc["sd[judge][(Intercept)]", "estimate"]
    assert sd == pytest.approx(ref["ranef_sd"]["judge"]["sd"], abs=1e-3 * ref["ranef_sd"]["judge"]["sd_se"])
