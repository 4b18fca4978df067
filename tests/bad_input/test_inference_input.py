"""Bad-input table for what turns a fit into an answer (issue 19): variance components, ICC and
R² (``fit.variance_components()``, ``fit.icc()``, ``fit.r2()``) and small-sample df
(``fit.fixef(df=...)``, ``fit.contrast(L)``, ``hx.anova``) and average marginal effects
(``hx.avg_comparisons``, ``hx.avg_slopes``, ``hx.avg_predictions``). See ``conftest.py`` for what a row asserts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.errors import DataError, HieraxError, ModelError

from .conftest import Case, params, run_case

RNG = np.random.default_rng(19)
N = 60
DATA = pd.DataFrame({"y": RNG.normal(size=N), "pos": RNG.gamma(2.0, 1.0, N), "x": RNG.normal(size=N),
                     "w": RNG.uniform(0.5, 2.0, N), "g": np.repeat(list("abcdef"), 10),
                     "n": RNG.poisson(3.0, N), "h": np.tile(list("uvw"), 20)})


def _reml():
    return hx.fit("y ~ x + (1 | g)", DATA, method="reml")


def _big_reml():
    rows = np.random.default_rng(5).normal(size=(5_001, 2))
    frame = pd.DataFrame({"y": rows[:, 0], "x": rows[:, 1], "g": np.arange(5_001) % 50})
    return hx.fit("y ~ x + (1 | g)", frame, method="reml")


def _satterthwaite_beyond_listed_products():
    """A crossed model whose Schur-complement products exceed the listing threshold (set to 0
    here, as ratings data exceed it) refuses Satterthwaite's df rather than list them."""
    from hierax.engines import lmm

    saved = lmm.LISTED_PRODUCTS_UP_TO
    lmm.LISTED_PRODUCTS_UP_TO = 0
    try:
        return hx.fit("y ~ x + (1 | g) + (1 | h)", DATA, method="reml").fixef(df="satterthwaite")
    finally:
        lmm.LISTED_PRODUCTS_UP_TO = saved


def _nuts(formula, family="gaussian"):
    return hx.fit(formula, DATA, family=family, chains=1, warmup=40, draws=10, seed=1, progress=False)


CASES = [
    Case("icc_without_group_terms", lambda: _nuts("y ~ x").icc(), ModelError, "no group terms", "(1 | g)"),
    Case("r2_of_a_student_model", lambda: _nuts("pos ~ x + (1 | g)", "student").r2(), ModelError,
         "not available yet for the student family", "gaussian (identity)"),
    Case("components_with_weights", lambda: _nuts("y | weights(w) ~ x + (1 | g)").variance_components(), ModelError,
         "weights, an offset", "fit.varcorr()"),
    Case("df_method_unknown", lambda: _reml().fixef(df="kenward"), ModelError, "is not a method",
         "'satterthwaite'"),
    Case("df_of_a_nuts_fit", lambda: _nuts("y ~ x + (1 | g)").fixef(df="satterthwaite"), ModelError,
         "applies to fits by method='reml'", "read fit.fixef()"),
    Case("df_of_a_laplace_fit", lambda: hx.fit("n ~ x + (1 | g)", DATA, family="poisson", method="laplace")
         .fixef(df="satterthwaite"), ModelError, "method='reml' or 'ml'", "method='reml'"),
    Case("contrast_of_the_wrong_length", lambda: _reml().contrast([1.0]), ModelError, "needs 2 finite numbers",
         "one per fixed effect"),
    Case("contrast_with_nan", lambda: _reml().contrast([np.nan, 1.0]), ModelError, "finite numbers",
         "one per fixed effect"),
    Case("contrast_rows_dependent", lambda: _reml().contrast([[0.0, 1.0], [0.0, 3.0]]), ModelError, "rank 1",
         "drop the dependent rows"),
    Case("satterthwaite_beyond_listed_products", _satterthwaite_beyond_listed_products, ModelError,
         "ratings-sized crossed model", "df=None"),
    Case("kenward_roger_beyond_its_rows", lambda: _big_reml().fixef(df="kenward-roger"), ModelError,
         "n x n covariance", "df='satterthwaite'"),
    Case("gee_with_two_grouping_factors", lambda: hx.gee("y ~ x + (1 | g) + (1 | h)", DATA), ModelError,
         "one grouping factor", "(1 | cluster)"),
    Case("gee_of_a_gamma_model", lambda: hx.gee("pos ~ x + (1 | g)", DATA, family="gamma"), ModelError,
         "available for the", "'bernoulli'"),
    Case("gee_unknown_correlation", lambda: hx.gee("y ~ x + (1 | g)", DATA, corstr="ar1"), ModelError,
         "corstr='ar1'", "'exchangeable'"),
    Case("gee_unknown_se", lambda: hx.gee("y ~ x + (1 | g)", DATA, se="jackknife"), ModelError, "se='jackknife'",
         "'mancl-derouen'"),
    Case("population_averaged_of_nuts", lambda: hx.population_averaged(_nuts("y ~ x + (1 | g)")), ModelError,
         "method='reml', 'ml' or 'laplace'", "method='laplace'"),
    Case("kenward_roger_of_an_ml_fit", lambda: hx.fit("y ~ x + (1 | g)", DATA, method="ml")
         .fixef(df="kenward-roger"), ModelError, "defined at REML estimates", "method='reml'"),
    Case("gee_with_weights", lambda: hx.gee("y | weights(w) ~ x + (1 | g)", DATA), ModelError,
         "without weights()", "drop them from the formula"),
    Case("deconvolve_a_slope_model", lambda: hx.deconvolve(hx.fit("y ~ x + (1 + x | g)", DATA, method="reml")),
         ModelError, "one random intercept", "hx.npmle(estimates, se)"),
    Case("hypothesis_of_a_reml_fit", lambda: hx.hypothesis(_reml(), "x > 0"), ModelError, "posterior draws",
         "method='nuts'"),
    Case("icc_of_a_reml_fit", lambda: hx.fit("y ~ x + (1 | g)", DATA, method="reml").icc(), None,
         check=lambda table: list(table.index) == ["adjusted", "unadjusted"]),
    Case("anova_of_a_nuts_fit", lambda: hx.anova(_nuts("y ~ x + (1 | g)")), ModelError, "anova", "hx.hypothesis"),
    Case("anova_type_two", lambda: hx.anova(_reml(), type=2), ModelError, "type", "3"),
    Case("avg_comparisons_of_a_grouping_factor", lambda: hx.avg_comparisons(_reml(), variables="g"), ModelError,
         "not predictors", "['x']"),
    Case("avg_slopes_with_a_zero_step", lambda: hx.avg_slopes(_reml(), eps=0), HieraxError,
         "eps must be a positive number", "the slope's step"),
    Case("avg_predictions_by_a_missing_column", lambda: hx.avg_predictions(_reml(), by="county"), DataError,
         "by names column(s) ['county']", "its columns are"),
    Case("avg_comparisons_at_a_new_group", lambda: hx.avg_comparisons(_reml(), newdata=DATA.assign(g="new")),
         DataError, "were not in the fit", "re=False"),
]


@pytest.mark.parametrize("case", params(CASES))
def test_variance_input(case):
    run_case(case)
