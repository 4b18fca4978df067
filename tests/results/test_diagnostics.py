"""Divergence messages name the group sd where divergent draws concentrate, and a remedy."""

import numpy as np
import pytest
import xarray as xr

from hierax.results import _arviz
from hierax.results.diagnostics import nuts_warnings


def fake_fit(divergent_at_small: str | None, seed: int = 0):
    """Two sds over 4 x 500 draws; 40 divergent draws, at the smallest values of ``divergent_at_small``
    (or at random)."""
    rng = np.random.default_rng(seed)
    county = rng.lognormal(-1.0, 0.5, (4, 500, 2))
    herd = rng.lognormal(0.0, 0.3, (4, 500, 1))
    diverging = np.zeros((4, 500), dtype=bool)
    if divergent_at_small is None:
        diverging.ravel()[rng.choice(2000, 40, replace=False)] = True
    else:
        values = (county[..., 1] if divergent_at_small == "county" else herd[..., 0]).ravel()
        diverging.ravel()[np.argsort(values)[:40]] = True
    posterior = xr.Dataset({
        "sd_county": (("chain", "draw", "county__term"), county),
        "sd_herd": (("chain", "draw", "herd__term"), herd),
    }, coords={"county__term": ["(Intercept)", "floor"], "herd__term": ["(Intercept)"]})
    stats = xr.Dataset({k: (("chain", "draw"), v) for k, v in {
        "diverging": diverging, "tree_depth": np.full((4, 500), 3), "energy": rng.normal(size=(4, 500))}.items()})
    return _arviz.results(posterior=posterior, sample_stats=stats)


def test_the_message_names_the_term_and_the_remedy_for_its_parameterisation():
    parameterisation = {"county": {"choice": "auto", "centered": 2, "noncentered": 83},
                        "herd": {"choice": "collapsed"}}
    message = nuts_warnings(fake_fit("county"), 10, None, parameterisation)[0]
    assert "40 of 2000" in message and "sd[county][floor] is small" in message
    assert "parameterisation={'county': 'centered'}" in message
    message = nuts_warnings(fake_fit("herd"), 10, None, parameterisation)[0]
    assert "sd[herd][(Intercept)] is small" in message and "tighter prior" in message
    centred = {"county": {"choice": "auto", "centered": 80, "noncentered": 5}}
    assert "'noncentered'" in nuts_warnings(fake_fit("county"), 10, None, centred)[0]


def test_scattered_divergences_name_no_term():
    message = nuts_warnings(fake_fit(None), 10, None, {})[0]
    assert "not concentrated at small group sds" in message


def test_a_high_pareto_k_of_ratios_that_hardly_vary_is_not_a_failed_laplace_check():
    """Pareto k measures the shape of the weights' tail; where all the log ratios lie within
    NEGLIGIBLE_SPREAD of each other no weight can matter, and the check rests on the shifts."""
    from hierax.results.diagnostics import NEGLIGIBLE_SPREAD, laplace_check, laplace_warnings

    rng = np.random.default_rng(0)
    heavy = rng.pareto(0.8, 400)                       # a tail heavy enough for k > 0.7
    values = {"sd[g][(Intercept)]": rng.normal(size=400)}
    for scale, fails in ((0.5, True), (0.9 * NEGLIGIBLE_SPREAD / np.ptp(heavy), False)):
        check = laplace_check({"checked": "hyperparameters", "log_ratios": scale * heavy, "values": values})
        assert check["pareto_k"] > 0.7
        assert check["log_ratio_spread"] == pytest.approx(scale * np.ptp(heavy))
        warned = laplace_warnings({"g": {"choice": "laplace", **check}})
        assert bool(warned) == fails, (scale, check, warned)
