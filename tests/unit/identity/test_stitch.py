"""Speed-layer stitching: decisions one record at a time, and agreement with the batch layer."""

from __future__ import annotations

from identity.records import Record, normalize_record
from identity.rules import compile_rules, rules_from_dict
from identity.stitch import StitchView, UcidView, apply_stitch, stitch, view_of
from identity.ucids import State, mint_ucid

POLICY = compile_rules(
    rules_from_dict({"types": {"crm_id": {"priority": 1, "limit": 1}, "email": {"priority": 2, "limit": 2},
                               "cookie_id": {"priority": 3}}})
)


def rec(rid: str, **ids: str) -> Record:
    return Record("s", rid, tuple(ids.items()))


def run(state: State, record: Record, now: int, policy=POLICY):
    norm, _ = normalize_record(record, policy)
    decision = stitch(norm, view_of(state, norm.identifiers or (norm.anchor,)), policy)
    apply_stitch(state, decision, now)
    return decision


# property tests of stitching (agreement with the batch layer) live in test_identity_properties.py


def test_new_attach_unchanged_merge() -> None:
    state = State()
    d1 = run(state, rec("1", crm_id="c1", email="a@x.com"), 1)
    assert d1.kind == "new" and d1.minted == (d1.ucid,) and d1.ucid == mint_ucid(("crm_id", "C1"))
    d2 = run(state, rec("2", email="a@x.com", cookie_id="k1"), 2)
    assert (d2.kind, d2.ucid, d2.assign) == ("attach", d1.ucid, ((("cookie_id", "k1"), d1.ucid),))
    assert run(state, rec("3", email="a@x.com"), 3).kind == "unchanged"
    d4 = run(state, rec("4", email="b@x.com"), 4)
    d5 = run(state, rec("5", email="b@x.com", cookie_id="k1"), 5)
    assert (d5.kind, d5.ucid, d5.aliases) == ("merge", d1.ucid, ((d4.ucid, d1.ucid),))
    assert state.aliases == {d4.ucid: d1.ucid} and set(state.ucid_of.values()) == {d1.ucid}
    assert [link.rule for link in d5.evidence] == ["email~cookie_id"]


def test_refused_link_and_orphan_identifier() -> None:
    state = State()
    d1 = run(state, rec("1", crm_id="c1", email="a@x.com"), 1)
    d2 = run(state, rec("2", crm_id="c2", email="a@x.com"), 2)
    assert d2.kind == "new" and d2.ucid != d1.ucid
    assert [r.reason for r in d2.refused] == ["limit crm_id: 2 > 1"]
    assert state.ucid_of[("email", "a@x.com")] == d1.ucid
    # a third e-mail breaks the e-mail limit of c1's customer: the new e-mail gets its own UCID
    run(state, rec("3", crm_id="c1", email="b@x.com"), 3)
    d4 = run(state, rec("4", crm_id="c1", email="c@x.com"), 4)
    assert d4.kind == "unchanged" and d4.ucid == d1.ucid
    assert len(d4.minted) == 1 and d4.assign == ((("email", "c@x.com"), d4.minted[0]),)


def test_minting_skips_issued_ids() -> None:
    norm, _ = normalize_record(rec("1", email="a@x.com"), POLICY)
    taken = mint_ucid(("email", "a@x.com"))
    decision = stitch(norm, StitchView({}, {}, {taken}), POLICY)
    assert decision.ucid == mint_ucid(("email", "a@x.com"), 1)


def test_view_counts_drive_the_limits() -> None:
    norm, _ = normalize_record(rec("1", crm_id="c9", email="z@x.com"), POLICY)
    view = StitchView({("email", "z@x.com"): "U1"}, {"U1": UcidView(1, {"crm_id": 1, "email": 1})})
    decision = stitch(norm, view, POLICY)
    assert decision.kind == "new" and decision.refused[0].reason == "limit crm_id: 2 > 1"
