"""Survivorship rules: source priority, most recent, most frequent; deterministic tie-breaks."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identity.rules import SurvivorshipConfig
from identity.survivorship import Candidate, survive, survive_profile


def test_source_priority_wins_then_recency() -> None:
    cands = [Candidate("Bob", 2, 10), Candidate("Robert", 1, 1), Candidate("Rob", 1, 5)]
    assert survive(cands, "source_priority") == "Rob"


def test_most_recent_wins_then_source_priority() -> None:
    cands = [Candidate("a", 3, "2024-01-02"), Candidate("b", 1, "2024-01-01"), Candidate("c", 2, "2024-01-02")]
    assert survive(cands, "most_recent") == "c"
    assert survive([Candidate("a", 1, None), Candidate("b", 1, 0)], "most_recent") == "b"  # no time = oldest


def test_most_frequent_wins_then_recency() -> None:
    cands = [Candidate("x", 1, 1), Candidate("y", 2, 2), Candidate("y", 2, 3), Candidate("x", 3, 4)]
    assert survive(cands, "most_frequent") == "x"  # 2 vs 2, x seen last
    assert survive(cands + [Candidate("y", 3, 0)], "most_frequent") == "y"


def test_blanks_never_win_and_empty_is_none() -> None:
    assert survive([Candidate(None, 1, 9), Candidate("", 1, 9), Candidate("v", 5, 1)], "source_priority") == "v"
    assert survive([], "most_recent") is None


def test_full_ties_fall_back_to_the_smallest_value() -> None:
    cands = [Candidate("b", 1, 1), Candidate("a", 1, 1)]
    for rule in ("source_priority", "most_recent", "most_frequent"):
        assert survive(cands, rule) == "a"
        assert survive(cands[::-1], rule) == "a"


def test_unknown_rule_is_an_error() -> None:
    with pytest.raises(ValueError):
        survive([Candidate("a", 1)], "loudest")  # type: ignore[arg-type]


def test_profile_uses_the_rule_per_attribute() -> None:
    config = SurvivorshipConfig(default="most_recent", attributes={"name": "source_priority"})
    profile = survive_profile(
        {
            "name": [Candidate("Ann", 1, 1), Candidate("Anne", 2, 9)],
            "city": [Candidate("Paris", 1, 1), Candidate("Lyon", 2, 9)],
            "empty": [Candidate(None, 1, 1)],
        },
        config,
    )
    assert profile == {"name": "Ann", "city": "Lyon"}


candidates = st.lists(
    st.builds(Candidate, st.sampled_from(["a", "b", "c", None]), st.integers(1, 3), st.integers(0, 3) | st.none()),
    max_size=8,
)


@settings(deadline=None, max_examples=200)
@given(candidates, st.sampled_from(["source_priority", "most_recent", "most_frequent"]), st.randoms())
def test_result_does_not_depend_on_candidate_order(cands, rule, rnd: random.Random) -> None:
    shuffled = cands[:]
    rnd.shuffle(shuffled)
    assert survive(cands, rule) == survive(shuffled, rule)
