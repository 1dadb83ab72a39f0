"""The one alias-following semantics (identity.aliases.follow), checked against the identity
core's own state on merge chains, and on cycles, missing rows and over-long chains."""

from __future__ import annotations

import random

import pytest

from identity.aliases import MAX_ALIAS_HOPS, UcidRecord, follow


def _lookup(records: dict[str, UcidRecord]):
    seen: list[str] = []

    def get(u: str) -> UcidRecord | None:
        seen.append(u)
        return records.get(u)

    get.seen = seen  # type: ignore[attr-defined]
    return get


def test_a_live_ucid_is_itself_in_one_lookup():
    get = _lookup({"A": UcidRecord("live")})
    f = follow("A", get)
    assert (f.ucid, f.chain, f.outcome) == ("A", (), "live") and get.seen == ["A"]


def test_a_merge_chain_leads_to_the_survivor_with_the_chain_walked():
    records = {"A": UcidRecord("merged", "B"), "B": UcidRecord("merged", "C"), "C": UcidRecord("live", None, 7)}
    f = follow("A", _lookup(records))
    assert (f.ucid, f.chain, f.outcome, f.record.minted_at) == ("C", ("A", "B"), "live", 7)


def test_a_cycle_is_refused_not_looped():
    records = {"A": UcidRecord("merged", "B"), "B": UcidRecord("merged", "A")}
    get = _lookup(records)
    f = follow("A", get)
    assert (f.ucid, f.outcome) == (None, "cycle") and len(get.seen) == 2
    assert follow("S", _lookup({"S": UcidRecord("merged", "S")})).outcome == "cycle"


def test_missing_rows_retired_and_broken_chains_find_no_one():
    assert follow("X", _lookup({})).outcome == "missing"
    assert follow("A", _lookup({"A": UcidRecord("merged", "GONE")})).outcome == "broken"
    assert follow("A", _lookup({"A": UcidRecord("merged", None)})).outcome == "broken"
    assert follow("A", _lookup({"A": UcidRecord("weird")})).outcome == "broken"
    f = follow("A", _lookup({"A": UcidRecord("merged", "B"), "B": UcidRecord("retired")}))
    assert (f.ucid, f.chain, f.outcome) == (None, ("A",), "retired")


def test_the_hop_limit_is_one_and_bounds_the_lookups():
    n = MAX_ALIAS_HOPS + 3
    records = {f"U{i}": UcidRecord("merged", f"U{i + 1}") for i in range(n)}
    records[f"U{n}"] = UcidRecord("live")
    get = _lookup(records)
    assert follow("U0", get).outcome == "too_long" and len(get.seen) == MAX_ALIAS_HOPS + 1
    assert follow("U0", _lookup(records), max_hops=n).ucid == f"U{n}"


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_agrees_with_the_core_state_on_random_merges(seed):
    """Every UCID the core's State knows resolves the same through ``follow`` over rows built
    the way the writers build them (status + merged_into of each UCID)."""
    from identity.ucids import State

    rng = random.Random(seed)
    print(f"seed={seed}")
    state = State()
    live = [f"U{i}" for i in range(30)]
    for i, u in enumerate(live):
        state.minted_at[u] = i
    rows = {u: UcidRecord("live") for u in live}
    for _ in range(20):  # merges: a loser (and everything merged into it) goes into a survivor
        loser, survivor = rng.sample(sorted(u for u in live), 2)
        live.remove(loser)
        for alias, target in list(state.aliases.items()):
            if target == loser:
                state.aliases[alias] = survivor
        state.aliases[loser] = survivor
        rows[loser] = UcidRecord("merged", survivor)  # writers record only the direct survivor
    retired = rng.choice(live)
    state.retired.add(retired)
    rows[retired] = UcidRecord("retired")
    for u in list(state.minted_at) + ["UNKNOWN"]:
        assert follow(u, rows.get, max_hops=40).ucid == state.canonical(u), u
