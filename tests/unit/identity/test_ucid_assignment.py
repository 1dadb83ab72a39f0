"""Stable UCIDs across runs: keep, merge into aliases, split, retire, mint without reuse."""

from __future__ import annotations

import re

from identity.records import Record
from identity.resolve import resolve
from identity.rules import compile_rules, rules_from_dict
from identity.types import RECORD_TYPE
from identity.ucids import UCID_PATTERN, State, mint_ucid, mint_unique

TYPES = {
    "crm_id": {"priority": 1, "limit": 1},
    "email": {"priority": 2, "limit": 2},
    "cookie_id": {"priority": 3},
}
POLICY = compile_rules(rules_from_dict({"types": TYPES}))


def rec(rid: str, **ids: str) -> Record:
    return Record("s", rid, tuple(ids.items()))


def test_minted_ucids_are_opaque_and_deterministic() -> None:
    ucid = mint_ucid(("email", "a@x.com"))
    assert re.fullmatch(UCID_PATTERN, ucid)
    assert ucid == mint_ucid(("email", "a@x.com")) != mint_ucid(("email", "a@x.com"), 1)
    assert mint_unique(("email", "a@x.com"), {ucid}) == mint_ucid(("email", "a@x.com"), 1)
    records = [rec("1", crm_id="c1", email="a@x.com"), rec("2", cookie_id="k")]
    assert resolve(records, POLICY, now=1).assignment == resolve(records[::-1], POLICY, now=7).assignment


def test_unchanged_cluster_keeps_its_ucid_while_others_change() -> None:
    first = resolve([rec("1", crm_id="c1"), rec("2", email="b@x.com")], POLICY, now=1)
    second = resolve(
        [rec("1", crm_id="c1"), rec("2", email="b@x.com"), rec("3", email="b@x.com", cookie_id="k")],
        POLICY, first.state, now=2,
    )
    assert second.assignment[("s", "1")] == first.assignment[("s", "1")]
    assert second.assignment[("s", "2")] == second.assignment[("s", "3")] == first.assignment[("s", "2")]
    assert second.events == []  # growing a customer is not a merge


def test_merge_earliest_minted_survives_and_others_become_aliases() -> None:
    r1, r2, r3 = rec("1", crm_id="c1", email="a@x.com"), rec("2", email="b@x.com", cookie_id="k"), rec(
        "3", email="a@x.com", cookie_id="k"
    )
    t1 = resolve([r1], POLICY, now=1)
    t2 = resolve([r1, r2], POLICY, t1.state, now=2)
    old, young = t2.assignment[("s", "1")], t2.assignment[("s", "2")]
    assert old != young and t2.state.minted_at[old] < t2.state.minted_at[young]
    t3 = resolve([r1, r2, r3], POLICY, t2.state, now=3)
    assert set(t3.assignment.values()) == {old}
    assert t3.state.aliases == {young: old}
    assert t3.state.canonical(young) == old
    [event] = t3.events
    assert (event.kind, event.old_ids, event.new_id) == ("merge", (old, young), old)
    # the evidence chain joins the two previous customers through record 3
    assert ("s", "3") in {ev for edge in event.evidence for ev in edge.evidence}
    assert event.rule


def test_alias_chains_collapse_to_the_live_ucid() -> None:
    a, b, c = rec("a", email="a@x.com"), rec("b", email="b@x.com"), rec("c", cookie_id="k")
    t1 = resolve([a], POLICY, now=1)
    t2 = resolve([a, b], POLICY, t1.state, now=2)
    t3 = resolve([a, b, c], POLICY, t2.state, now=3)
    ua, ub, uc = (t3.assignment[("s", x)] for x in "abc")
    t4 = resolve([a, b, c, rec("bc", email="b@x.com", cookie_id="k")], POLICY, t3.state, now=4)
    assert t4.state.aliases == {uc: ub}
    t5 = resolve([a, b, c, rec("bc", email="b@x.com", cookie_id="k"), rec("ab", email="a@x.com", cookie_id="k")],
                 POLICY, t4.state, now=5)
    assert t5.state.aliases == {uc: ua, ub: ua}  # uc no longer points at the merged-away ub


