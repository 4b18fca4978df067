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
from typing import NamedTuple

import numpy as np
import pandas as pd

from hierax.errors import ModelError
from hierax.model import layout
from hierax.model.families import FAMILIES, LINKS, THRESHOLD_PRIOR
from hierax.model.prior_scale import data_scale, significant
from hierax.model.priors import LKJ, HalfStudentT, Normal, Prior, StudentT

_CLASS = re.compile(r"^[A-Za-z_]\w*")
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
    formula_priors: dict = None  # {"b_sigma": fixed priors} for each parameter with a formula
    threshold_priors: tuple = ()  # an ordinal model's, Intercept[1], ..., Intercept[K-1]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows), columns=["class", "group", "coef", "prior", "source"])

    def __str__(self) -> str:
        return self.to_frame().to_string(index=False)

    def __repr__(self) -> str:
        return f"PriorTable(\n{self}\n)"


def parse_prior_key(key: str):
    """Split ``"sd[county][floor]"`` into ("sd", "county", "floor")."""
    parts = _split_key(key.strip()) if isinstance(key, str) else None
    if not parts or _base_class(parts[0]) not in _SUPPORT.keys() | DPAR_SUPPORT.keys():
        raise ModelError(
            f"unknown prior key {key!r}; use a class (Intercept, b, sd, cor, or a family's parameter such as sigma, "
            "shape, nu, phi, zi, hu; Intercept_sigma and b_sigma for the coefficients of a parameter's formula) "
            "optionally with a name in brackets, e.g. 'b[floor]', 'sd[county]', 'sd[county][floor]', 'cor[county]'"
        )
    return parts


def _split_key(key: str):
    """("sd", "county", "floor") from "sd[county][floor]"; brackets inside a name are kept whole,
    so "b[temp[warm]]" is ("b", "temp[warm]", None). None for a key of another shape."""
    match = _CLASS.match(key)
    if not match:
        return None
    names, depth, start = [], 0, None
    for i, char in enumerate(key[match.end():], match.end()):
        if char == "[":
            depth += 1
            start = i + 1 if depth == 1 else start
        elif char == "]":
            depth -= 1
            if depth < 0:
                return None
            if depth == 0:
                names.append(key[start:i])
        elif depth == 0:
            return None                     # text between or after the brackets
    if depth or len(names) > 2 or any(not name for name in names):
        return None
    return (match.group(0), *(names + [None, None])[:2])


def _base_class(cls: str) -> str:
    """The class a key's class stands for: "b_sigma" and "Intercept_sigma" are "b" and "Intercept"
    of sigma's formula (brms's b_sigma); a class that is not of that form is itself."""
    for base in ("Intercept", "b"):
        if cls.startswith(base + "_") and cls[len(base) + 1:] in DPAR_SUPPORT:
            return base
    return cls


@dataclass(frozen=True)
class _Part:
    """One linear predictor as the rules see it: its classes' names (Intercept/b, or
    Intercept_sigma/b_sigma), its fixed names as keys write them, the sd of each design column
    (``x_sds``), its blocks, and the intercept's default location and the rule's scale."""

    intercept_class: str
    b_class: str
    names: tuple
    x_sds: tuple
    blocks: tuple
    location: float
    scale: float
    thresholds: int = 0         # an ordinal mean's thresholds, which the Intercept keys name


class DataScales(NamedTuple):
    """What the default rule reads of the data: the response's location and scale
    (:func:`~hierax.model.prior_scale.data_scale`) and the sd of each fixed-effect column (n - 1
    in the denominator; 0 for a column with one row). Out-of-core data give them from moments
    merged over chunks (``hierax.model.summarised``)."""

    location: float
    scale: float
    x_sds: tuple


def data_scales(design, family) -> DataScales:
    """The :class:`DataScales` of a design in memory."""
    return DataScales(*data_scale(design.y, family), column_sds(design.X))


