"""Stan's warm-up schedule, and where the NUTS engine cuts it.

BlackJAX's ``build_schedule`` gives Stan's windows as (stage, window_end) rows: stage 0 a fast
window (step size only), 1 a slow one (step size and metric), ``window_end`` true on a window's
last step. The engine (:mod:`hierax.engines.nuts`) runs warm-up in pieces so that it can act
between them: change coordinates (a retune) after an early slow window, and count the divergent
transitions of the last slow window, whose rate predicts sampling's.
"""

from __future__ import annotations

import numpy as np
from blackjax.adaptation.window_adaptation import build_schedule


def warmup_schedule(warmup: int) -> np.ndarray:
    """(warmup, 2) int32 rows of (stage, window_end)."""
    return np.asarray(build_schedule(warmup), dtype=np.int32).reshape(-1, 2)


def retune_index(schedule: np.ndarray) -> int | None:
    """Where warmup may change coordinates: the end of the third slow window when two slow
    windows follow it (Stan's 1,000-iteration warmup: at 250, after its first window of 100),
    else the end of the second when one follows, else of the first of two; None for warmups too
    short to adapt twice.

    Why the third: the retune centres the levels that the window's variances say are well
    informed (:mod:`hierax.density.centering`), and 50 iterations per chain underestimate the
    variance of a slowly mixing sd. On grouseticks, the second window (50 iterations) measured
    a posterior sd of log sd_LOCATION of 0.22 to 0.49 where the draws give 0.8, and at one seed
    in eight two LOCATION levels were centred, which funnelled at the smallest sds: divergent
    transitions in sampling and an escalation to target 0.99 that doubled the time (3 seeds of
    16). From the third window (100 iterations): no LOCATION level centred and no escalation in
    16 seeds, ESS per second 8% lower on average (benchmarks/README.md, session 8).
    """
    slow_ends = [i + 1 for i, (stage, end) in enumerate(schedule) if stage == 1 and end]
    if len(slow_ends) >= 5:
        return slow_ends[2]
    if len(slow_ends) >= 3:
        return slow_ends[1]
    if len(slow_ends) == 2:
        return slow_ends[0]
    return None


def last_slow_window(schedule: np.ndarray) -> tuple[int, int] | None:
    """(start, end) of the last slow window: the one whose divergences predict sampling's.

    Only slow windows are marked where they end; the first starts after the initial fast buffer.
    """
    slow_rows = np.flatnonzero(schedule[:, 0] == 1)
    ends = [i + 1 for i, (stage, end) in enumerate(schedule) if stage == 1 and end]
    if not ends:
        return None
    starts = [int(slow_rows[0])] + ends[:-1]
    return starts[-1], ends[-1]


def pieces(total: int, cut: int | None, window: tuple[int, int] | None) -> list[tuple[int, int]]:
    """Warmup's (start, end) pieces: cut at the retune point and around the last slow window."""
    bounds = sorted({0, total} | ({cut} if cut else set()) | (set(window) if window else set()))
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
