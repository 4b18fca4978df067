"""Engines: take functions and arrays, return draws or optima. No formulas, no data frames.

Each method of fitting is registered by name in :data:`hierax.api.ENGINES` (nuts, reml, ml,
laplace, map): the entry names the function that composes the model with its engine, what it
returns and which of ``fit``'s arguments it takes. The table lives there rather than here because
the composing functions build the model, which an engine never imports.
"""

import importlib

from hierax.engines.settings import NUTSConfig

__all__ = ["NUTSConfig", "NUTSOutput", "sample_nuts"]


def __getattr__(name: str):
    """The sampler's names load on first use: importing BlackJAX costs a quarter of a second that
    a REML or Laplace fit does not need."""
    if name in ("NUTSOutput", "sample_nuts"):
        return getattr(importlib.import_module("hierax.engines.nuts"), name)
    raise AttributeError(f"module 'hierax.engines' has no attribute {name!r}")
