"""The model's parameters: their names, declared once and read everywhere.

Three namings meet in a fit, and each is spelt here and nowhere else:

- the **position**, the pytree of unconstrained arrays a sampler moves (``POSITION``): the mean's
  fixed effects, each formula's, the family's scalar parameters on their link scales, an ordinal
  model's raw thresholds, and per block the log sds, the raw correlations and the effects'
  coordinates;
- the **parameters**, the same after constraining (``PARAMS``): values a user reads, with the sds,
  the correlations' Cholesky factors and the effects b;
- the **results**: InferenceData variables and dimensions (:func:`variable`, :func:`dims`) and the
  labels of ``summary()`` and of prior keys (:func:`sd_label`, :func:`cor_label`).

Other modules ask these names of this module (``layout.POSITION.fixed``, ``layout.variable("sd",
block)``), never spell them, so a parameter is renamed or added in one place; a test greps the
package for the literals. Which parameters a model has (its shapes, priors and constraints)
follows from its spec: ``hierax.density.logdensity.position_shapes`` builds the position from
these names.
"""

from __future__ import annotations

from typing import NamedTuple


class PositionKeys(NamedTuple):
    """Keys of the unconstrained position (a dict pytree)."""

    fixed: str = "beta"                 # (p,): the mean's fixed effects
    formula_fixed: str = "beta_dpars"   # {dpar: (p_d,)}: each formula's fixed effects (sigma ~ x)
    scalars: str = "scalars"            # {dpar: ()}: the family's scalar parameters on their link scales
    thresholds: str = "thresholds"      # (K - 1,): an ordinal model's raw thresholds (ordered transform)
    log_sd: str = "log_sd"              # {block: (q,)}
    cor_raw: str = "cor_raw"            # {block: (q (q - 1) / 2,)}
    effects: str = "z"                  # {block: (levels, q)}: the effects' coordinates (centred or not)


class ParamKeys(NamedTuple):
    """Keys of the constrained parameters (a dict pytree; the family's scalars by their own names)."""

    fixed: str = "beta"
    formula_fixed: str = "beta_dpars"
    thresholds: str = "thresholds"
    sd: str = "sd"                      # {block: (q,)}
    cor_chol: str = "cor_chol"          # {block: (q, q)}: Cholesky factor of the correlation matrix
    effects: str = "b"                  # {block: (levels, q)}: the group-level deviations


POSITION = PositionKeys()
PARAMS = ParamKeys()
RESIDUAL_SD = "sigma"       # the residual sd's dpar: se() fixes it, REML profiles it, lme4 prints it as Residual

# InferenceData variables: "beta", "beta_<dpar>", the scalars by name, "thresholds", and per block
# "sd_<block>", "cor_<block>", "b_<block>"
_VARIABLE_PREFIX = {"sd": "sd_", "cor": "cor_", "effects": "b_", "fixed": "beta_"}
FIXED_VARIABLE = "beta"
FIXED_DIM = "fixed"
THRESHOLDS_VARIABLE = "thresholds"
THRESHOLD_DIM = "threshold"


def variable(kind: str, block=None, dpar: str | None = None) -> str:
    """The posterior variable of ``kind`` ("sd", "cor", "effects" of ``block``; "fixed" of the
    mean, or of ``dpar``'s formula)."""
    if kind == "fixed":
        return FIXED_VARIABLE if dpar is None else _VARIABLE_PREFIX["fixed"] + dpar
    return _VARIABLE_PREFIX[kind] + _name(block)


def fixed_dim(dpar: str | None = None) -> str:
    """The dimension of the mean's fixed effects, or of ``dpar``'s formula's."""
    return FIXED_DIM if dpar is None else f"{FIXED_DIM}_{dpar}"


def term_dim(block) -> str:
    return f"{_name(block)}__term"


def level_dim(block) -> str:
    return f"{_name(block)}__level"


def pair_dim(block) -> str:
    return f"{_name(block)}__pair"


def sd_label(block, term: str) -> str:
    """``sd[g][x]``: as summary() and prior keys name a block's sd."""
    return f"sd[{block.label}][{term}]"


def cor_label(block, first: str, second: str) -> str:
    return f"cor[{block.label}][{first},{second}]"


def effect_label(block, level, term: str) -> str:
    return f"b[{block.label}][{level}][{term}]"


def threshold_label(k: int) -> str:
    """An ordinal model's k-th threshold (from 1), as brms names it."""
    return f"Intercept[{k}]"


def _name(block) -> str:
    return block if isinstance(block, str) else block.name
