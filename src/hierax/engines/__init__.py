"""Engines: take functions and arrays, return draws or optima. No formulas, no data frames."""

from hierax.engines.nuts import NUTSConfig, NUTSOutput, sample_nuts

__all__ = ["NUTSConfig", "NUTSOutput", "sample_nuts"]
