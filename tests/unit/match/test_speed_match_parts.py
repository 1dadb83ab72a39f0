"""Pure parts of real-time scoring: block keys, which records are person rows, and the decision
joining two live UCIDs by a model edge."""

from __future__ import annotations

from pathlib import Path

from identity.match import block_keys, carries_person, keeps_person_row, load_spec, person_row
from identity.rules import load_policy
from identity.stitch import UcidView, link_ucids

REPO = Path(__file__).resolve().parents[3]
SPEC = load_spec(REPO / "conf" / "match.yaml")
POLICY = load_policy(REPO / "conf" / "rules.yaml")


def test_block_keys_one_per_rule_whose_columns_all_hold_a_value() -> None:
    row = person_row({"first_name": "Bill", "last_name": "O'Neil", "birth_date": "03/12/1984", "postal_code": "02 139"},
                     [("email", "b@x.org")], SPEC.columns())
    keys = block_keys(row, SPEC)
    assert keys == sorted(keys)
    assert "first_name+last_name=william\x1foneil" in keys  # cleaned values: nickname folded, punctuation gone
    assert "birth_date+postal_code=1984-03-12\x1f02139" in keys
    assert "email=b@x.org" in keys
    assert not any(k.startswith(("address=", "phone=")) for k in keys)  # no value: no key
    # two rows share a key exactly when a blocking rule pairs them
    other = person_row({"first_name": "William", "last_name": "oneil"}, [], SPEC.columns())
    assert set(block_keys(other, SPEC)) & set(keys) == {"first_name+last_name=william\x1foneil"}
    assert block_keys(person_row({}, [("email", "b@x.org")], SPEC.columns()), SPEC) == ["email=b@x.org"]


def test_an_event_is_a_person_row_only_with_a_name() -> None:
    named = person_row({"full_name": "SMITH, Anna"}, [], SPEC.columns())
    bare = person_row({}, [("email", "a@b.org")], SPEC.columns())
    assert carries_person(named) and not carries_person(bare)
    assert keeps_person_row("event", named) and not keeps_person_row("event", bare)
    assert keeps_person_row("profile", bare)  # profile sources: every record, as before


def test_a_model_link_merges_into_the_older_ucid_under_the_models_limits() -> None:
    old, new = UcidView(1, {"crm_id": 1, "email": 1}), UcidView(5, {"crm_id": 1})
    views = {"UA": new, "UB": old}
    assert link_ucids("UA", "UB", views, POLICY).refused  # crm_id limit 1 in the rules
    got = link_ucids("UA", "UB", views, POLICY, SPEC.limits_for(POLICY.limits()))  # crm_id: 2 for the model
    assert (got.survivor, got.loser, got.refused) == ("UB", "UA", None)
    assert link_ucids("UA", "UB", views, POLICY, {"crm_id": 2}, conflict=True).refused.startswith("conflict")
    assert link_ucids("UA", "UA", views, POLICY).loser is None
    big = {"UA": UcidView(1, {"cookie_id": 30}), "UB": UcidView(2, {"cookie_id": 19, "email": 2})}
    assert "max_cluster_identifiers" in link_ucids("UA", "UB", big, POLICY, {"crm_id": 2}).refused


def test_an_exact_link_still_attaches_to_a_customer_the_model_joined_beyond_a_rule_limit() -> None:
    """A UCID holding two CRM ids (two CRM registrations the model joined, limit 2 for its
    edges): a login with a new device and one of those CRM ids attaches, as in the batch (where
    the exact edge comes before the model's); a third CRM id is still refused."""
    from identity.records import Record, normalize_record
    from identity.stitch import StitchView, stitch

    view = StitchView({("crm_id", "C1"): "U1"}, {"U1": UcidView(1, {"crm_id": 2, "email": 1})})
    login, _ = normalize_record(Record("stream", "e1", (("crm_id", "C1"), ("device_id", "d-1"))), POLICY)
    got = stitch(login, view, POLICY)
    assert (got.kind, got.ucid, got.assign, got.refused) == ("attach", "U1", ((("device_id", "d-1"), "U1"),), ())
    other, _ = normalize_record(Record("stream", "e2", (("crm_id", "C1"), ("crm_id", "C3"))), POLICY)
    assert stitch(other, view, POLICY).refused


