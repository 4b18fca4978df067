"""Validated engine options: bad values fail here, with the fix, before anything compiles."""

from __future__ import annotations

import dataclasses

from hierax.engines.nuts import NUTSConfig
from hierax.errors import HieraxError


def _whole(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise HieraxError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return value


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


def automatic_for_collapsed(config: NUTSConfig) -> NUTSConfig:
    """``config`` with the collapsed model's automatic target, if the target was left automatic."""
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
    if isinstance(target_accept, bool) or not isinstance(target_accept, (int, float)) or not 0.0 < target_accept < 1.0:
        raise HieraxError(f"target_accept must be between 0 and 1 (e.g. 0.8, or 0.95 for hard posteriors), got {target_accept!r}")
    return NUTSConfig(
        chains=_whole("chains", chains, 1),
        warmup=_whole("warmup", warmup, 0),
        draws=_whole("draws", draws, 1),
        target_accept=float(target_accept),
        max_tree_depth=_whole("max_tree_depth", max_tree_depth, 1),
        escalate=escalate,
    )


def check_seed(seed) -> int:
    """A seed is a whole number >= 0; None draws one (and the result records it)."""
    if seed is None:
        import secrets

        return secrets.randbelow(2**31)
    return _whole("seed", seed, 0)
