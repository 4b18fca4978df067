"""NUTS posteriors of three non-gaussian families and a distributional model against long rstan runs.

References: tests/reference/stan_families.json (rstan, 4 chains x 10,000 kept draws, adapt_delta
0.95; Stan programs in tests/reference/stan/*.stan, data preparation in stan_families.R). Each
model has one grouping term, r_j ~ N(0, sd^2) iid, and the priors of its Stan program, given
here explicitly for every parameter (the intercept's is on the intercept as written, as in Stan
and in hierax; half-t(3, 0, s) is student_t(3, 0, s) restricted to > 0, hx.HalfStudentT(3, s)):

- negbinomial (MASS epil, tests/reference/data/epil.csv): y_i ~ NB2(mu_i, shape), var = mu + mu^2 /
  shape; log mu_i = b0 + b_trt [trt_i = progabide] + b_lbase lbase_i + r_subject;
  b ~ N(0, 5) (intercept too), sd ~ half-t(3, 0, 2.5), shape ~ Gamma(0.01, 0.01) (shape, rate).
- student (sleepstudy, ../shared/data/teaching/sleepstudy.csv): Reaction_i ~ t_nu(mu_i, sigma);
  mu_i = b0 + b_Days Days_i + r_Subject; b0 ~ N(250, 100), b_Days ~ N(0, 20), sd and sigma ~
  half-t(3, 0, 50), nu ~ Gamma(2, 0.1) restricted to nu > 1 (Stan: real<lower=1> nu; hierax:
  nu = 1 + exp(u) with the Gamma prior on nu, brms's parametrisation: the same density).
- beta (GasolineYield, tests/reference/data/GasolineYield.csv): yield_i ~ Beta(mu_i phi,
  (1 - mu_i) phi); logit mu_i = b0 + b_ctemp ctemp_i + r_batch, ctemp = (temp - 300) / 100 (the
  file's column); b ~ N(0, 5) (intercept too), sd ~ half-t(3, 0, 2.5), phi ~ Gamma(0.01, 0.01).
- cumulative logit (ordinal's wine, tests/reference/data/wine.csv): P(rating_i <= k) =
  logistic(c_k - eta_i), eta_i = b_temp [temp_i = warm] + b_contact [contact_i = yes] + r_judge (no
  intercept), c_1 < ... < c_4 ~ N(0, 5) each on the ordered set, b ~ N(0, 5), sd ~ half-t(3, 0, 2.5);
  4 chains x 4,000 draws.
- gaussian with a formula for sigma (sleepstudy): Reaction_i ~ N(mu_i, sigma_i); mu_i = b0 + b_Days
  Days_i + r_Subject; log sigma_i = c0 + c_Days Days_i; b0 ~ N(250, 100), b_Days ~ N(0, 20),
  c0 ~ N(0, 5), c_Days ~ N(0, 1), sd ~ half-t(3, 0, 50); 4 chains x 4,000 draws.

Checked for every hyperparameter (fixed effects, group sd, the family's parameters):

- mean: |mean - mean_stan| < 4 sqrt(mcse^2 + mcse_stan^2), our MCSE being ArviZ's MCSE of the mean
  and Stan's posterior::mcse_mean.
- sd: |sd / sd_stan - 1| < 10%. Derivation: the sample variance of n effectively independent
  draws has variance (kappa - 1) sigma^4 / n (kappa the kurtosis), so by the delta method the
  sample sd has relative standard error sqrt((kappa - 1) / (4 n)): 2.2% for a near-normal
  posterior (kappa = 3) at n = ESS = 1,000, so 10% is about 4 standard errors there. The
  hyperparameters here have heavier tails (kappa about 7-9 for beta's sd and about 16-23 for
  student's nu, whose posterior follows its Gamma(2, 0.1) prior into the tail), which need more
  draws: 4 chains x 8,000 draws for student and beta (nu: ESS about 26,000, relative MCSE of its
  sd about 1.3%, Stan's 1.3%), 4 chains x 4,000 for negbinomial (lighter tails, slower per draw).
  So that 10% is known to be at least 4 combined standard errors (and a run with too few
  effective draws says so rather than failing or passing by chance), each check first asserts
  4 sqrt(rel_mcse_sd^2 + rel_mcse_sd_stan^2) <= 10%, our relative MCSE of the sd being ArviZ's
  (method "sd") over our sd, Stan's its mcse_sd over its sd; at these settings it is 3-8%.

Also asserted: the prior table holds exactly the Stan program's priors, all set by the user, and
no divergent transitions. Warmup 1,000 iterations, default target_accept; fixed seeds.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import hierax as hx
from hierax.results import _arviz

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REFERENCE = json.loads((ROOT / "tests" / "reference" / "stan_families.json").read_text())["models"]
SD_TOLERANCE = 0.10
pytestmark = pytest.mark.sampling


def stan_summary(model, reference=None):
    """{variable: (mean, sd, mcse_mean, mcse_sd)} of a reference model (of ``reference``'s models,
    by default this module's)."""
    s = (REFERENCE if reference is None else reference)[model]["summary"]
    return {v: (s["mean"][i], s["sd"][i], s["mcse_mean"][i], s["mcse_sd"][i]) for i, v in enumerate(s["variable"])}


def post(fit, variable, **sel):
    """Draws of a scalar, shaped (chain, draw)."""
    values = fit.idata.posterior[variable].sel(**sel).values
    return values.reshape(values.shape[0], values.shape[1])


def ours(draws):
    """(mean, sd, mcse of the mean, mcse of the sd) of a (chain, draw) array."""
    data = xr.Dataset({"x": xr.DataArray(draws, dims=("chain", "draw"))})
    return (float(draws.mean()), float(draws.std(ddof=1)), float(_arviz.mcse(data, method="mean")["x"]),
            float(_arviz.mcse(data, method="sd")["x"]))


def compare(fit, model, pairs, reference=None):
    """Rows (parameter, mean, stan mean, z, sd, stan sd, relative sd difference, 4 combined
    relative MCSEs of the sd) and the failures of the rules in the module docstring."""
    reference = stan_summary(model, reference)
    rows, failures = [], []
    for name, draws in pairs.items():
        mean, sd, mcse, mcse_sd = ours(draws)
        ref_mean, ref_sd, ref_mcse, ref_mcse_sd = reference[name]
        z = (mean - ref_mean) / np.hypot(mcse, ref_mcse)
        rel = sd / ref_sd - 1.0
        sd_noise = 4 * np.hypot(mcse_sd / sd, ref_mcse_sd / ref_sd)
        rows.append((name, mean, ref_mean, z, sd, ref_sd, rel, sd_noise))
        if not abs(z) < 4:
            failures.append(f"{name}: mean {mean:.5g} vs Stan {ref_mean:.5g}: {z:+.2f} combined MCSEs")
        if not sd_noise <= SD_TOLERANCE:
            failures.append(f"{name}: too few effective draws for the sd check: 4 combined relative MCSEs of "
                            f"the sd are {sd_noise:.1%} > {SD_TOLERANCE:.0%}")
        if not abs(rel) < SD_TOLERANCE:
            failures.append(f"{name}: sd {sd:.5g} vs Stan {ref_sd:.5g} ({rel:+.1%}, tolerance {SD_TOLERANCE:.0%})")
    table = pd.DataFrame(rows, columns=["parameter", "mean", "stan_mean", "z_mean", "sd", "stan_sd", "sd_rel_diff",
                                        "sd_4_mcse_rel"]).to_string(index=False)
    return table, failures


def check(fit, model, pairs, expected_priors, reference=None):
    """The prior table is ``expected_priors`` (rows class, group, coef, prior), all set by the user;
    no divergences; the mean and sd rules of the module docstring."""
    priors = fit.priors.to_frame()
    assert (priors["source"] == "user").all(), str(fit.priors)
    assert list(priors[["class", "group", "coef", "prior"]].itertuples(index=False, name=None)) == expected_priors, \
        str(fit.priors)
    assert int(fit.idata.sample_stats["diverging"].sum()) == 0, fit.warnings
    table, failures = compare(fit, model, pairs, reference)
    assert not failures, "\n".join(failures) + "\n" + table
    return table


def fit_negbinomial():
    data = pd.read_csv(ROOT / REFERENCE["negbinomial"]["data_file"])
    priors = {"Intercept": hx.Normal(0, 5), "b": hx.Normal(0, 5), "sd": hx.HalfStudentT(3, 2.5),
              "shape": hx.Gamma(0.01, 0.01)}
    return hx.fit("y ~ trt + lbase + (1 | subject)", data, family="negbinomial", priors=priors, chains=4,
                  warmup=1000, draws=4000, seed=101)


def fit_student():
    data = pd.read_csv(SHARED / "data" / "teaching" / "sleepstudy.csv")
    priors = {"Intercept": hx.Normal(250, 100), "b": hx.Normal(0, 20), "sd": hx.HalfStudentT(3, 50),
              "sigma": hx.HalfStudentT(3, 50), "nu": hx.Gamma(2, 0.1)}
    return hx.fit("Reaction ~ Days + (1 | Subject)", data, family="student", priors=priors, chains=4, warmup=1000,
                  draws=8000, seed=202)


def fit_beta():
    data = pd.read_csv(ROOT / REFERENCE["beta"]["data_file"])
    priors = {"Intercept": hx.Normal(0, 5), "b": hx.Normal(0, 5), "sd": hx.HalfStudentT(3, 2.5),
              "phi": hx.Gamma(0.01, 0.01)}
    return hx.fit("yield ~ ctemp + (1 | batch)", data, family="beta", priors=priors, chains=4, warmup=1000,
                  draws=8000, seed=303)


def fit_cumulative():
    data = pd.read_csv(ROOT / REFERENCE["cumulative"]["data_file"])
    priors = {"Intercept": hx.Normal(0, 5), "b": hx.Normal(0, 5), "sd": hx.HalfStudentT(3, 2.5)}
    return hx.fit("rating ~ temp + contact + (1 | judge)", data, family="cumulative", priors=priors, chains=4,
                  warmup=1000, draws=4000, seed=505)


def pairs_cumulative(fit):
    pairs = {f"Intercept[{k}]": post(fit, "thresholds", threshold=f"Intercept[{k}]") for k in range(1, 5)}
    return {**pairs, "b_tempwarm": post(fit, "beta", fixed="temp[warm]"),
            "b_contactyes": post(fit, "beta", fixed="contact[yes]"),
            "sd_judge__Intercept": post(fit, "sd_judge", judge__term="(Intercept)")}


def fit_gaussian_sigma():
    data = pd.read_csv(SHARED / "data" / "teaching" / "sleepstudy.csv")
    priors = {"Intercept": hx.Normal(250, 100), "b": hx.Normal(0, 20), "sd": hx.HalfStudentT(3, 50),
              "Intercept_sigma": hx.Normal(0, 5), "b_sigma": hx.Normal(0, 1)}
    return hx.fit(hx.bf("Reaction ~ Days + (1 | Subject)", sigma="~ Days"), data, priors=priors, chains=4,
                  warmup=1000, draws=4000, seed=404)


def pairs_gaussian_sigma(fit):
    return {"b_Intercept": post(fit, "beta", fixed="(Intercept)"),
            "b_Days": post(fit, "beta", fixed="Days"),
            "b_sigma_Intercept": post(fit, "beta_sigma", fixed_sigma="sigma_(Intercept)"),
            "b_sigma_Days": post(fit, "beta_sigma", fixed_sigma="sigma_Days"),
            "sd_Subject__Intercept": post(fit, "sd_Subject", Subject__term="(Intercept)")}


def pairs_negbinomial(fit):
    return {"b_Intercept": post(fit, "beta", fixed="(Intercept)"),
            "b_trtprogabide": post(fit, "beta", fixed="trt[progabide]"),
            "b_lbase": post(fit, "beta", fixed="lbase"),
            "sd_subject__Intercept": post(fit, "sd_subject", subject__term="(Intercept)"),
            "shape": post(fit, "shape")}


def pairs_student(fit):
    return {"b_Intercept": post(fit, "beta", fixed="(Intercept)"),
            "b_Days": post(fit, "beta", fixed="Days"),
            "sd_Subject__Intercept": post(fit, "sd_Subject", Subject__term="(Intercept)"),
            "sigma": post(fit, "sigma"),
            "nu": post(fit, "nu")}


def pairs_beta(fit):
    return {"b_Intercept": post(fit, "beta", fixed="(Intercept)"),
            "b_ctemp": post(fit, "beta", fixed="ctemp"),
            "sd_batch__Intercept": post(fit, "sd_batch", batch__term="(Intercept)"),
            "phi": post(fit, "phi")}


def test_negbinomial_matches_stan():
    fit = fit_negbinomial()
    check(fit, "negbinomial", pairs_negbinomial(fit),
          [("Intercept", "", "(Intercept)", "Normal(0, 5)"), ("b", "", "trt[progabide]", "Normal(0, 5)"),
           ("b", "", "lbase", "Normal(0, 5)"), ("sd", "subject", "(Intercept)", "HalfStudentT(3, 2.5)"),
           ("shape", "", "", "Gamma(0.01, 0.01)")])


@pytest.mark.skipif(not SHARED.exists(), reason="../shared (reference data) is not beside the checkout")
def test_student_matches_stan():
    fit = fit_student()
    check(fit, "student", pairs_student(fit),
          [("Intercept", "", "(Intercept)", "Normal(250, 100)"), ("b", "", "Days", "Normal(0, 20)"),
           ("sd", "Subject", "(Intercept)", "HalfStudentT(3, 50)"), ("sigma", "", "", "HalfStudentT(3, 50)"),
           ("nu", "", "", "Gamma(2, 0.1)")])


def test_beta_matches_stan():
    fit = fit_beta()
    check(fit, "beta", pairs_beta(fit),
          [("Intercept", "", "(Intercept)", "Normal(0, 5)"), ("b", "", "ctemp", "Normal(0, 5)"),
           ("sd", "batch", "(Intercept)", "HalfStudentT(3, 2.5)"), ("phi", "", "", "Gamma(0.01, 0.01)")])


@pytest.mark.skipif(not SHARED.exists(), reason="../shared (reference data) is not beside the checkout")
def test_sigma_formula_matches_stan():
    fit = fit_gaussian_sigma()
    check(fit, "gaussian_sigma", pairs_gaussian_sigma(fit),
          [("Intercept", "", "(Intercept)", "Normal(250, 100)"), ("b", "", "Days", "Normal(0, 20)"),
           ("sd", "Subject", "(Intercept)", "HalfStudentT(3, 50)"), ("Intercept_sigma", "", "(Intercept)", "Normal(0, 5)"),
           ("b_sigma", "", "Days", "Normal(0, 1)")])


def test_cumulative_matches_stan():
    fit = fit_cumulative()
    check(fit, "cumulative", pairs_cumulative(fit),
          [("Intercept", "", f"Intercept[{k}]", "Normal(0, 5)") for k in range(1, 5)]
          + [("b", "", "temp[warm]", "Normal(0, 5)"), ("b", "", "contact[yes]", "Normal(0, 5)"),
             ("sd", "judge", "(Intercept)", "HalfStudentT(3, 2.5)")])