def test_split_part_with_the_earliest_identifier_keeps_the_ucid() -> None:
    t1 = resolve([rec("1", email="a@x.com")], POLICY, now=1)
    ucid = t1.assignment[("s", "1")]
    t2 = resolve([rec("1", email="a@x.com", crm_id="c1")], POLICY, t1.state, now=2)
    assert t2.assignment[("s", "1")] == ucid
    # the link disappears: the e-mail was seen first, so it keeps the UCID although crm_id sorts first
    t3 = resolve([rec("1", email="a@x.com"), rec("2", crm_id="c1")], POLICY, t2.state, now=3)
    assert t3.assignment[("s", "1")] == ucid
    new = t3.assignment[("s", "2")]
    assert new != ucid and new not in t2.state.minted_at
    [event] = t3.events
    assert (event.kind, event.old_ids, event.new_id, event.rule) == ("split", (ucid,), new, "links gone")


def test_split_by_a_tightened_limit_names_the_refused_link() -> None:
    records = [rec("1", crm_id="c1", email="a@x.com"), rec("2", crm_id="c1", email="b@x.com")]
    t1 = resolve(records, POLICY, now=1)
    assert len(set(t1.assignment.values())) == 1
    strict = compile_rules(rules_from_dict({"types": {**TYPES, "email": {"priority": 2, "limit": 1}}}))
    t2 = resolve(records, strict, t1.state, now=2)
    [event] = t2.events
    assert event.kind == "split" and event.rule == "refused: limit email: 2 > 1"
    assert [e.rule for e in event.evidence] == ["crm_id~email"]
    # the customer (crm c1) keeps its UCID: both records still anchor on c1
    assert set(t2.assignment.values()) == set(t1.assignment.values())


def test_retired_ucids_are_never_reused() -> None:
    t1 = resolve([rec("1", email="a@x.com")], POLICY, now=1)
    ucid = t1.assignment[("s", "1")]
    t2 = resolve([], POLICY, t1.state, now=2)
    assert [(e.kind, e.old_ids) for e in t2.events] == [("retire", (ucid,))]
    assert t2.state.canonical(ucid) is None and ucid in t2.state.minted_at
    t3 = resolve([rec("1", email="a@x.com")], POLICY, t2.state, now=3)
    assert t3.assignment[("s", "1")] == mint_ucid(("email", "a@x.com"), 1) != ucid


def test_retiring_a_ucid_retires_its_aliases() -> None:
    a, b = rec("a", email="a@x.com"), rec("b", email="b@x.com")
    t1 = resolve([a, b], POLICY, now=1)
    t2 = resolve([a, b, rec("ab", email="a@x.com", cookie_id="k"), rec("ba", email="b@x.com", cookie_id="k")],
                 POLICY, t1.state, now=2)
    assert len(t2.state.aliases) == 1
    t3 = resolve([], POLICY, t2.state, now=3)
    assert t3.state.aliases == {} and t3.state.live() == set()
    [event] = t3.events
    assert event.kind == "retire" and len(event.old_ids) == 2
    assert t3.state.retired == set(event.old_ids)
    assert all(t3.state.canonical(u) is None for u in event.old_ids)


def test_a_record_without_identifiers_is_its_own_stable_customer() -> None:
    records = [rec("1", email="junk"), rec("2", email="a@x.com")]
    t1 = resolve(records, POLICY, now=1)
    assert t1.stats["records_without_identifiers"] == 1
    assert (RECORD_TYPE, "s:1") in t1.state.ucid_of
    assert len(t1.rejections) == 1 and t1.rejections[0].record_id == "1"
    t2 = resolve(records, POLICY, t1.state, now=2)
    assert t2.assignment == t1.assignment


def test_state_round_trips_through_json_form() -> None:
    t1 = resolve([rec("1", crm_id="c1", email="a@x.com"), rec("2", cookie_id="k")], POLICY, now=1)
    assert State.from_dict(t1.state.to_dict()) == t1.state
