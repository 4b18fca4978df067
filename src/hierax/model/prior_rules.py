"""Default priors, user overrides, and the table of priors actually used.

Default rule (weakly informative, scaled to the data, in the spirit of rstanarm and brms).
Let s = sd(y) for a family whose mean is a location (gaussian, student; lognormal: of log y) and
s = 1 otherwise (one unit on the link scale), and m = mean(y) for those families, 0 otherwise:

- ``Intercept`` ~ StudentT(3, m, 2.5 s). The prior is on the intercept as written (predictors
  are not centred), so its heavy tails leave room when predictors sit far from zero.
- ``b[x]`` ~ Normal(0, 2.5 s / sd(x)): a one-sd change in x moves the mean by about 2.5 s at most.
- ``sd`` ~ HalfStudentT(3, s): group-level sds of the size of the data's spread are plausible,
  larger ones possible; zero is not favoured over small positive values.
- ``cor`` ~ LKJ(2): mildly favours weaker correlations, keeping the sampler off the boundary
  where a correlation is +-1 when groups are few.
- ``sigma`` ~ Exponential(1 / s): mean s. Every other parameter of a family has the default its
  :class:`~hierax.model.families.Dpar` declares (brms's: Gamma(0.01, 0.01) for a shape or a
  precision, Gamma(2, 0.1) for student's nu, Beta(1, 1) for zi and hu).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hierax.errors import ModelError
from hierax.model.families import FAMILIES
from hierax.model.prior_scale import data_scale, significant
from hierax.model.priors import LKJ, HalfStudentT, Normal, Prior, StudentT

_KEY = re.compile(r"^([A-Za-z_]\w*)(?:\[([^\]]+)\])?(?:\[([^\]]+)\])?$")
_SUPPORT = {"Intercept": "real", "b": "real", "sd": "positive", "cor": "correlation"}
DPAR_SUPPORT = {d.name: d.support for family in FAMILIES.values() for d in family.dpars}   # every family's


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
    dpar_priors: dict           # {dpar name: Prior} for the family's scalar parameters (sigma, shape, ...)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows), columns=["class", "group", "coef", "prior", "source"])

    def __str__(self) -> str:
        return self.to_frame().to_string(index=False)

    def __repr__(self) -> str:
        return f"PriorTable(\n{self}\n)"


def parse_prior_key(key: str):
    """Split ``"sd[county][floor]"`` into ("sd", "county", "floor")."""
    match = _KEY.match(key.strip()) if isinstance(key, str) else None
    if not match or match.group(1) not in _SUPPORT.keys() | DPAR_SUPPORT.keys():
        raise ModelError(
            f"unknown prior key {key!r}; use a class (Intercept, b, sd, cor, or a family's parameter such as sigma, "
            "shape, nu, phi, zi, hu) optionally with a name in brackets, e.g. 'b[floor]', 'sd[county]', "
            "'sd[county][floor]', 'cor[county]'"
        )
    return match.group(1), match.group(2), match.group(3)


def resolve_priors(design, family, dpars: tuple, user: dict) -> PriorTable:
    """Apply the default rule, then the user's overrides, most specific key winning; ``dpars``:
    the family's parameters estimated as scalars (:class:`~hierax.model.families.Dpar`)."""
    if not isinstance(user, dict):
        raise ModelError("priors must be a dict such as {'b': hx.Normal(0, 1), 'sd': hx.HalfNormal(1)}")
    overrides = _check_overrides(design, user, dpars, family)
    location, scale = data_scale(design.y, family)
    rows, fixed = [], []
    for j, name in enumerate(design.fixed_names):
        if name == "(Intercept)":
            prior, source = _pick(overrides, [("Intercept", None, None), ("b", "(Intercept)", None)],
                                  StudentT(3.0, location, significant(2.5 * scale)))
            rows.append(("Intercept", "", name, str(prior), source))
        else:
            x_sd = float(np.std(design.X[:, j], ddof=1)) if len(design.y) > 1 else 0.0
            x_sd = x_sd if np.isfinite(x_sd) and x_sd > 0 else 1.0
            default = Normal(0.0, significant(2.5 * scale / x_sd))
            prior, source = _pick(overrides, [("b", name, None), ("b", None, None)], default)
            rows.append(("b", "", name, str(prior), source))
        fixed.append(prior)
    sd_priors, cor_priors = {}, {}
    for block in design.random:
        priors = []
        for term in block.terms:
            keys = [(("sd", g, term)) for g in (block.name, block.group)]
            keys += [("sd", g, None) for g in (block.name, block.group)] + [("sd", None, None)]
            prior, source = _pick(overrides, keys, HalfStudentT(3.0, significant(scale)))
            rows.append(("sd", block.name, term, str(prior), source))
            priors.append(prior)
        sd_priors[block.name] = tuple(priors)
        if _has_correlations(block):
            keys = [("cor", block.name, None), ("cor", block.group, None), ("cor", None, None)]
            prior, source = _pick(overrides, keys, LKJ(2.0))
            rows.append(("cor", block.name, "", str(prior), source))
            cor_priors[block.name] = prior
    dpar_priors = {}
    for dpar in dpars:
        prior, source = _pick(overrides, [(dpar.name, None, None)], dpar.default_prior(scale))
        rows.append((dpar.name, "", "", str(prior), source))
        dpar_priors[dpar.name] = prior
    return PriorTable(tuple(rows), tuple(fixed), sd_priors, cor_priors, dpar_priors)


