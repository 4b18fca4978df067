"""Bad-input table: families and links, priors, identifiability, frequentist methods.

Each row fails before anything is sampled (or is a valid-but-odd input that must succeed), so the
table runs in seconds. See ``conftest.py`` for what a row asserts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.design import build_design
from hierax.errors import DataError, ModelError
from hierax.formula import parse_formula
from hierax.model import specify

from .conftest import Case, params, run_case

RNG = np.random.default_rng(15)
N = 40
GROUPS = np.repeat(list("abcdefgh"), 5)
X = RNG.normal(size=N)
GAUSS = pd.DataFrame({"y": 1.0 + 0.5 * X + RNG.normal(size=N), "x": X, "g": GROUPS, "obs": np.arange(N).astype(str),
                      "s": np.full(N, 0.5), "s0": np.r_[0.0, np.full(N - 1, 0.5)], "sneg": np.r_[-1.0, np.full(N - 1, 0.5)],
                      "snan": np.r_[np.inf, np.full(N - 1, 0.5)]})
COUNTS = GAUSS.assign(y=RNG.poisson(2.0, N), n=np.full(N, 5), k=RNG.binomial(5, 0.4, N), b=RNG.binomial(1, 0.4, N),
                      sep=(X > 0).astype(int))


def spec(formula, data=GAUSS, family="gaussian", link=None, priors=None, **kw):
    return lambda: specify(build_design(parse_formula(formula), data), family, link, priors, **kw)


def fit(formula, data=GAUSS, **kw):
    return lambda: hx.fit(formula, data, **kw)


def _known_sds_reml(result):
    """se() by REML: the rows' sds are known, so no residual sd is estimated (metafor's rma)."""
    assert result.method == "reml" and result.sigma is None and result.optimisation.converged


def _has_prior(cls, coef=""):
    def check(result):
        rows = result.prior_table.to_frame()
        assert ((rows["class"] == cls) & (rows["source"] == "user")).any()
    return check


PRIORS = [
    Case("prior_key_unknown_class", spec("y ~ x + (1 | g)", priors={"tau": hx.HalfNormal(1)}), ModelError,
         "unknown prior key 'tau'", "use a class"),
    Case("prior_key_unknown_coef", spec("y ~ x + (1 | g)", priors={"b[z]": hx.Normal(0, 1)}), ModelError,
         "no fixed effect 'z'", "b[x]"),
    Case("prior_key_unknown_group", spec("y ~ x + (1 | g)", priors={"sd[h]": hx.HalfNormal(1)}), ModelError,
         "no group 'h'", "sd[g]"),
    Case("prior_key_unknown_term", spec("y ~ x + (1 | g)", priors={"sd[g][x]": hx.HalfNormal(1)}), ModelError,
         "no varying effect 'x'", "sd[g][(Intercept)]"),
    Case("prior_cor_without_correlations", spec("y ~ x + (1 | g)", priors={"cor": hx.LKJ(2)}), ModelError,
         "no correlated varying effects", "use one of the keys"),
    Case("prior_cor_on_independent_block", spec("y ~ x + (1 + x || g)", priors={"cor": hx.LKJ(2)}), ModelError,
         "no correlated varying effects", "'||'"),
    Case("prior_cor_named_independent_block", spec("y ~ x + (1 + x || g)", priors={"cor[g]": hx.LKJ(2)}),
         ModelError, "group 'g' has no correlated", "sd[g][x]"),
    Case("prior_cor_ok_when_correlated", spec("y ~ x + (1 + x | g)", priors={"cor[g]": hx.LKJ(4)}), None,
         check=_has_prior("cor")),
    Case("prior_sd_without_groups", spec("y ~ x", priors={"sd": hx.HalfNormal(1)}), ModelError,
         "no group terms", "use one of the keys"),
    Case("prior_b_without_slopes", spec("y ~ 1 + (1 | g)", priors={"b": hx.Normal(0, 1)}), ModelError,
         "no fixed effects besides the intercept", "Intercept"),
    Case("prior_intercept_without_intercept", spec("y ~ 0 + x + (1 | g)", priors={"Intercept": hx.Normal(0, 1)}),
         ModelError, "no fixed intercept", "b[x]"),
    Case("prior_sigma_for_poisson", spec("y ~ x + (1 | g)", COUNTS, "poisson", priors={"sigma": hx.HalfNormal(1)}),
         ModelError, "no residual sd", "use one of the keys"),
    Case("prior_sigma_with_se", spec("y | se(s) ~ x + (1 | g)", priors={"sigma": hx.HalfNormal(1)}), ModelError,
         "no residual sd", "sd[g]"),
    Case("prior_sigma_with_name", spec("y ~ x + (1 | g)", priors={"sigma[g]": hx.HalfNormal(1)}), ModelError,
         "takes no name", "use 'sigma'"),
    Case("prior_wrong_support_sd", spec("y ~ x + (1 | g)", priors={"sd": hx.Normal(0, 1)}), ModelError,
         "needs a prior on positive values", "positive"),
    Case("prior_wrong_support_cor", spec("y ~ x + (1 + x | g)", priors={"cor": hx.HalfNormal(1)}), ModelError,
         "needs a prior on correlation values", "correlation"),
    Case("prior_not_a_prior", spec("y ~ x + (1 | g)", priors={"b": 3.0}), ModelError,
         "must be a hierax prior", "hx.Normal(0, 1)"),
    Case("priors_not_a_dict", spec("y ~ x + (1 | g)", priors=[hx.Normal(0, 1)]), ModelError,
         "priors must be a dict", "{'b': hx.Normal(0, 1)"),
    Case("prior_key_not_a_string", spec("y ~ x + (1 | g)", priors={3: hx.Normal(0, 1)}), ModelError,
         "unknown prior key 3", "'b[floor]'"),
    Case("prior_negative_scale", lambda: hx.Normal(0, -1), ModelError, "sigma must be a positive number", "positive"),
    Case("prior_nan_location", lambda: hx.Normal(float("nan"), 1), ModelError, "mu must be a finite number",
         "finite"),
    Case("prior_bool_scale", lambda: hx.HalfNormal(True), ModelError, "must be a positive number", "positive"),
    Case("prior_string_scale", lambda: hx.Exponential("1"), ModelError, "rate must be a positive number",
         "positive"),
    Case("prior_lkj_zero", lambda: hx.LKJ(0), ModelError, "eta must be a positive number", "positive"),
    Case("prior_numpy_numbers_accepted", lambda: hx.StudentT(np.int64(3), np.float32(0.5), np.float64(2)), None,
         check=lambda p: str(p) == "StudentT(3, 0.5, 2)"),
    Case("priors_ignored_by_reml_are_noted",
         fit("y ~ x + (1 | g)", method="reml", priors={"b": hx.Normal(0, 1)}), None,
         check=lambda r: any("not used by method='reml'" in w for w in r.warnings)),
]

FAMILIES = [
    Case("family_unknown", spec("y ~ x + (1 | g)", family="gamma_poisson"), ModelError, "unknown family",
         "gaussian"),
    Case("family_not_a_string", spec("y ~ x + (1 | g)", family=3), ModelError, "family", "gaussian"),
    Case("link_unknown", spec("y ~ x + (1 | g)", COUNTS, "bernoulli", link="cloglog2"), ModelError, "link",
         "logit"),
    Case("link_not_for_family", spec("y ~ x + (1 | g)", COUNTS, "poisson", link="logit"), ModelError, "link",
         "log"),
    Case("poisson_negative_counts", spec("y ~ x + (1 | g)", GAUSS, "poisson"), DataError, "poisson",
         "counts"),
    Case("bernoulli_not_binary", spec("y ~ x + (1 | g)", COUNTS, "bernoulli"), DataError, "bernoulli", "0"),
    Case("binomial_without_trials", spec("k ~ x + (1 | g)", COUNTS, "binomial"), DataError, "binomial",
         "trials"),
    Case("trials_with_poisson", spec("k | trials(n) ~ x + (1 | g)", COUNTS, "poisson"), ModelError,
         "describe binomial data", "family='binomial'"),
    Case("se_with_poisson", spec("y | se(s) ~ x + (1 | g)", COUNTS, "poisson"), ModelError,
         "only available for the gaussian family", "gaussian"),
    Case("gaussian_two_valued_response_warns", spec("b ~ x + (1 | g)", COUNTS), None, warns="family='bernoulli'"),
    Case("reml_for_bernoulli", fit("b ~ x + (1 | g)", COUNTS, family="bernoulli", method="reml"), ModelError,
         "fits gaussian models", "method='laplace'"),
    Case("laplace_for_gaussian", fit("y ~ x + (1 | g)", method="laplace"), ModelError, "is for GLMMs",
         "method='reml'"),
    Case("reml_without_group_terms", fit("y ~ x", method="reml"), ModelError, "no group terms",
         "(1 | g)"),
    Case("reml_with_se_is_a_meta_analysis", fit("y | se(s) ~ x + (1 | g)", method="reml"), None,
         check=_known_sds_reml),
    Case("laplace_with_se", fit("y | se(s) ~ x + (1 | g)", method="laplace"), ModelError, "for GLMMs",
         "method='reml'"),
    Case("method_unknown", fit("y ~ x + (1 | g)", method="mcmc"), ModelError, "unknown method", "reml"),
]

IDENTIFIABILITY = [
    Case("gaussian_one_observation_per_level", fit("y ~ x + (1 | obs)", method="reml"), ModelError,
         "cannot be told apart from the residual sd", "drop the term"),
    Case("gaussian_one_observation_per_level_nuts", spec("y ~ x + (1 | obs)"), ModelError,
         "40 varying effects (40 levels) for 40 observations", "se(s)"),
    Case("gaussian_slopes_as_many_as_rows", spec("y ~ x + (1 + x | obs)"), ModelError, "80 varying effects",
         "coarser factor"),
    Case("poisson_observation_level_effect_is_valid",
         spec("y ~ x + (1 | obs) + (1 | g)", COUNTS, "poisson"), None,
         check=lambda s: [b.num_levels for b in s.blocks] == [40, 8]),
    Case("se_observation_level_effect_is_valid", spec("y | se(s) ~ 1 + (1 | obs)"), None,
         check=lambda s: s.se is not None and not s.has_sigma),
    Case("se_zero", spec("y | se(s0) ~ x + (1 | g)"), DataError, "positive, finite standard error", "fix or drop"),
    Case("se_negative", spec("y | se(sneg) ~ x + (1 | g)"), DataError, "values [-1.0]", "drop those rows"),
    Case("se_infinite", spec("y | se(snan) ~ x + (1 | g)"), DataError, "infinite value", "drop those rows"),
    Case("constant_response_nuts", fit("c ~ x + (1 | g)", GAUSS.assign(c=3.0)), DataError, "is constant",
         "names the right response column"),
    Case("constant_response_map", fit("c ~ x + (1 | g)", GAUSS.assign(c=3.0), method="map"), DataError,
         "is constant ('c': every value is 3)", "right response column"),
    Case("constant_after_offset", fit("c ~ x + offset(x) + (1 | g)", GAUSS.assign(c=GAUSS.x)), DataError,
         "the response less the offset is constant", "right response column"),
    Case("separation_laplace", fit("sep ~ x + (1 | g)", COUNTS, family="bernoulli", method="laplace"), ModelError,
         "separate the outcomes perfectly", "method='nuts'"),
    Case("laplace_too_many_crossed_effects",      # the first factor is blocked; the second's 2,601 are dense
         fit("y ~ 1 + (1 | a) + (1 | b)", pd.DataFrame({"y": np.arange(5202) % 4, "a": np.arange(5202) % 2601,
                                                        "b": np.arange(5202) // 2}),
             family="poisson", method="laplace"), ModelError, "2,601 group effects outside", "method='nuts'"),
    Case("nagq_two_factors", fit("y ~ x + (1 | g) + (1 | obs)", COUNTS, family="poisson", method="laplace", nAGQ=5),
         ModelError, "one grouping factor with one effect per level", "nAGQ=1"),
    Case("nagq_slopes", fit("y ~ x + (1 + x | g)", COUNTS, family="poisson", method="laplace", nAGQ=5),
         ModelError, "has ((Intercept) + x | g)", "method='nuts'"),
    Case("nagq_zero", fit("y ~ x + (1 | g)", COUNTS, family="poisson", method="laplace", nAGQ=0), ModelError,
         "nAGQ must be a whole number from 1", "got 0"),
    Case("nagq_fraction", fit("y ~ x + (1 | g)", COUNTS, family="poisson", method="laplace", nAGQ=2.5), ModelError,
         "nAGQ must be a whole number", "got 2.5"),
    Case("nagq_with_nuts", fit("y ~ x + (1 | g)", COUNTS, family="poisson", nAGQ=5), hx.HieraxError,
         "does not apply to method='nuts'", "method='laplace'"),
    Case("nagq_with_reml", fit("y ~ x + (1 | g)", method="reml", nAGQ=5), hx.HieraxError,
         "does not apply to method='reml'", "leave it at 1"),
]


@pytest.mark.parametrize("case", params(PRIORS + FAMILIES + IDENTIFIABILITY))
def test_model_input(case):
    run_case(case)


@pytest.mark.parametrize("factor", [1e-8, 1e6, 1e7])
def test_reml_at_any_response_scale(factor):
    """REML of data multiplied by a power of ten: the same estimates, multiplied by it (no priors built)."""
    base = hx.fit("y ~ x + (1 | g)", GAUSS, method="reml")
    scaled = hx.fit("y ~ x + (1 | g)", GAUSS.assign(y=GAUSS.y * factor), method="reml")
    np.testing.assert_allclose(scaled.fixef()["estimate"], base.fixef()["estimate"] * factor, rtol=1e-6)
    np.testing.assert_allclose(scaled.varcorr()["estimate"], base.varcorr()["estimate"] * factor, rtol=1e-5)


@pytest.mark.parametrize("factor", [1e-8, 1e6])
def test_laplace_at_any_predictor_scale(factor):
    """A predictor in other units (x 1e6, x 1e-8): the same fit, the slope divided by the factor."""
    data = COUNTS.assign(x=COUNTS.x * factor)
    base = hx.fit("b ~ x + (1 | g)", COUNTS, family="bernoulli", method="laplace")
    scaled = hx.fit("b ~ x + (1 | g)", data, family="bernoulli", method="laplace")
    assert not scaled.warnings
    np.testing.assert_allclose(scaled.fixef()["estimate"], base.fixef()["estimate"] / [1, factor], rtol=1e-5)
    np.testing.assert_allclose(scaled.fixef()["se"], base.fixef()["se"] / [1, factor], rtol=1e-3)
    assert scaled.loglik == pytest.approx(base.loglik, abs=1e-6)
