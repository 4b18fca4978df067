"""Engines: take functions and arrays, return draws or optima. No formulas, no data frames.

Each method of fitting is registered by name in :data:`hierax.api.ENGINES` (nuts, reml, ml,
laplace, map): the entry names the function that composes the model with its engine, what it
returns and which of ``fit``'s arguments it takes. The table lives there rather than here because
the composing functions build the model, which an engine never imports.
"""

from hierax.engines.nuts import NUTSConfig, NUTSOutput, sample_nuts

__all__ = ["NUTSConfig", "NUTSOutput", "sample_nuts"]