def column_sds(X: np.ndarray) -> tuple:
    return tuple(float(np.std(X[:, j], ddof=1)) if len(X) > 1 else 0.0 for j in range(X.shape[1]))


def resolve_priors(design, family, dpars: tuple, user: dict, predictors: tuple = (), thresholds: int = 0,
                   scales: DataScales | None = None) -> PriorTable:
    """Apply the default rule, then the user's overrides, most specific key winning.

    ``dpars``: the family's parameters estimated as scalars (:class:`~hierax.model.families.Dpar`);
    ``predictors``: (dpar, design) for each parameter with a formula, its design's fixed names as
    written and its blocks already named for the model (``hierax.model.spec``). A formula's
    intercept centres on the parameter's crude start (log sd(y) for sigma) with the link scale's
    unit scale, 2.5 as for a GLM's coefficients; its slopes get Normal(0, 2.5 / sd(x)).
    """
    if not isinstance(user, dict):
        raise ModelError("priors must be a dict such as {'b': hx.Normal(0, 1), 'sd': hx.HalfNormal(1)}")
    location, scale, x_sds = data_scales(design, family) if scales is None else scales
    parts = [_Part("Intercept", "b", design.fixed_names, x_sds, design.random, location, scale, thresholds)]
    for dpar, dpar_design in predictors:
        start = float(np.asarray(LINKS[dpar.link].forward(dpar.start(design.y, scale if family.location else 1.0))))
        parts.append(_Part(f"Intercept_{dpar.name}", f"b_{dpar.name}", dpar_design.fixed_names, column_sds(dpar_design.X),
                           dpar_design.random, round(start, 2), 1.0))
    overrides = _check_overrides(parts, user, dpars, family)
    rows, fixed, sd_priors, cor_priors = [], {}, {}, {}
    threshold_priors = _threshold_priors(thresholds, overrides, rows)
    for part in parts:
        fixed[part.b_class] = _fixed_priors(part, overrides, rows)
        for block in part.blocks:
            sd_priors[block.name], cor_prior = _block_priors(block, overrides, part.scale, rows)
            if cor_prior is not None:
                cor_priors[block.name] = cor_prior
    dpar_priors = {}
    for dpar in dpars:
        prior, source = _pick(overrides, [(dpar.name, None, None)], dpar.default_prior(scale))
        rows.append((dpar.name, "", "", str(prior), source))
        dpar_priors[dpar.name] = prior
    return PriorTable(tuple(rows), fixed.pop("b"), sd_priors, cor_priors, dpar_priors, fixed, threshold_priors)


def _threshold_priors(count: int, overrides: dict, rows: list) -> tuple:
    """An ordinal model's thresholds: brms's default StudentT(3, 0, 2.5) each, keys ``Intercept``
    (all) and ``Intercept[k]``."""
    priors = []
    for k in range(1, count + 1):
        prior, source = _pick(overrides, [("Intercept", str(k), None), ("Intercept", None, None)], THRESHOLD_PRIOR)
        rows.append(("Intercept", "", f"Intercept[{k}]", str(prior), source))
        priors.append(prior)
    return tuple(priors)


def _fixed_priors(part: _Part, overrides: dict, rows: list) -> tuple:
    priors = []
    for j, name in enumerate(part.names):
        if name == "(Intercept)":
            default = StudentT(3.0, part.location, significant(2.5 * part.scale))
            prior, source = _pick(overrides, [(part.intercept_class, None, None), (part.b_class, name, None)], default)
            rows.append((part.intercept_class, "", name, str(prior), source))
        else:
            x_sd = part.x_sds[j] if np.isfinite(part.x_sds[j]) and part.x_sds[j] > 0 else 1.0
            default = Normal(0.0, significant(2.5 * part.scale / x_sd))
            prior, source = _pick(overrides, [(part.b_class, name, None), (part.b_class, None, None)], default)
            rows.append((part.b_class, "", name, str(prior), source))
        priors.append(prior)
    return tuple(priors)


