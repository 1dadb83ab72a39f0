"""Token ranges of the speed-state scan cover the Murmur3 ring exactly once."""

from __future__ import annotations

import pytest

from batch.speed_state import MAX_TOKEN, MIN_TOKEN, token_ranges


@pytest.mark.parametrize("n", [1, 2, 7, 64])
def test_ranges_cover_the_ring_without_gaps_or_overlaps(n):
    ranges = token_ranges(n)
    assert len(ranges) == n
    assert ranges[0][0] == MIN_TOKEN and ranges[-1][1] == MAX_TOKEN
    for (_, end), (start, _) in zip(ranges, ranges[1:], strict=False):
        assert end == start  # (start, end] ranges chain: each end is the next start
    assert all(a < b for a, b in ranges)
