"""Bad-input table for the families with parameters besides the mean (issue 16): responses a
family cannot model, family names and parameters misspelt or misplaced, priors on the wrong support.

Each row fails before anything is sampled (or is a valid input that must succeed). See
``conftest.py`` for what a row asserts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.design import build_design
from hierax.errors import DataError, HieraxError, ModelError
from hierax.formula import parse_formula
from hierax.model import specify

from .conftest import Case, params, run_case

RNG = np.random.default_rng(16)
N = 40
X = RNG.normal(size=N)
DATA = pd.DataFrame({"x": X, "g": np.repeat(list("abcdefgh"), 5), "count": RNG.poisson(2.0, N).astype(float),
                     "half": RNG.poisson(2.0, N) + 0.5, "pos": RNG.gamma(2.0, 1.0, N), "n": 6.0,
                     "prop": RNG.beta(2.0, 3.0, N), "real": RNG.normal(size=N)})
DATA.loc[3, "prop"] = 1.0
DATA = DATA.assign(pos0=DATA["pos"].where(DATA.index != 7, 0.0), prop_ok=DATA["prop"].clip(0.01, 0.99),
                   rating=1 + np.arange(N) % 4, gap=np.where(np.arange(N) % 2 == 0, 1, 3),
                   w=np.arange(N) % 3, wneg=np.r_[-1.0, np.ones(N - 1)], wzero=0.0, wtext=["a"] * N)


def spec(formula, family, priors=None, data=DATA):
    return lambda: specify(build_design(parse_formula(formula), data), family, None, priors)


def _prior(cls, text):
    def check(result):
        rows = result.prior_table.to_frame()
        row = rows[rows["class"] == cls]
        assert len(row) == 1 and row["prior"].iloc[0] == text and row["source"].iloc[0] == "user", rows
    return check


RESPONSES = [
    Case("negbinomial_not_whole", spec("half ~ x + (1 | g)", "negbinomial"), DataError, "whole numbers",
         "family='gamma'"),
    Case("zero_inflated_negative", spec("real ~ x + (1 | g)", "zero_inflated_poisson"), DataError,
         "must be counts", "rows"),
    Case("hurdle_not_whole", spec("half ~ x + (1 | g)", "hurdle_negbinomial"), DataError, "whole numbers", "rows"),
    Case("gamma_with_a_zero", spec("pos0 ~ x + (1 | g)", "gamma"), DataError, "must be positive (> 0); row 7 is not",
         "drop or recode"),
    Case("lognormal_negative", spec("real ~ x + (1 | g)", "lognormal"), DataError, "must be positive",
         "family for real numbers"),
    Case("weibull_with_a_zero", spec("pos0 ~ x + (1 | g)", "weibull"), DataError, "row 7 is not", "drop or recode"),
    Case("beta_with_a_one", spec("prop ~ x + (1 | g)", "beta"), DataError, "strictly between 0 and 1; row 3 does not",
         "(y * (n - 1) + 0.5) / n"),
    Case("beta_on_counts", spec("count ~ x + (1 | g)", "beta"), DataError, "strictly between 0 and 1",
         "family='binomial'"),
    Case("trials_with_negbinomial", spec("count | trials(n) ~ x + (1 | g)", "negbinomial"), ModelError,
         "describe binomial data", "family='binomial'"),
    Case("se_with_student", spec("real | se(n) ~ x + (1 | g)", "student"), ModelError,
         "only available for the gaussian family", "gaussian"),
    Case("ordinal_not_whole", spec("half ~ x + (1 | g)", "cumulative"), DataError, "whole numbers 1, 2, ..., K",
         "recode the categories"),
    Case("ordinal_unused_category", spec("gap ~ x + (1 | g)", "cumulative"), DataError,
         "no rows in categories [2] of 1..3", "consecutive whole numbers"),
    Case("ordinal_threshold_out_of_range", spec("rating ~ x + (1 | g)", "cumulative", {"Intercept[4]": hx.Normal(0, 1)}),
         ModelError, "thresholds are Intercept[1] to Intercept[3]", "Intercept[2]"),
    Case("ordinal_threshold_prior_is_used", spec("rating ~ x + (1 | g)", "cumulative", {"Intercept[2]": hx.Normal(0, 1)}),
         None, check=lambda s: s.threshold_priors[1] == hx.Normal(0, 1) and s.fixed_names == ("x",)),
    Case("beta_in_the_open_interval_is_valid", spec("prop_ok ~ x + (1 | g)", "beta"), None,
         check=lambda s: [d.name for d in s.scalar_dpars] == ["phi"]),
]

NAMES = [
    Case("family_misspelt", spec("count ~ x + (1 | g)", "negbinomal"), ModelError, "unknown family 'negbinomal'",
         "did you mean 'negbinomial'"),
    Case("family_brms_spelling_of_student", spec("real ~ x + (1 | g)", "studentt"), ModelError,
         "unknown family", "did you mean 'student'"),
    Case("link_not_for_gamma", lambda: specify(build_design(parse_formula("pos ~ x"), DATA), "gamma", "logit"),
         ModelError, "has no link 'logit'", "allowed: log"),
    Case("prior_for_a_parameter_the_family_lacks", spec("count ~ x + (1 | g)", "poisson", {"shape": hx.Gamma(2, 1)}),
         ModelError, "the poisson family has no parameter 'shape'", "use one of the keys"),
    Case("prior_sigma_for_negbinomial", spec("count ~ x + (1 | g)", "negbinomial", {"sigma": hx.HalfNormal(1)}),
         ModelError, "no residual sd", "shape"),
    Case("prior_zi_for_hurdle", spec("count ~ x + (1 | g)", "hurdle_poisson", {"zi": hx.Beta(1, 1)}), ModelError,
         "has no parameter 'zi'", "hu"),
    Case("prior_key_misspelt_dpar", spec("count ~ x + (1 | g)", "negbinomial", {"shap": hx.Gamma(2, 1)}),
         ModelError, "unknown prior key 'shap'", "shape"),
    Case("prior_dpar_with_brackets", spec("count ~ x + (1 | g)", "negbinomial", {"shape[g]": hx.Gamma(2, 1)}),
         ModelError, "takes no name in brackets", "use 'shape'"),
    Case("prior_zi_on_positive_values", spec("count ~ x + (1 | g)", "zero_inflated_poisson",
                                            {"zi": hx.Gamma(2, 1)}), ModelError,
         "needs a prior on unit values", "Gamma(2, 1) is on positive values"),
    Case("prior_shape_on_unit_values", spec("count ~ x + (1 | g)", "negbinomial", {"shape": hx.Beta(2, 2)}),
         ModelError, "needs a prior on positive values", "Beta(2, 2) is on unit values"),
    Case("prior_shape_is_used", spec("count ~ x + (1 | g)", "negbinomial", {"shape": hx.Gamma(2, 0.5)}), None,
         check=_prior("shape", "Gamma(2, 0.5)")),
    Case("prior_nu_with_no_mass_above_one",
         lambda: hx.sample_prior("real ~ x + (1 | g)", DATA, family="student", priors={"nu": hx.HalfNormal(0.01)},
                                 draws=20, seed=1),
         HieraxError, "puts almost no probability above 1", "most of its mass above 1"),
    Case("prior_gamma_bad_rate", lambda: hx.Gamma(2, 0), ModelError, "beta must be a positive number", "positive"),
    Case("prior_beta_bad_shape", lambda: hx.Beta(-1, 2), ModelError, "a must be a positive number", "positive"),
]


WEIGHTS = [
    Case("weights_negative", spec("real | weights(wneg) ~ x + (1 | g)", "gaussian"), DataError,
         "weights() must be finite and >= 0", "a weight of 0 leaves a row out"),
    Case("weights_all_zero", spec("real | weights(wzero) ~ x + (1 | g)", "gaussian"), DataError,
         "every weight in weights() is 0", "check the weights column"),
    Case("weights_not_numbers", spec("real | weights(wtext) ~ x + (1 | g)", "gaussian"), DataError,
         "weights() must be numeric", "numeric column"),
    Case("weights_with_reml", lambda: hx.fit("real | weights(w) ~ x + (1 | g)", DATA, method="reml"), ModelError,
         "weights(w) are not supported by method='reml'", "method='nuts'"),
    Case("weights_in_compare_pooling", lambda: hx.compare_pooling("count | weights(w) ~ x + (1 | g)", DATA,
                                                                  family="poisson", method="laplace"), HieraxError,
         "compare_pooling does not use weights(w)", "without weights"),
    Case("weights_unknown_addition", spec("real | weight(w) ~ x", "gaussian"), hx.FormulaError,
         "unknown addition term 'weight(w)'", "weights(w)"),
    Case("weights_are_kept", spec("count | weights(w) ~ x + (1 | g)", "negbinomial"), None,
         check=lambda s: s.weights is not None and s.weights.sum() == DATA["w"].sum()),
]


@pytest.mark.parametrize("case", params(RESPONSES + NAMES + WEIGHTS))
def test_families_input(case):
    run_case(case)
