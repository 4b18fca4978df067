"""GEE and population-averaged effects (``hierax.workflow.marginal``): GEE against geepack 1.3.9
run to convergence (tests/reference/variance_decomposition.R), the marginal means against Monte
Carlo, and the implied marginal coefficients' known behaviour."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hierax as hx
from hierax.workflow.marginal import marginal_means

HERE = Path(__file__).resolve().parent
GEEPACK = json.loads((HERE.parent / "reference" / "variance_decomposition.json").read_text())["gee"]
TEACHING = HERE.parents[2] / "shared" / "data" / "teaching"


def _contraception():
    data = pd.read_csv(HERE.parent / "reference" / "data" / "contraception.csv")
    return data.astype({"urban": str, "district": str})


CASES = {
    "contraception": ("use ~ age + urban + (1 | district)", _contraception, "bernoulli"),
    # geepack's cbpp_long: one row per animal, the herd's rows one cluster
    "cbpp_long": ("incidence | trials(size) ~ factor(period) + (1 | herd)",
                  lambda: pd.read_csv(TEACHING / "cbpp.csv").astype({"herd": str}), "binomial"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_gee_matches_geepack(name):
    """Estimates, sandwich se and the exchangeable working correlation to 1e-6 (geepack's moment
    estimators, both converged)."""
    formula, data, family = CASES[name]
    table = hx.gee(formula, data(), family=family)
    expected = GEEPACK[name]
    assert table["estimate"].to_numpy() == pytest.approx(expected["coef"]["estimate"], rel=1e-6)
    assert table["se"].to_numpy() == pytest.approx(expected["coef"]["robust_se"], rel=1e-6)
    assert table.attrs["alpha"] == pytest.approx(expected["alpha"], rel=1e-6)
    assert table.attrs["clusters"] == expected["nclusters"]


def test_the_bias_reduced_sandwich_is_wider_with_few_clusters():
    """cbpp has 15 herds: Mancl and DeRouen's correction inflates every se."""
    formula, data, family = CASES["cbpp_long"]
    robust = hx.gee(formula, data(), family=family)
    reduced = hx.gee(formula, data(), family=family, se="mancl-derouen")
    assert np.all(reduced["se"] > robust["se"])
    assert reduced["estimate"].to_numpy() == pytest.approx(robust["estimate"].to_numpy(), rel=1e-12)


def test_marginal_means_match_monte_carlo():
    """The quadrature's marginal means against 200,000 draws of the effects, within 4 Monte Carlo
    standard errors at every row (a random slope: the variance differs by row)."""
    rng = np.random.default_rng(3)
    data = pd.DataFrame({"x": rng.normal(size=60), "g": np.repeat(np.arange(6), 10)})
    data["y"] = rng.integers(0, 2, 60)
    spec = hx.model("y ~ x + (1 + x | g)", data, family="bernoulli").spec
    beta, Sigma = np.array([-0.3, 0.8]), np.array([[1.2, 0.3], [0.3, 0.5]])
    means = marginal_means(spec, beta, {spec.blocks[0].name: Sigma})
    b = rng.multivariate_normal(np.zeros(2), Sigma, 200_000)
    Z = np.asarray(spec.blocks[0].Z)
    draws = 1.0 / (1.0 + np.exp(-(spec.X @ beta)[:, None] - Z @ b.T))
    mc, mcse = draws.mean(axis=1), draws.std(axis=1) / np.sqrt(200_000)
    assert np.all(np.abs(means - mc) < 4.0 * mcse)


def test_population_averaged_effects_are_attenuated_for_the_logit_and_close_to_gee():
    formula, data, family = CASES["contraception"]
    fit = hx.fit(formula, data(), family=family, method="laplace")
    table = hx.population_averaged(fit)
    assert list(table.columns) == ["cluster_specific", "implied_marginal", "gee", "gee_se"]
    assert np.all(np.abs(table["implied_marginal"]) < np.abs(table["cluster_specific"]))
    # the GLMM's implied marginal model and GEE estimate one thing: within GEE's se here
    assert np.all(np.abs(table["implied_marginal"] - table["gee"]) < table["gee_se"])


def test_with_the_identity_link_the_two_kinds_of_effect_coincide():
    data = pd.read_csv(TEACHING / "sleepstudy.csv").astype({"Subject": str})
    fit = hx.fit("Reaction ~ Days + (Days | Subject)", data, method="reml")
    table = hx.population_averaged(fit)
    assert table["implied_marginal"].to_numpy() == pytest.approx(table["cluster_specific"].to_numpy(), rel=1e-9)
