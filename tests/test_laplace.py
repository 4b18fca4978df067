"""Laplace fits of GLMMs against lme4 1.1-31's glmer (nAGQ = 1): issue 3, acceptance item 1.

Source and tolerances as in test_reml.py (../shared/reference/lme4.json). lme4 reports a GLMM's
deviance relative to the saturated model, so the log-likelihood is compared instead, as the
reference README advises.
"""

import json
from pathlib import Path

import pytest

from tests.test_reml import LABELS, REFERENCE, close, compare_with_lme4, entry, fit_entry

pytestmark = pytest.mark.skipif(not REFERENCE.exists(), reason="../shared (reference data) is not beside the checkout")


def test_grouseticks_poisson_three_intercepts_matches_lme4():
    e = entry("grouseticks_laplace")
    failures = compare_with_lme4(fit_entry(e), e)
    assert not failures, "\n".join(failures)


@pytest.mark.xfail(strict=True, reason=(
    "lme4.json's cbpp entry is under-converged: lme4's PIRLS stops at its default tolPwrss = 1e-7, "
    "which leaves its Laplace log-likelihood 2.8e-4 low (-92.026566). lme4 run to convergence on this "
    "machine (tests/reference/cbpp_tight.R) gives -92.0262819, as we do; see the next test."))
def test_cbpp_binomial_matches_lme4_json():
    e = entry("cbpp_laplace")
    failures = compare_with_lme4(fit_entry(e), e)
    assert not failures, "\n".join(failures)


def test_cbpp_binomial_matches_lme4_run_to_convergence():
    """Against lme4 1.1-31 with tolPwrss = 1e-12 (tests/reference/cbpp_tight.json, made on this
    machine with Debian's r-cran-lme4 by tests/reference/cbpp_tight.R); issue 3's tolerances."""
    ref = json.loads((Path(__file__).parent / "reference" / "cbpp_tight.json").read_text())
    fit = fit_entry(entry("cbpp_laplace"))
    failures = []
    close(fit.loglik, ref["logLik"], "logLik", failures, rel=1e-6, abs_=0)
    close(fit.varcorr()["estimate"].iloc[0], ref["theta"], "herd sd", failures)
    fixef = fit.fixef().loc[[LABELS.get(n, n) for n in ref["fixef"]["names"]]]
    close(fixef["estimate"], ref["fixef"]["estimate"], "fixed effects", failures)
    close(fixef["se"], ref["fixef"]["se"], "standard errors", failures)
    ranef = fit.ranef().set_index("level").loc[ref["ranef"]["level"]]
    close(ranef["estimate"], ref["ranef"]["mode"], "conditional modes", failures)
    close(ranef["se"], ref["ranef"]["cond_sd"], "conditional sds", failures)
    assert not failures, "\n".join(failures)
