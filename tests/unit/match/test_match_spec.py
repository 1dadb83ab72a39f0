"""The match spec (identity/match.py): loading and validation, person rows, decisions, edges."""

from __future__ import annotations

from pathlib import Path

import pytest

from identity.match import (
    Level,
    MatchEvidence,
    MatchSpec,
    MatchSpecError,
    ScoredPair,
    clean_address,
    clean_date,
    conflict_pairs,
    decide,
    decide_pairs,
    load_spec,
    match_edges,
    person_row,
    spec_from_dict,
)

REPO = Path(__file__).resolve().parents[3]


def test_the_shipped_spec_loads_and_empty_means_defaults() -> None:
    shipped = load_spec(REPO / "conf" / "match.yaml")
    assert shipped.rule == "model:person"
    assert spec_from_dict(None) == MatchSpec()
    assert [c.column for c in shipped.comparisons] == [c.column for c in MatchSpec().comparisons]
    assert shipped.shared == MatchSpec().shared == ["email", "phone"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"colour": 1}, "colour"),
        ({"link_threshold": 0.9, "review_threshold": 0.95}, "review_threshold: must not exceed"),
        ({"comparisons": [{"column": "x", "method": "name", "thresholds": [0.8, 0.9]}]}, "highest first"),
        ({"comparisons": [{"column": "x", "method": "exact", "thresholds": [1]}]}, "not used by method"),
        ({"blocking_rules": [["nope"]]}, "blocking_rules.0: column(s) nope"),
        ({"vetoes": ["shoe_size"]}, "vetoes: shoe_size"),
        ({"shared": ["fax"]}, "shared: fax"),
        ({"comparisons": [{"column": "d", "method": "date", "thresholds": [31], "max_edits": 1}]}, "max_edits: only"),
        ({"comparisons": [{"column": "a", "method": "exact", "postal_code": "p"}]}, "only for method 'address'"),
    ],
)
def test_bad_specs_fail_with_the_field_named(raw, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MatchSpecError, match="my.yaml") as err:
        spec_from_dict(raw, "my.yaml")
    assert message in str(err.value)


