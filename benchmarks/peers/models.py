"""The benchmark suite's models: data, formula, family and priors, the same for every tool.

Only NumPy and pandas here, so that every runner (hierax's environment and the peers' own, see
``benchmarks/suite.py``) reads the same definitions. Each model also comes as plain design arrays
(:func:`design`), from which the hand-written NumPyro and PyMC models are built, so that every
tool fits the same likelihood with the same priors:

    eta = X beta + sum_k rowsum(Z_k * u_k[g_k]),   u_k[j] = diag(tau_k) L_k z_kj,  z ~ N(0, I)
    beta_0 ~ N(0, prior["Intercept"]), other beta ~ N(0, prior["b"]), tau ~ half-N(0, prior["sd"]),
    L_k ~ LKJ-Cholesky(prior["lkj"]) for correlated terms, sigma ~ half-N(0, prior["sigma"]).

These are the priors of the long-run Stan references in ../shared/reference (radon, sleepstudy,
cbpp, grouseticks); the synthetic models use radon's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"

RADON_PRIORS = {"Intercept": 10.0, "b": 10.0, "sd": 1.0, "lkj": 2.0, "sigma": 1.0}
GLMM_PRIORS = {"Intercept": 5.0, "b": 5.0, "sd": 1.0, "lkj": 2.0, "sigma": None}

MODELS = {
    "radon_intercepts": dict(formula="log_radon ~ floor + (1 | county)", family="gaussian", priors=RADON_PRIORS,
                             fixed=["floor"], groups=[("county", [])]),
    "radon_slopes": dict(formula="log_radon ~ floor + (1 + floor | county)", family="gaussian",
                         priors=RADON_PRIORS, fixed=["floor"], groups=[("county", ["floor"])]),
    "sleepstudy": dict(formula="Reaction ~ Days + (Days | Subject)", family="gaussian",
                       priors={"Intercept": 500.0, "b": 50.0, "sd": 50.0, "lkj": 2.0, "sigma": 50.0},
                       fixed=["Days"], groups=[("Subject", ["Days"])]),
    "cbpp": dict(formula="cbind(incidence, size - incidence) ~ period + (1 | herd)", family="binomial",
                 priors=GLMM_PRIORS, fixed=["period"], groups=[("herd", [])]),
    "grouseticks": dict(formula="TICKS ~ YEAR + cHEIGHT + (1 | INDEX) + (1 | BROOD) + (1 | LOCATION)",
                        family="poisson", priors=GLMM_PRIORS, fixed=["YEAR", "cHEIGHT"],
                        groups=[("INDEX", []), ("BROOD", []), ("LOCATION", [])]),
    "large_100k": dict(formula="y ~ x + (1 + x | g)", family="gaussian", priors=RADON_PRIORS, fixed=["x"],
                       groups=[("g", ["x"])], rows=100_000, levels=1_000),
    "large_1m": dict(formula="y ~ x + (1 + x | g)", family="gaussian", priors=RADON_PRIORS, fixed=["x"],
                     groups=[("g", ["x"])], rows=1_000_000, levels=10_000),
}
CATEGORICAL = {"period", "YEAR"}
RESPONSE = {"radon_intercepts": "log_radon", "radon_slopes": "log_radon", "sleepstudy": "Reaction",
            "cbpp": "incidence", "grouseticks": "TICKS", "large_100k": "y", "large_1m": "y"}


def load(name: str) -> pd.DataFrame:
    """The model's data frame (categorical predictors as strings)."""
    if name.startswith("radon"):
        return pd.read_csv(SHARED / "radon_mn.csv")[["log_radon", "floor", "county"]]
    if name == "sleepstudy":
        return pd.read_csv(SHARED / "teaching" / "sleepstudy.csv").astype({"Subject": str})
    if name == "cbpp":
        return pd.read_csv(SHARED / "teaching" / "cbpp.csv").astype({"period": str, "herd": str})
    if name == "grouseticks":
        return pd.read_csv(SHARED / "teaching" / "grouseticks.csv").astype(
            {"YEAR": str, "INDEX": str, "BROOD": str, "LOCATION": str})
    model = MODELS[name]
    return synthetic(model["rows"], model["levels"])


def synthetic(rows: int, levels: int, seed: int = 20261121) -> pd.DataFrame:
    """y = 1 + 0.5 x + u0[g] + u1[g] x + e: sds 0.5 and 0.3, correlation 0.3, sigma 1; equal groups."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(levels), rows // levels)
    x = rng.normal(size=rows)
    cov = np.array([[0.25, 0.3 * 0.5 * 0.3], [0.3 * 0.5 * 0.3, 0.09]])
    u = rng.multivariate_normal(np.zeros(2), cov, size=levels)
    y = 1.0 + 0.5 * x + u[g, 0] + u[g, 1] * x + rng.normal(size=rows)
    return pd.DataFrame({"y": y, "x": x, "g": np.char.add("g", g.astype(str))})


def design(name: str, data: pd.DataFrame | None = None) -> dict:
    """Plain arrays: X (intercept first), names, y, trials (binomial) and per group term
    (name, index, Z, levels); the same coding as the formula's (treatment contrasts)."""
    model = MODELS[name]
    data = load(name) if data is None else data
    columns, names = [np.ones(len(data))], ["(Intercept)"]
    for term in model["fixed"]:
        if term in CATEGORICAL:
            levels = sorted(data[term].unique())
            for level in levels[1:]:
                columns.append((data[term] == level).to_numpy(float))
                names.append(f"{term}[{level}]")
        else:
            columns.append(data[term].to_numpy(float))
            names.append(term)
    groups = []
    for group, slopes in model["groups"]:
        index, levels = pd.factorize(data[group], sort=True)
        Z = np.column_stack([np.ones(len(data))] + [data[s].to_numpy(float) for s in slopes])
        groups.append((group, index.astype(np.int32), Z, len(levels)))
    y = data[RESPONSE[name]].to_numpy(float)
    trials = data["size"].to_numpy(float) if name == "cbpp" else None
    return {"X": np.column_stack(columns), "names": names, "y": y, "trials": trials, "groups": groups,
            "family": model["family"], "priors": model["priors"]}