def _block_priors(block, overrides: dict, scale: float, rows: list):
    priors = []
    for term in block.terms:
        keys = [(("sd", g, term)) for g in (block.name, block.group)]
        keys += [("sd", g, None) for g in (block.name, block.group)] + [("sd", None, None)]
        prior, source = _pick(overrides, keys, HalfStudentT(3.0, significant(scale)))
        rows.append(("sd", block.name, term, str(prior), source))
        priors.append(prior)
    cor_prior = None
    if _has_correlations(block):
        keys = [("cor", block.name, None), ("cor", block.group, None), ("cor", None, None)]
        cor_prior, source = _pick(overrides, keys, LKJ(2.0))
        rows.append(("cor", block.name, "", str(cor_prior), source))
    return tuple(priors), cor_prior


def _has_correlations(block) -> bool:
    return block.correlated and block.num_terms > 1


def prior_keys(parts: tuple, dpars: tuple) -> list:
    """Every key a prior may be given for in this model, most general first within each class."""
    keys = []
    for part in parts:
        fixed = [name for name in part.names if name != "(Intercept)"]
        if "(Intercept)" in part.names:
            keys.append(part.intercept_class)
        if part.thresholds:
            keys += ["Intercept"] + [f"Intercept[{k}]" for k in range(1, part.thresholds + 1)]
        if fixed:
            keys += [part.b_class] + [f"{part.b_class}[{name}]" for name in fixed]
    blocks = [block for part in parts for block in part.blocks]
    if blocks:
        keys.append("sd")
        for block in blocks:
            keys += [f"sd[{block.name}]"] + [f"sd[{block.name}][{term}]" for term in block.terms]
    correlated = [block for block in blocks if _has_correlations(block)]
    if correlated:
        keys += ["cor"] + [f"cor[{block.name}]" for block in correlated]
    return keys + [dpar.name for dpar in dpars]


def _pick(overrides: dict, keys: list, default: Prior):
    for key in keys:
        if key in overrides:
            return overrides[key], "user"
    return default, "default"


def _check_overrides(parts: list, user: dict, dpars: tuple, family) -> dict:
    """Map user keys to (class, name, term), checking that each names something in the model.

    A key that matches nothing is refused, not ignored: a prior the user believes is in force but
    is not is a silent wrong answer. The message lists the keys this model has.
    """
    out = {}
    for key, prior in user.items():
        cls, name, term = parse_prior_key(key)
        if not isinstance(prior, Prior):
            raise ModelError(f"prior for {key!r} must be a hierax prior such as hx.Normal(0, 1), got {prior!r}")
        support = _SUPPORT.get(_base_class(cls)) or DPAR_SUPPORT[cls]
        if prior.support != support:
            raise ModelError(f"{key!r} needs a prior on {support} values; {prior} is on {prior.support} values")
        numbered = cls == "Intercept" and parts[0].thresholds and not term     # Intercept[k]: a threshold
        if (_base_class(cls) == "Intercept" and not numbered or cls in DPAR_SUPPORT) and (name or term):
            raise ModelError(f"{cls!r} takes no name in brackets (got {key!r}); use {cls!r}")
        problem = _unmatched(cls, name, term, parts, dpars, family)
        if problem:
            raise ModelError(f"the prior {key!r} matches nothing in this model: {problem}. Use one of the keys "
                             f"this model has: {', '.join(prior_keys(parts, dpars))}")
        out[(cls, name, term) if name or _base_class(cls) != "b" else (cls, None, None)] = prior
    return out