def _has_correlations(block) -> bool:
    return block.correlated and block.num_terms > 1


def prior_keys(design, dpars: tuple) -> list:
    """Every key a prior may be given for in this model, most general first within each class."""
    keys = []
    fixed = [name for name in design.fixed_names if name != "(Intercept)"]
    if "(Intercept)" in design.fixed_names:
        keys.append("Intercept")
    if fixed:
        keys += ["b"] + [f"b[{name}]" for name in fixed]
    if design.random:
        keys.append("sd")
        for block in design.random:
            keys += [f"sd[{block.name}]"] + [f"sd[{block.name}][{term}]" for term in block.terms]
    correlated = [block for block in design.random if _has_correlations(block)]
    if correlated:
        keys += ["cor"] + [f"cor[{block.name}]" for block in correlated]
    return keys + [dpar.name for dpar in dpars]


def _pick(overrides: dict, keys: list, default: Prior):
    for key in keys:
        if key in overrides:
            return overrides[key], "user"
    return default, "default"


def _check_overrides(design, user: dict, dpars: tuple, family) -> dict:
    """Map user keys to (class, name, term), checking that each names something in the model.

    A key that matches nothing is refused, not ignored: a prior the user believes is in force but
    is not is a silent wrong answer. The message lists the keys this model has.
    """
    fixed = set(design.fixed_names)
    blocks = {b.name: b for b in design.random} | {b.group: b for b in design.random}
    correlated = {name for name, b in blocks.items() if _has_correlations(b)}
    out = {}
    for key, prior in user.items():
        cls, name, term = parse_prior_key(key)
        if not isinstance(prior, Prior):
            raise ModelError(f"prior for {key!r} must be a hierax prior such as hx.Normal(0, 1), got {prior!r}")
        support = _SUPPORT.get(cls) or DPAR_SUPPORT[cls]
        if prior.support != support:
            raise ModelError(f"{key!r} needs a prior on {support} values; {prior} is on {prior.support} values")
        if (cls == "Intercept" or cls in DPAR_SUPPORT) and (name or term):
            raise ModelError(f"{cls!r} takes no name in brackets (got {key!r}); use {cls!r}")
        problem = _unmatched(cls, name, term, fixed, blocks, correlated, dpars, family)
        if problem:
            raise ModelError(f"the prior {key!r} matches nothing in this model: {problem}. Use one of the keys "
                             f"this model has: {', '.join(prior_keys(design, dpars))}")
        if cls == "b" and not name:
            out[("b", None, None)] = prior
        else:
            out[(cls, name, term)] = prior
    return out


def _unmatched(cls, name, term, fixed, blocks, correlated, dpars, family) -> str:
    """Why a parsed prior key names no parameter of the model ('' if it names one)."""
    if cls == "Intercept" and "(Intercept)" not in fixed:
        return "the model has no fixed intercept"
    if cls in DPAR_SUPPORT and cls not in {d.name for d in dpars}:
        if cls == "sigma":
            return "the model has no residual sd (its family has none, or se() fixes it)"
        return (f"the {family.name} family has no parameter {cls!r} (its parameters besides the mean: "
                f"{', '.join(family.dpar_names) or 'none'})")
    if cls == "b" and name and name not in fixed:
        return f"no fixed effect {name!r}"
    if cls == "b" and not name and not fixed - {"(Intercept)"}:
        return "the model has no fixed effects besides the intercept"
    if cls in ("sd", "cor") and not blocks:
        return "the model has no group terms"
    if cls in ("sd", "cor") and name and name not in blocks:
        return f"no group {name!r}"
    if cls == "cor" and not (correlated if not name else name in correlated):
        where = f"group {name!r}" if name else "the model"
        return f"{where} has no correlated varying effects (that needs two or more terms joined by '|', not '||')"
    if term and (cls != "sd" or term not in blocks[name].terms):
        return f"no varying effect {term!r} in group {name!r}"
    return ""