def test_unreadable_and_non_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(MatchSpecError, match="cannot read"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [", encoding="utf-8")
    with pytest.raises(MatchSpecError, match="not valid YAML"):
        load_spec(bad)


def test_restricted_to_drops_what_no_source_provides() -> None:
    spec = MatchSpec().restricted_to(["first_name", "last_name", "birth_date", "address", "postal_code"])
    assert spec.columns() == ["first_name", "last_name", "birth_date", "address", "postal_code"]
    address = next(c for c in spec.comparisons if c.column == "address")
    assert address.postal_code == "postal_code" and address.city is None
    assert all(set(r) <= set(spec.columns()) for r in spec.blocking_rules)
    assert spec.corroboration == ["birth_date"]
    with pytest.raises(MatchSpecError, match="at least 2"):
        MatchSpec().restricted_to(["first_name"])


def test_limits_only_restate_limits_the_rules_have() -> None:
    spec = spec_from_dict({"limits": {"crm_id": 2, "email": 5}})
    spec.check_limits(limited_types=["crm_id", "email"], linking_types=["crm_id", "email"])
    with pytest.raises(MatchSpecError, match="email has no limit"):
        spec.check_limits(limited_types=["crm_id"], linking_types=["crm_id", "email"])
    assert spec.limits_for(["crm_id"]) == {"crm_id": 2}


def test_person_row_cleans_and_takes_identifiers() -> None:
    row = person_row(
        {"full_name": "SMITH, Bill", "birth_date": "03/12/1984", "billing_address": "12 Oak Street, Apt 4"},
        [("email", "b@x.com"), ("email", "a@x.com"), ("phone", "+14155550100")],
        ["first_name", "last_name", "birth_date", "address", "email", "phone", "city"],
    )
    assert row == {"first_name": "william", "last_name": "smith", "birth_date": "1984-03-12",
                   "address": "12 oak st apt 4", "email": "a@x.com", "phone": "+14155550100", "city": None}
    assert clean_date("19840312") == "1984-03-12" and clean_date("twelve") is None
    assert clean_date("2003-50-10") == "2003-50-10"  # a typo keeps its shape for the edit-distance level
    assert clean_address("12 OAK ST.") == clean_address("12 Oak Street")


SPEC = MatchSpec()


def _levels(first: int = 3, birth: int = 5, email_weight: float = 0.0) -> tuple[Level, ...]:
    return (Level("first_name", first, "", 7.0 if first else -6.0), Level("birth_date", birth, "", 13.0 if birth else -5.0),
            Level("email", 4 if email_weight else -1, "", email_weight))


def test_decide_link_review_no_link_and_vetoes() -> None:
    assert decide(0.9999, SPEC, _levels()) == "link"
    assert decide(0.99, SPEC, _levels()) == "review"
    assert decide(0.5, SPEC, _levels()) == "no_link"
    assert decide(0.9999, SPEC, _levels(first=0)) == "review"  # twins: everything but the first name
    assert decide(0.9999, SPEC, _levels(birth=0)) == "review"  # parent and child of one name
    no_birth = (Level("first_name", 3, "", 7.0), Level("birth_date", -1, "", 0.0), Level("email", -1, "", 0.0))
    assert decide(0.9999, SPEC, no_birth) == "review"  # nothing but name and address agree
    assert decide(0.9999, spec_from_dict({"corroboration": []}), no_birth) == "link"


def _pair(left: str, right: str, anchors: tuple[str, str], p: float, weight: float, levels=None) -> ScoredPair:
    ev = MatchEvidence(SPEC.rule, "v1", p, weight, levels if levels is not None else _levels())
    return ScoredPair(("s", left), ("s", right), ("crm_id", anchors[0]), ("crm_id", anchors[1]), ev)


def test_match_edges_one_per_anchor_pair_strongest_evidence_order_free() -> None:
    pairs = [
        _pair("1", "2", ("A", "B"), 0.9999, 20.0),
        _pair("3", "4", ("B", "A"), 0.99999, 25.0),
        _pair("5", "6", ("A", "A"), 0.99999, 30.0),  # one anchor: nothing to join
        _pair("7", "8", ("A", "C"), 0.99, 8.0),  # review band: not an edge
    ]
    edges = match_edges(pairs, SPEC)
    assert edges == match_edges(list(reversed(pairs)), SPEC)
    assert len(edges) == 1
    edge = edges[0]
    assert (edge.a, edge.b, edge.support) == (("crm_id", "A"), ("crm_id", "B"), 2)
    assert edge.evidence == (("s", "3"), ("s", "4")) and edge.match.weight == 25.0
    assert edge.rule == "model:person"


def test_conflicts_come_from_vetoed_pairs_at_any_probability() -> None:
    pairs = [_pair("1", "2", ("B", "A"), 0.01, -20.0, _levels(first=0)), _pair("3", "4", ("A", "C"), 0.9999, 20.0)]
    assert conflict_pairs(pairs, SPEC) == [(("crm_id", "A"), ("crm_id", "B"))]


def test_uncorroborated_pairs_link_unless_a_look_alike_is_in_play() -> None:
    bare = (Level("first_name", 3, "", 7.0), Level("birth_date", -1, "", 0.0), Level("email", -1, "", 0.0))
    senior_vs_junior = (Level("first_name", 3, "", 7.0), Level("birth_date", 0, "", -5.0), Level("email", -1, "", 0.0))

    def pair(left: str, right: str, levels, p: float = 0.9999) -> ScoredPair:
        ev = MatchEvidence(SPEC.rule, "v1", p, 15.0, levels)
        return ScoredPair(("s", left), ("s", right), ("crm_id", left), ("crm_id", right), ev)

    alone = [pair("bill", "sr", bare)]
    assert decide_pairs(alone, SPEC) == ["link"]
    # the billing row resembles a senior and a junior whom their birth dates tell apart
    both = [pair("bill", "sr", bare), pair("bill", "jr", bare), pair("sr", "jr", senior_vs_junior)]
    assert decide_pairs(both, SPEC) == ["review", "review", "review"]
    assert decide_pairs(list(reversed(both)), SPEC) == ["review", "review", "review"]
    strict = spec_from_dict({"uncorroborated": "review"})
    assert decide_pairs(alone, strict) == ["review"]
    assert match_edges(alone, strict) == [] and len(match_edges(alone, SPEC)) == 1


def test_person_sources_are_the_specs_or_every_source_declaring_a_name() -> None:
    from identity.match import person_sources
    from identity.rules import load_policy
    from identity.sources import load_sources

    policy = load_policy(REPO / "conf" / "rules.yaml")
    sources = load_sources(REPO / "conf" / "sources", known_types=set(policy.types))
    # the stream declares names too: its registrations and profile changes (speed layer, docs/matching.md)
    assert [s.name for s in person_sources(sources, MatchSpec())] == ["billing", "crm", "loyalty", "store", "stream"]
    assert [s.name for s in person_sources(sources, MatchSpec(sources=["store", "crm"]))] == ["crm", "store"]
    with pytest.raises(MatchSpecError, match="unknown source.*nowhere"):
        person_sources(sources, MatchSpec(sources=["crm", "nowhere"]))
