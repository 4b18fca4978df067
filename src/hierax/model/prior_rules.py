"""Default priors, user overrides, and the table of priors actually used.

Default rule (weakly informative, scaled to the data, in the spirit of rstanarm and brms).
Let s = sd(y) for the gaussian family and s = 1 otherwise (one unit on the link scale), and
m = mean(y) for gaussian, 0 otherwise:

- ``Intercept`` ~ StudentT(3, m, 2.5 s). The prior is on the intercept as written (predictors
  are not centred), so its heavy tails leave room when predictors sit far from zero.
- ``b[x]`` ~ Normal(0, 2.5 s / sd(x)): a one-sd change in x moves the mean by about 2.5 s at most.
- ``sd`` ~ HalfStudentT(3, s): group-level sds of the size of the data's spread are plausible,
  larger ones possible; zero is not favoured over small positive values.
- ``cor`` ~ LKJ(2): mildly favours weaker correlations, keeping the sampler off the boundary
  where a correlation is +-1 when groups are few.
- ``sigma`` ~ Exponential(1 / s): mean s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hierax.errors import ModelError
from hierax.model.priors import LKJ, Exponential, HalfStudentT, Normal, Prior, StudentT

_KEY = re.compile(r"^(Intercept|b|sd|cor|sigma)(?:\[([^\]]+)\])?(?:\[([^\]]+)\])?$")
_SUPPORT = {"Intercept": "real", "b": "real", "sd": "positive", "sigma": "positive", "cor": "correlation"}


@dataclass(frozen=True)
class PriorTable:
    """The priors used by a model, one row per parameter (or group of parameters).

    Print it to read it; ``to_frame()`` gives a DataFrame with columns
    ``class, group, coef, prior, source`` (source is "default" or "user").
    """

    rows: tuple
    fixed_priors: tuple
    sd_priors: dict
    cor_priors: dict
    sigma_prior: Prior | None

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows), columns=["class", "group", "coef", "prior", "source"])

    def __str__(self) -> str:
        return self.to_frame().to_string(index=False)

    def __repr__(self) -> str:
        return f"PriorTable(\n{self}\n)"


def parse_prior_key(key: str):
    """Split ``"sd[county][floor]"`` into ("sd", "county", "floor")."""
    match = _KEY.match(key.strip()) if isinstance(key, str) else None
    if not match:
        raise ModelError(
            f"unknown prior key {key!r}; use a class (Intercept, b, sd, cor, sigma) optionally with a "
            "name in brackets, e.g. 'b[floor]', 'sd[county]', 'sd[county][floor]', 'cor[county]'"
        )
    return match.group(1), match.group(2), match.group(3)


def resolve_priors(design, family, has_sigma: bool, user: dict) -> PriorTable:
    """Apply the default rule, then the user's overrides, most specific key winning."""
    if not isinstance(user, dict):
        raise ModelError("priors must be a dict such as {'b': hx.Normal(0, 1), 'sd': hx.HalfNormal(1)}")
    overrides = _check_overrides(design, user, has_sigma)
    gaussian = family.name == "gaussian"
    scale = float(np.std(design.y, ddof=1)) if gaussian and len(design.y) > 1 else 1.0
    scale = scale if np.isfinite(scale) and scale > 0 else 1.0
    location = float(np.mean(design.y)) if gaussian else 0.0
    rows, fixed = [], []
    for j, name in enumerate(design.fixed_names):
        if name == "(Intercept)":
            prior, source = _pick(overrides, [("Intercept", None, None), ("b", "(Intercept)", None)],
                                  StudentT(3.0, round(location, 4), round(2.5 * scale, 4)))
            rows.append(("Intercept", "", name, str(prior), source))
        else:
            x_sd = float(np.std(design.X[:, j], ddof=1))
            default = Normal(0.0, round(2.5 * scale / (x_sd if x_sd > 0 else 1.0), 4))
            prior, source = _pick(overrides, [("b", name, None), ("b", None, None)], default)
            rows.append(("b", "", name, str(prior), source))
        fixed.append(prior)
    sd_priors, cor_priors = {}, {}
    for block in design.random:
        priors = []
        for term in block.terms:
            keys = [(("sd", g, term)) for g in (block.name, block.group)]
            keys += [("sd", g, None) for g in (block.name, block.group)] + [("sd", None, None)]
            prior, source = _pick(overrides, keys, HalfStudentT(3.0, round(scale, 4)))
            rows.append(("sd", block.name, term, str(prior), source))
            priors.append(prior)
        sd_priors[block.name] = tuple(priors)
        if block.correlated and block.num_terms > 1:
            keys = [("cor", block.name, None), ("cor", block.group, None), ("cor", None, None)]
            prior, source = _pick(overrides, keys, LKJ(2.0))
            rows.append(("cor", block.name, "", str(prior), source))
            cor_priors[block.name] = prior
    sigma = None
    if has_sigma:
        sigma, source = _pick(overrides, [("sigma", None, None)], Exponential(round(1.0 / scale, 6)))
        rows.append(("sigma", "", "", str(sigma), source))
    return PriorTable(tuple(rows), tuple(fixed), sd_priors, cor_priors, sigma)


def _pick(overrides: dict, keys: list, default: Prior):
    for key in keys:
        if key in overrides:
            return overrides[key], "user"
    return default, "default"


def _check_overrides(design, user: dict, has_sigma: bool) -> dict:
    """Map user keys to (class, name, term), checking that each names something in the model."""
    fixed = set(design.fixed_names)
    blocks = {b.name: b for b in design.random} | {b.group: b for b in design.random}
    out = {}
    for key, prior in user.items():
        cls, name, term = parse_prior_key(key)
        if not isinstance(prior, Prior):
            raise ModelError(f"prior for {key!r} must be a hierax prior such as hx.Normal(0, 1), got {prior!r}")
        if prior.support != _SUPPORT[cls]:
            raise ModelError(f"{key!r} needs a prior on {_SUPPORT[cls]} values; {prior} is on {prior.support} values")
        if cls in ("Intercept", "sigma") and (name or term):
            raise ModelError(f"{cls!r} takes no name in brackets (got {key!r})")
        if cls == "Intercept" and "(Intercept)" not in fixed:
            raise ModelError("a prior was given for 'Intercept' but the model has no fixed intercept")
        if cls == "sigma" and not has_sigma:
            raise ModelError("a prior was given for 'sigma' but this model has no residual sd")
        if cls == "b" and name and name not in fixed:
            raise ModelError(f"no fixed effect {name!r} for prior {key!r}; fixed effects: {sorted(fixed)}")
        if cls in ("sd", "cor") and name and name not in blocks:
            raise ModelError(f"no group {name!r} for prior {key!r}; groups: {sorted(blocks)}")
        if cls in ("sd", "cor") and not name and not design.random:
            raise ModelError(f"a prior was given for {cls!r} but the model has no group terms")
        if term and (cls != "sd" or term not in blocks[name].terms):
            raise ModelError(f"no varying effect {term!r} in group {name!r} for prior {key!r}")
        if cls == "b" and not name:
            out[("b", None, None)] = prior
        else:
            out[(cls, name, term)] = prior
    return out
