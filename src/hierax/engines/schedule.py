"""Stan's warm-up schedule, and where the NUTS engine cuts it.

BlackJAX's ``build_schedule`` gives Stan's windows as (stage, window_end) rows: stage 0 a fast
window (step size only), 1 a slow one (step size and metric), ``window_end`` true on a window's
last step. The engine (:mod:`hierax.engines.nuts`) runs warm-up in pieces so that it can act
between them: pool the chains' metrics at each slow window's end, change coordinates (a retune)
after early slow windows, and count the divergent transitions of the last slow window, whose rate
predicts sampling's.
"""

from __future__ import annotations

import numpy as np
from blackjax.adaptation.window_adaptation import build_schedule


def warmup_schedule(warmup: int) -> np.ndarray:
    """(warmup, 2) int32 rows of (stage, window_end)."""
    return np.asarray(build_schedule(warmup), dtype=np.int32).reshape(-1, 2)


def fast_schedule(warmup: int) -> np.ndarray:
    """(warmup, 2) int32 rows of one fast window that never ends: the step size adapts, the metric
    stays as it was given (a warm start's warmup). A window's end would make the metric the
    window's estimate, and a fast window estimates none."""
    return np.zeros((warmup, 2), dtype=np.int32)


def retune_points(schedule: np.ndarray) -> tuple[int, ...]:
    """Where warmup changes coordinates: at the ends of the second and third slow windows when
    two slow windows follow the third (Stan's 1,000-iteration warmup: at 150 and 250), else at
    the end of the second when one follows, else of the first of two; none for warmups too short
    to adapt twice.

    Why twice: the first retune centres the levels that a window of 50 iterations says are well
    informed (:mod:`hierax.density.centering`), and 50 iterations per chain underestimate the
    spread of a slowly mixing sd: on grouseticks the second window measured a posterior sd of
    log sd_LOCATION of 0.22 to 0.49 where the draws give 0.8, and at one seed in eight two of
    LOCATION's weakly informed levels were centred, which funnelled at the smallest sds
    (divergent transitions in sampling, an escalation to target 0.99, twice the time). The
    second retune looks again with the window of 100 iterations and moves such levels back. A
    single retune at 250 instead centred fewer of BROOD's levels, which kept the step smaller
    (benchmarks/README.md, session 8: ESS per second over 16 seeds, mean 67 with both, 53 with
    the first alone, 48 with the second alone).
    """
    slow_ends = slow_window_ends(schedule)
    if len(slow_ends) >= 5:
        return (slow_ends[1], slow_ends[2])
    if len(slow_ends) >= 3:
        return (slow_ends[1],)
    if len(slow_ends) == 2:
        return (slow_ends[0],)
    return ()


def slow_window_ends(schedule: np.ndarray) -> list[int]:
    """Where each slow window ends (the row after its last), in order: where the engine pools the
    chains' metric estimates (:func:`hierax.engines.nuts._pooled`)."""
    return [i + 1 for i, (stage, end) in enumerate(schedule) if stage == 1 and end]


def last_slow_window(schedule: np.ndarray) -> tuple[int, int] | None:
    """(start, end) of the last slow window: the one whose divergences predict sampling's.

    Only slow windows are marked where they end; the first starts after the initial fast buffer.
    """
    slow_rows = np.flatnonzero(schedule[:, 0] == 1)
    ends = slow_window_ends(schedule)
    if not ends:
        return None
    starts = [int(slow_rows[0])] + ends[:-1]
    return starts[-1], ends[-1]


def pieces(total: int, cuts: tuple[int, ...], window: tuple[int, int] | None) -> list[tuple[int, int]]:
    """Warmup's (start, end) pieces: cut at ``cuts`` (the retune points and the slow windows'
    ends) and around the last slow window."""
    bounds = sorted({0, total} | set(cuts) | (set(window) if window else set()))
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
