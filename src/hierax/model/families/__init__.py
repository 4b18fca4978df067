"""Response families in a registry: a new family is one entry, with its distributional
parameters declared (:class:`~hierax.model.families.base.Dpar`), never a branch elsewhere."""

from __future__ import annotations

import difflib

from hierax.errors import ModelError
from hierax.model.families import classic, continuous, counts
from hierax.model.families.base import Dpar, Family, Mu, gammaln
from hierax.model.links import LINKS, Link

FAMILIES = {**classic.FAMILIES, **continuous.FAMILIES, **counts.FAMILIES}


def get_family(name: str, link: str | None = None) -> tuple[Family, Link]:
    """Look up a family and the link of its mean by name, e.g. ``get_family("bernoulli", "probit")``.

    Raises
    ------
    ModelError
        Listing the known families (with the nearest name), or the links the family allows.
    """
    if not isinstance(name, str) or name.lower() not in FAMILIES:
        close = difflib.get_close_matches(str(name).lower(), FAMILIES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ModelError(f"unknown family {name!r}; {hint}known families: {', '.join(FAMILIES)}")
    family = FAMILIES[name.lower()]
    link = family.default_link if link is None else link
    if link not in family.links:
        raise ModelError(f"family {family.name!r} has no link {link!r}; allowed: {', '.join(family.links)}")
    return family, LINKS[link]


__all__ = ["FAMILIES", "LINKS", "Dpar", "Family", "Link", "Mu", "gammaln", "get_family"]
