"""The index bootstrap's shortcuts (complete answers, its interval's percentiles) give the
floats of the general computations."""

from __future__ import annotations

import numpy as np
import pytest

from pulses.signals.stats import _index_of, _percentiles


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


@pytest.mark.parametrize("size", [1, 2, 3, 41, 400, 1000, 1999])
def test_the_intervals_percentiles_are_numpys_to_the_last_bit(size: int) -> None:
    rng = np.random.default_rng(size)
    for _ in range(50):
        # Indices on a 1-5 scale tie often; a bootstrap's values do too.
        values = np.round(rng.normal(60, 15, size), int(rng.integers(0, 3)))
        expected = np.percentile(values, [2.5, 97.5]).tolist()
        assert _percentiles(values, (2.5, 97.5)) == expected
