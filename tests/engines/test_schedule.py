"""Stan's warm-up schedule and the pieces the NUTS engine cuts it into."""

import numpy as np
import pytest

from hierax.engines.schedule import last_slow_window, pieces, retune_points, slow_window_ends, warmup_schedule


def test_pieces_of_stans_default_warmup():
    schedule = warmup_schedule(1000)
    assert schedule.shape == (1000, 2)
    # a fast buffer of 75, slow windows of 25, 50, 100, 200 and 500, a fast buffer of 50
    assert slow_window_ends(schedule) == [100, 150, 250, 450, 950]
    assert np.all(schedule[:75, 0] == 0) and np.all(schedule[950:, 0] == 0)
    assert retune_points(schedule) == (150, 250)   # the second retune after the first window of 100
    assert last_slow_window(schedule) == (450, 950)
    assert pieces(1000, (150, 250), (450, 950)) == [(0, 150), (150, 250), (250, 450), (450, 950), (950, 1000)]
    assert pieces(1000, (), None) == [(0, 1000)]


@pytest.mark.parametrize("warmup, retune, last", [
    (2000, (150, 250), (850, 1950)),   # as at 1,000
    (500, (150,), (250, 450)),  # four slow windows: once, at the second's end
    (300, (150,), (150, 250)),  # three: the second's end
    (250, (100,), (100, 200)),  # two slow windows: the retune after the first
    (150, (), (75, 100)),       # one slow window, after the fast buffer of 75: no room to retune
    (100, (), (15, 90)),        # Stan's buffers shrink to 15% and 10% below 150 iterations
    (10, (), None),             # all fast
])
def test_short_warmups(warmup, retune, last):
    schedule = warmup_schedule(warmup)
    assert retune_points(schedule) == retune
    assert last_slow_window(schedule) == last
