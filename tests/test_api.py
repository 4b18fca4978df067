"""The public entry point: bad input fails with hierax errors naming the fix, never from inside JAX."""

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.results.io import restore, save

DATA = pd.DataFrame({"y": np.linspace(0, 1, 12), "x": np.arange(12.0), "g": list("abc") * 4})
FAST = dict(chains=2, warmup=30, draws=20, seed=0)


@pytest.mark.parametrize("kwargs, error, phrase", [
    (dict(formula="y ~ x + (1 | h)"), hx.DataError, "column 'h'"),
    (dict(formula="y ~ x + (1 | g"), hx.FormulaError, "unclosed '('"),
    (dict(family="student"), hx.ModelError, "unknown family 'student'"),
    (dict(method="vb"), hx.HieraxError, "unknown method 'vb'"),
    (dict(chains=0), hx.HieraxError, "chains must be a whole number >= 1"),
    (dict(target_accept=1.5), hx.HieraxError, "target_accept must be between 0 and 1"),
    (dict(seed=-3), hx.HieraxError, "seed must be a whole number"),
    (dict(priors={"sd": hx.Normal(0, 1)}), hx.ModelError, "positive values"),
    (dict(parameterisation="sideways"), hx.ModelError, "unknown parameterisation"),
])
def test_fit_rejects_bad_input_clearly(kwargs, error, phrase):
    args = dict(formula="y ~ x + (1 | g)", data=DATA) | FAST | kwargs
    with pytest.raises(error) as raised:
        hx.fit(**args)
    assert phrase in str(raised.value)


def test_fit_returns_tidy_tables_with_the_documented_layout():
    fit = hx.fit("y ~ x + (1 + x | g)", DATA, **FAST)
    assert list(fit.fixef().index) == ["(Intercept)", "x"]
    assert list(fit.fixef().columns) == ["estimate", "sd", "q05", "q95", "mcse", "ess_bulk", "ess_tail", "r_hat"]
    vc = fit.varcorr()
    assert vc[["group", "var1", "var2"]].fillna("").values.tolist() == [
        ["g", "(Intercept)", ""], ["g", "x", ""], ["g", "(Intercept)", "x"], ["Residual", "", ""]]
    ranef = fit.ranef()
    assert len(ranef) == 6 and set(ranef["level"]) == {"a", "b", "c"}
    coef, fixed = fit.coef(), fit.fixef()
    np.testing.assert_allclose(
        coef["estimate"].values[:3], ranef["estimate"].values[:3] + fixed.loc["(Intercept)", "estimate"], rtol=1e-9)
    assert set(fit.idata.groups()) >= {"posterior", "sample_stats", "log_likelihood", "observed_data"}


def test_same_seed_gives_the_same_draws():
    a = hx.fit("y ~ x + (1 | g)", DATA, **FAST)
    b = hx.fit("y ~ x + (1 | g)", DATA, **FAST)
    np.testing.assert_array_equal(a.idata.posterior["beta"].values, b.idata.posterior["beta"].values)


def test_a_warm_start_reuses_the_fits_settings_and_says_what_is_wrong_with_a_bad_one(tmp_path):
    counts = DATA.assign(k=np.arange(12) % 4)
    first = hx.fit("k ~ x + (1 | g)", counts, family="poisson", **FAST)
    again = hx.fit("k ~ x + (1 | g)", counts.assign(k=counts["k"][::-1].values), family="poisson", chains=2,
                   draws=20, seed=1, warm_start=first)
    assert again.config.warmup == 100 and again.sampler_state is not None
    assert again.parameterisation == first.parameterisation          # the centring is kept
    bad = [
        (dict(warm_start=hx.fit("y ~ x + (1 | g)", DATA, method="reml")), "method='nuts'"),
        (dict(warm_start=first, method="reml"), "warm_start is for method='nuts'"),
        (dict(formula="k ~ 1 + (1 | g)"), "needs the same formula"),
        (dict(family="gaussian"), "same family and link"),
        (dict(data=counts[counts["g"] != "c"]), "the same number of levels"),     # 2 levels of g, not 3
        (dict(collapse=False, family="gaussian", formula="y ~ x + (1 | g)", data=DATA,
              warm_start=hx.fit("y ~ x + (1 | g)", DATA, **FAST)), "same collapse="),
        (dict(warm_start=restore(save(first, tmp_path / "fit.nc"))), "loaded from a file"),
    ]
    for kwargs, phrase in bad:
        args = dict(formula="k ~ x + (1 | g)", data=counts, family="poisson", warm_start=first) | FAST | kwargs
        with pytest.raises(hx.HieraxError) as raised:
            hx.fit(**args)
        assert phrase in str(raised.value), (kwargs, str(raised.value))
