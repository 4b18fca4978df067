"""Validated engine options: bad values fail here, with the fix, before anything compiles."""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from hierax.engines.settings import NUTSConfig
from hierax.errors import HieraxError


def _whole(name: str, value, minimum: int, example: int, maximum: int | None = None) -> int:
    """``value`` as a Python int, if it is a whole number in [minimum, maximum]; else the error.

    Whole numbers come as Python's or NumPy's integers (``np.int64(2)``, from arithmetic on
    arrays or a data frame) or as floats that are whole (``draws=1e3``, as R users write them);
    a bool is refused, though Python counts it as an int, since ``chains=True`` is a slip.
    """
    number = _as_whole(value)
    if number is None or number < minimum or (maximum is not None and number > maximum):
        bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        text = " (text: give the number itself)" if isinstance(value, str) else ""
        raise HieraxError(f"{name} must be a whole number {bounds}, got {value!r}{text}; write e.g. {name}={example}")
    return number


def _as_whole(value) -> int | None:
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


# Seeds make threefry keys of two 32-bit words, the first 0 (``hierax.engines.keys.seed_key``), and
# NumPy's generators take them too: 0 to 2**32 - 1.
MAX_SEED = 2**32 - 1
# Each level of the tree doubles the longest trajectory: depth 30 is a billion leapfrog steps per
# draw, and past it the int32 count of a draw's steps (``hierax.engines.steps.STAT_TYPES``)
# overflows. Stan's default is 10.
MAX_TREE_DEPTH = 30


# target_accept=None: 0.95, as rstanarm's default for models with group terms, raised to 0.99 if
# divergences appear late in warmup or in sampling (``hierax.engines.sample_nuts``). Stan's 0.8 is cheaper but on
# our reference models (eight schools, radon, sleepstudy, cbpp, grouseticks) it left a few
# divergent draws in one seed in three, and warmup at 0.8 met divergences on nearly all of them,
# so a rule that starts at 0.8 and escalates would rarely stay there.
AUTO_TARGET_ACCEPT = (0.95, (0.99,))
# For a collapsed model (``hierax.density.collapsed``) the sampler sees only the fixed effects and
# the variance parameters: no funnel of group effects, and Stan's 0.8 served the reference models
# (radon, sleepstudy) without divergences, with up to half again the ESS per second of 0.95. It
# still escalates if divergences appear.
COLLAPSED_TARGET_ACCEPT = (0.8, (0.95, 0.99))
# The full density takes the collapsed model's rule too where every grouping factor has at least
# MANY_LEVELS levels. Divergences at 0.8 come from the neck of the funnel, where an sd is small
# and its effects crowd together; with J levels an sd's posterior has a relative spread of about
# 1 / sqrt(2 J) (3% at J = 1,000), so the chains never go there, and automatic centring
# (``hierax.density.centering``) fits each level's own geometry. On model (a) of
# ``benchmarks/nuts_scale.py`` (bernoulli, 5,000 levels of 20 rows) 0.95 took 63 leapfrog steps a
# draw against 31 at 0.8, with no divergence at either, and at 1,000 levels 0.8 gave half again the
# smallest ESS at the same cost. Divergences still raise it.
MANY_LEVELS = 1000


def relaxed_target(spec_levels: tuple, collapsed: bool) -> bool:
    """Whether the automatic target starts at 0.8 (``COLLAPSED_TARGET_ACCEPT``): for a collapsed
    model, or where every grouping factor (``spec_levels``: their numbers of levels) has at least
    ``MANY_LEVELS``."""
    return collapsed or (bool(spec_levels) and min(spec_levels) >= MANY_LEVELS)


def automatic_for_collapsed(config: NUTSConfig) -> NUTSConfig:
    """``config`` with the collapsed model's automatic target, if the target was left automatic
    (see :func:`relaxed_target` for where it applies)."""
    if config.escalate != AUTO_TARGET_ACCEPT[1] or config.target_accept != AUTO_TARGET_ACCEPT[0]:
        return config
    target, escalate = COLLAPSED_TARGET_ACCEPT
    return dataclasses.replace(config, target_accept=target, escalate=escalate)


def nuts_config(chains=4, warmup=1000, draws=1000, target_accept=None, max_tree_depth=10) -> NUTSConfig:
    """Check NUTS options and return a frozen :class:`NUTSConfig`.

    ``target_accept=None`` is adaptive (see ``AUTO_TARGET_ACCEPT``); a number is used as given.
    """
    escalate = ()
    if target_accept is None:
        target_accept, escalate = AUTO_TARGET_ACCEPT
    return NUTSConfig(
        chains=_whole("chains", chains, 1, 4),
        warmup=_whole("warmup", warmup, 0, 1000),
        draws=_whole("draws", draws, 1, 1000),
        target_accept=_probability(target_accept),
        max_tree_depth=_whole("max_tree_depth", max_tree_depth, 1, 10, MAX_TREE_DEPTH),
        escalate=escalate,
    )


def _probability(target_accept) -> float:
    """A target acceptance rate strictly between 0 and 1, as a Python float (NumPy's floats too)."""
    real = isinstance(target_accept, numbers.Real) and not isinstance(target_accept, (bool, np.bool_))
    if not real or not 0.0 < float(target_accept) < 1.0:
        raise HieraxError(f"target_accept must be between 0 and 1 (e.g. 0.8, or 0.95 for hard posteriors), got "
                          f"{target_accept!r}; or leave it None for the automatic choice")
    return float(target_accept)


def check_seed(seed) -> int:
    """A seed is a whole number from 0 to 2**32 - 1; None draws one (and the result records it)."""
    if seed is None:
        import secrets

        return secrets.randbelow(2**31)
    return _whole("seed", seed, 0, 2026, MAX_SEED)


def check_flag(name: str, value) -> bool:
    """An on/off option: True or False (NumPy's bools, 0 and 1 too).

    Why strict: any object is truthy in Python, so ``progress="no"`` would turn the bar on.
    """
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral) and value in (0, 1)):
        return bool(value)
    raise HieraxError(f"{name} must be True or False, got {value!r}; write e.g. {name}=True")
