"""results/_arviz gives the same answers under ArviZ 0.23 (InferenceData) and ArviZ 1.x (DataTree):
each check below holds under whichever is installed (CI runs both stacks)."""

import numpy as np
import pytest
import xarray as xr
from scipy.special import logsumexp

from hierax.results import _arviz


def ar1(rng, shape, rho=0.7):
    x = np.zeros(shape)
    noise = rng.standard_t(4, size=shape)
    for t in range(1, shape[1]):
        x[:, t] = rho * x[:, t - 1] + noise[:, t]
    return x


def loglik_results(rng, shift=0.0, n=60):
    y = rng.normal(size=n)
    mu = rng.normal(size=(4, 300, 1)) * 0.1
    ll = -0.5 * (y - mu) ** 2 - 0.5 * np.log(2 * np.pi)
    ll[..., :3] -= shift * rng.gamma(2, 1, size=(4, 300, 3))
    obs = {"obs": np.arange(n)}
    return _arviz.results(
        posterior=xr.Dataset({"mu": (("chain", "draw"), mu[..., 0])}),
        sample_stats=xr.Dataset({"energy": (("chain", "draw"), ar1(rng, (4, 300), 0.9))}),
        log_likelihood=xr.Dataset({"y": (("chain", "draw", "obs"), ll)}, coords=obs),
        observed_data=xr.Dataset({"y": (("obs",), y)}, coords=obs)), ll


def test_the_container_is_the_installed_arviz_s_and_reads_the_same_way():
    idata, _ = loglik_results(np.random.default_rng(0))
    assert type(idata).__name__ == ("DataTree" if _arviz.uses_datatree() else "InferenceData")
    assert set(_arviz.group_names(idata)) == {"posterior", "sample_stats", "log_likelihood", "observed_data"}
    assert "log_likelihood" in idata and "posterior_predictive" not in idata
    assert idata.posterior.sizes["chain"] == 4 and idata.posterior["mu"].values.shape == (4, 300)
    assert isinstance(_arviz.group(idata, "observed_data"), xr.Dataset)


def test_adding_groups_and_attributes_leaves_the_original_unchanged(tmp_path):
    idata, _ = loglik_results(np.random.default_rng(1))
    extra = xr.Dataset({"z": (("row",), np.array(["a", "b", "c"], dtype=object))}, coords={"row": np.arange(3)})
    more = _arviz.with_attrs(_arviz.with_groups(idata, constant_data=extra), "posterior", {"hierax_formula": "y ~ 1"})
    assert "constant_data" not in idata and "hierax_formula" not in idata.posterior.attrs
    path = tmp_path / "fit.nc"
    _arviz.to_netcdf(more, path)
    back = _arviz.from_netcdf(path)
    assert set(_arviz.group_names(back)) == set(_arviz.group_names(more))
    assert back.posterior.attrs["hierax_formula"] == "y ~ 1"
    np.testing.assert_array_equal(back.log_likelihood["y"].values, idata.log_likelihood["y"].values)
    assert list(_arviz.group(back, "constant_data").to_dataframe()["z"]) == ["a", "b", "c"]


def test_tail_ess_is_at_the_5_and_95_percent_quantiles():
    """Stan's and ArviZ 0.23's definition; ArviZ 1.x's default would take its 0.89 interval."""
    draws = ar1(np.random.default_rng(2), (4, 300, 3))
    tail = _arviz.ess(xr.Dataset({"x": (("chain", "draw", "k"), draws)}), "tail")["x"].values
    for k in range(3):
        per_quantile = []
        for q in (0.05, 0.95):
            below = (draws[..., k] <= np.quantile(draws[..., k], q)).astype(float)
            per_quantile.append(float(_arviz.ess(xr.Dataset({"i": (("chain", "draw"), below)}), "mean")["i"]))
        assert tail[k] == pytest.approx(min(per_quantile), rel=1e-12)


def test_waic_is_the_textbook_formula():
    idata, ll = loglik_results(np.random.default_rng(3), shift=1.0)
    flat = ll.reshape(-1, ll.shape[-1])
    pointwise = logsumexp(flat, axis=0) - np.log(len(flat)) - flat.var(axis=0)
    waic = _arviz.waic(idata)
    assert waic.elpd_waic == pytest.approx(pointwise.sum(), rel=1e-12)
    assert waic.p_waic == pytest.approx(flat.var(axis=0).sum(), rel=1e-12)
    assert waic.se == pytest.approx(np.sqrt(len(pointwise) * pointwise.var()), rel=1e-12)
    assert waic.warning                               # three observations with variance above 0.4


@pytest.mark.parametrize("ic", ["loo", "waic"])
def test_compare_has_one_layout_best_first(ic):
    rng = np.random.default_rng(4)
    good, _ = loglik_results(rng)
    worse, _ = loglik_results(np.random.default_rng(4), shift=3.0)
    table = _arviz.compare({"worse": worse, "good": good}, ic)
    assert list(table.columns) == ["rank", f"elpd_{ic}", f"p_{ic}", "elpd_diff", "weight", "se", "dse", "warning",
                                   "scale"]
    assert list(table.index) == ["good", "worse"] and list(table["rank"]) == [0, 1]
    assert table["elpd_diff"].iloc[0] == 0 and not np.signbit(table["elpd_diff"].iloc[0])
    diff = table[f"elpd_{ic}"].iloc[0] - table[f"elpd_{ic}"].iloc[1]
    assert table["elpd_diff"].iloc[1] == pytest.approx(diff, rel=1e-9) and diff > 0
    assert table["dse"].iloc[1] > 0 and table["weight"].sum() == pytest.approx(1.0)
    assert list(table["warning"]) == [False, True]


def test_loo_and_bfmi():
    idata, _ = loglik_results(np.random.default_rng(5), shift=3.0)
    loo = _arviz.loo(idata)
    assert loo.pareto_k.shape == (60,) and loo.pareto_k[:3].max() > loo.good_k > 0.5
    assert loo.elpd < 0 and loo.se > 0 and loo.p > 0
    energy = idata.sample_stats["energy"].values
    deviations = energy - energy.mean(axis=1, keepdims=True)          # Betancourt (2016), E-BFMI
    expected = np.square(np.diff(energy, axis=1)).sum(axis=1) / np.square(deviations).sum(axis=1)
    np.testing.assert_allclose(_arviz.bfmi(idata), expected, rtol=1e-12)


def test_psis_smooths_the_right_tail_of_the_ratios():
    """Importance ratios with a heavy right tail (Pareto, shape 1 / 0.9) have k near 0.9 and keep
    their order when smoothed; the same numbers negated (a left tail: ratios bounded above) have
    a small k. arviz_stats's psislw takes log-likelihoods (negated log ratios): passed the log
    ratios as they are, it smoothed the wrong tail (k -0.81 on this right tail)."""
    rng = np.random.default_rng(3)
    log_ratios = np.log1p(rng.pareto(1 / 0.9, 2000))
    k, smoothed = _arviz.psis(log_ratios)
    assert 0.7 < k < 1.2
    order = np.argsort(log_ratios)
    assert np.all(np.diff(smoothed[order]) >= -1e-12)
    assert logsumexp(smoothed) == pytest.approx(0.0, abs=1e-12)
    assert _arviz.psis(-log_ratios)[0] < 0.5
    assert _arviz.psis(log_ratios + 700.0)[0] == pytest.approx(k, abs=1e-9)   # a common factor changes nothing
    assert _arviz.psis(1e3 * log_ratios)[0] > 0.7                              # overflowing ratios: not NaN
