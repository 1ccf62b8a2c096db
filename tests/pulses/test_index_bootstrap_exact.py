"""The index bootstrap's shortcut for complete answers gives the NaN-aware path's floats."""

from __future__ import annotations

import numpy as np
import pytest

from pulses.signals.stats import _index_of


@pytest.mark.parametrize("leaders", [3, 5, 8, 12])
@pytest.mark.parametrize("items", [1, 4, 6, 9])
def test_complete_answers_take_the_plain_reductions_to_the_same_floats(
    leaders: int, items: int
) -> None:
    rng = np.random.default_rng(leaders * 100 + items)
    for _ in range(25):
        scores = rng.integers(1, 6, size=(leaders, items)).astype(np.float64)
        picks = rng.integers(0, leaders, size=(400, leaders))
        # Bit for bit, not approximately: a report must not change by one ulp.
        assert np.array_equal(
            _index_of(scores, picks, complete=True), _index_of(scores, picks, complete=False)
        )
