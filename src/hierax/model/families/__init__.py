"""Response families in a registry: a new family is one entry, with its distributional
parameters declared (:class:`~hierax.model.families.base.Dpar`), never a branch elsewhere."""

from __future__ import annotations

import difflib

from hierax.errors import ModelError
from hierax.model.families import classic, continuous, counts, ordinal
from hierax.model.families.base import Dpar, Family, Mu, gammaln
from hierax.model.links import LINKS, Link
from hierax.model.priors import StudentT

THRESHOLD_PRIOR = StudentT(3.0, 0.0, 2.5)       # brms's default for a cumulative model's Intercept[k]

FAMILIES = {**classic.FAMILIES, **continuous.FAMILIES, **counts.FAMILIES, **ordinal.FAMILIES}


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


def families_table() -> list[dict]:
    """One row per family: its response, the links of its mean, its other parameters with their
    links, their default priors (``s`` the data's scale, see ``hierax.model.prior_rules``) and its
    frequentist methods (every family is fitted by NUTS).
    The README's families table is this, kept in step by a test."""
    rows = []
    for family in FAMILIES.values():
        rows.append({
            "family": family.name,
            "response": family.response,
            "mu links": ", ".join(family.links),
            "other parameters (link)": ", ".join(_parameters(family)) or "none",
            "default priors": ", ".join(_default_priors(family)) or "none",
            # every family is fitted by NUTS; frequentist: REML/ML where the integral is exact, else Laplace
            "frequentist": "REML, ML" if family.collapsible else "Laplace (ML)",
        })
    return rows


def _parameters(family: Family) -> list:
    thresholds = ["thresholds Intercept[k] (ordered)"] if family.ordinal else []
    return thresholds + [f"{d.name} ({d.link})" for d in family.dpars]


def _default_priors(family: Family) -> list:
    thresholds = [f"Intercept[k] ~ {THRESHOLD_PRIOR}"] if family.ordinal else []
    return thresholds + [f"{d.name} ~ {_prior_rule(d)}" for d in family.dpars]


def _prior_rule(dpar: Dpar) -> str:
    """The default prior as a rule in the data's scale s: the prior at s = 1, with 's' where it scales."""
    at_one, at_ten = str(dpar.default_prior(1.0)), str(dpar.default_prior(10.0))
    return at_one if at_one == at_ten else at_one.replace("(1)", "(1 / s)")


def families_markdown() -> str:
    """:func:`families_table` as a Markdown table."""
    rows = families_table()
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(f"`{row[h]}`" if h == "family" else row[h] for h in header) + " |" for row in rows]
    return "\n".join(lines)


__all__ = ["FAMILIES", "LINKS", "Dpar", "Family", "Link", "Mu", "families_markdown", "families_table", "gammaln",
           "get_family"]
