"""The sampler's options as a plain record, apart from the sampler: what validates them
(``hierax.config``) and what stores them with a fit need not import BlackJAX (a quarter of a
second of every start, for REML and Laplace fits that never sample)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NUTSConfig:
    """Options of the sampler (validated by ``hierax.config``).

    ``escalate``: target acceptance rates to move to, in turn, while divergent transitions appear
    late in warmup or in sampling (see :class:`_Driver`).
    """

    chains: int = 4
    warmup: int = 1000
    draws: int = 1000
    target_accept: float = 0.8
    max_tree_depth: int = 10
    chunk: int = 100
    escalate: tuple = ()