def test_real_time_scoring_does_not_link_through_a_record_withholding_a_shared_identifier() -> None:
    """Jane's store registration arrives on the stream with John's e-mail: the stitcher has put it
    on John's UCID (exact rules) before the model scores it. The model finds it to be Jane
    (candidates John's and Jane's CRM rows, from the blocking index). The batch withholds the
    e-mail, re-anchors the registration and links it to Jane; the speed layer cannot take it off
    John's UCID, and linking it to Jane there would merge John and Jane: the pair is left to the
    next batch run. Without the withholding the same pair is linked (the old decision)."""
    from types import SimpleNamespace

    from identity.match import Level, MatchEvidence, MatchSpec, probability_of
    from identity.records import Record, normalize_record
    from infra.match.decision import decide_scored
    from infra.match.predict import Scored
    from speed.matching import candidate_identifiers, real_time_pairs

    spec = MatchSpec()
    family = ("email", "family@smith-home.org")
    household = (Level("first_name", 0, "else", -6.2), Level("last_name", 4, "exact", 7.5),
                 Level("birth_date", -1, "missing", 0.0), Level("address", 4, "same address", 13.3),
                 Level("email", 4, "exact", 13.5), Level("phone", -1, "missing", 0.0))
    same = (Level("first_name", 4, "exact", 7.7), Level("last_name", 4, "exact", 7.5),
            Level("birth_date", 5, "exact", 13.5), Level("address", 4, "same address", 13.3),
            Level("email", -1, "missing", 0.0), Level("phone", -1, "missing", 0.0))
    apart = household[:4] + (Level("email", 0, "else", -3.5), household[5])

    def scored(left: int, right: int, levels: tuple, values: dict) -> Scored:
        weight = round(-14.4 + sum(lvl.weight for lvl in levels), 4)
        ev = MatchEvidence("model:person", "v1", probability_of(weight), weight, levels)
        return Scored(left, right, ev.probability, ev.weight, levels,
                      tuple((lvl.comparison, *values.get(lvl.comparison, (None, None))) for lvl in levels))

    event, _ = normalize_record(Record("stream", "reg-1", (family,)), POLICY)
    assert event.identifiers == (family,)
    # the candidates as the index holds them: anchor and person map (the e-mail column included)
    john = candidate_identifiers(("crm_id", "JOHN"), {"first_name": "john", "email": family[1]}, spec)
    jane = candidate_identifiers(("crm_id", "JANE"), {"first_name": "jane", "email": "jane@smith-home.org"}, spec)
    assert john == (("crm_id", "JOHN"), family)
    assert candidate_identifiers(("_record", "billing:B1"), {"first_name": "x"}, spec) == ()
    keys = [("stream", "reg-1"), ("crm", "JOHN"), ("crm", "JANE")]
    anchors = [event.anchor, ("crm_id", "JOHN"), ("crm_id", "JANE")]
    rows = [scored(0, 1, household, {"email": (family[1], family[1])}), scored(0, 2, same, {}),
            scored(1, 2, apart, {})]
    model = SimpleNamespace(spec=spec, version="v1")
    trust = {"stream": 8, "crm": 1}
    fresh = {("stream", "reg-1")}

    plain = decide_scored(rows, keys, anchors, model, 3, 3)
    linked, left_over = real_time_pairs(plain, fresh)
    assert [(p.left, p.right) for p in linked] == [(("stream", "reg-1"), ("crm", "JANE"))] and left_over == 0

    got = decide_scored(rows, keys, anchors, model, 3, 3, [event.identifiers, john, jane], trust)
    assert got.withheld == {("stream", "reg-1"): frozenset({family})}  # the batch's word on this record
    linked, left_over = real_time_pairs(got, fresh)
    assert linked == [] and left_over == 1