def _unmatched(cls, name, term, parts, dpars, family) -> str:
    """Why a parsed prior key names no parameter of the model ('' if it names one)."""
    by_class = {p.intercept_class: p for p in parts} | {p.b_class: p for p in parts}
    blocks: dict = {}
    for block in (b for p in parts for b in p.blocks):
        for key in {block.name, block.group}:            # a block is found by its name or its group's
            blocks.setdefault(key, []).append(block)
    if cls in DPAR_SUPPORT:
        if cls in {p.b_class[2:] for p in parts[1:]}:
            return (f"{cls} has a formula, so its prior is on the formula's coefficients: use "
                    f"'Intercept_{cls}' and 'b_{cls}'")
        if cls not in {d.name for d in dpars}:
            if cls == "sigma":
                return "the model has no residual sd (its family has none, or se() fixes it)"
            return (f"the {family.name} family has no parameter {cls!r} (its parameters besides the mean: "
                    f"{', '.join(family.dpar_names) or 'none'})")
        return ""
    if _base_class(cls) in ("Intercept", "b") and cls not in by_class:
        return f"{cls[cls.index('_') + 1:]!r} has no formula; give one with hx.bf(..., {cls[cls.index('_') + 1:]}='~ ...')"
    if cls == "Intercept" and parts[0].thresholds:
        count = parts[0].thresholds
        if name and name not in {str(k) for k in range(1, count + 1)}:
            return f"an ordinal model's thresholds are Intercept[1] to Intercept[{count}]"
        return ""
    if _base_class(cls) == "Intercept" and "(Intercept)" not in by_class[cls].names:
        return "the model has no fixed intercept" if cls == "Intercept" else f"the formula of {cls[10:]} has no intercept"
    fixed = set(by_class[cls].names) if cls in by_class else set()
    if _base_class(cls) == "b" and name and name not in fixed:
        return f"no fixed effect {name!r}"
    if _base_class(cls) == "b" and not name and not fixed - {"(Intercept)"}:
        return "the model has no fixed effects besides the intercept"
    if cls in ("sd", "cor") and not blocks:
        return "the model has no group terms"
    if cls in ("sd", "cor") and name and name not in blocks:
        return f"no group {name!r}"
    correlated = {key for key, group in blocks.items() if any(_has_correlations(b) for b in group)}
    if cls == "cor" and not (correlated if not name else name in correlated):
        where = f"group {name!r}" if name else "the model"
        return f"{where} has no correlated varying effects (that needs two or more terms joined by '|', not '||')"
    if term and (cls != "sd" or not any(term in b.terms for b in blocks[name])):
        return f"no varying effect {term!r} in group {name!r}"
    return ""


def explicit_priors(spec) -> dict:
    """Every prior of ``spec``, keyed as ``hx.fit`` takes them: the defaults made explicit, so a
    refit (SBC, recovery) to other data keeps these priors rather than data-scaled new ones."""
    out = {}
    for name, prior in zip(spec.fixed_names, spec.fixed_priors):
        out["Intercept" if name == "(Intercept)" else f"b[{name}]"] = prior
    for p in spec.dpar_predictors:
        for name, prior in zip(p.fixed_names, p.fixed_priors):
            written = name[len(p.dpar) + 1:]               # "sigma_x" is b_sigma[x]
            out[f"Intercept_{p.dpar}" if written == "(Intercept)" else f"b_{p.dpar}[{written}]"] = prior
    for block in spec.all_blocks:
        for term, prior in zip(block.terms, block.sd_priors):
            out[layout.sd_label(block, term)] = prior
        if block.has_cor:
            out[f"cor[{block.name}]"] = block.cor_prior
    out.update(spec.dpar_priors)
    out.update({layout.threshold_label(k): prior for k, prior in enumerate(spec.threshold_priors, 1)})
    return out


def prior_key(cls: str, group: str, coef: str) -> str:
    """The key ``hx.fit`` takes for a row (class, group, coef) of a prior table: what a saved
    fit's user priors are read back as."""
    if cls == "Intercept" and coef.startswith("Intercept["):      # an ordinal model's threshold
        return coef
    if _base_class(cls) == "b":                                    # b[x], or a formula's b_sigma[x]
        return f"{cls}[{coef}]"
    if cls == "sd":
        return f"sd[{group}][{coef}]" if coef else f"sd[{group}]"
    if cls == "cor":
        return f"cor[{group}]"
    return cls                                                     # Intercept, Intercept_sigma, a family's parameter
