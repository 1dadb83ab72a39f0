"""A shared e-mail or phone between two person records the model finds to be different people:
who withholds it from exact linking, the re-anchoring, and the end result in the clustering."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

from identity.match import (
    Level,
    MatchEvidence,
    MatchSpec,
    ScoredPair,
    anchor_without,
    clearly_different,
    probability_of,
    weight_without,
    withheld_identifiers,
)
from identity.records import Record, normalize_record, withhold
from identity.resolve import resolve
from identity.rules import compile_rules, rules_from_dict
from infra.match.decision import decide_scored, kept
from infra.match.predict import Scored

SPEC = MatchSpec()
POLICY = compile_rules(rules_from_dict({
    "types": {"crm_id": {"priority": 1, "limit": 1}, "billing_account": {"priority": 2, "limit": 3},
              "email": {"priority": 4, "limit": 3}, "phone": {"priority": 5, "limit": 3}},
    "max_cluster_identifiers": 20,
}))
TRUST = {"crm": 1, "billing": 2, "store": 9}
FAMILY = ("email", "family@example.net")

# levels: other first name (a veto), same surname and address, no birth date, same e-mail
HOUSEHOLD = (Level("first_name", 0, "else", -6.2), Level("last_name", 4, "exact", 7.5),
             Level("birth_date", -1, "missing", 0.0), Level("address", 4, "same address", 13.3),
             Level("email", 4, "exact", 13.5), Level("phone", -1, "missing", 0.0))
# one person: a first-name typo (a veto too), but surname, address and phone agree besides the e-mail
TYPO = (Level("first_name", 0, "else", -6.2), Level("last_name", 4, "exact", 7.5),
        Level("birth_date", -1, "missing", 0.0), Level("address", 4, "same address", 13.3),
        Level("email", 4, "exact", 13.5), Level("phone", 3, "exact", 14.7))
SAME = (Level("first_name", 4, "exact", 7.7), Level("last_name", 4, "exact", 7.5),
        Level("birth_date", 5, "exact", 13.5), Level("address", 4, "same address", 13.3),
        Level("email", -1, "missing", 0.0), Level("phone", -1, "missing", 0.0))
PRIOR = -14.4


def evidence(levels: tuple[Level, ...]) -> MatchEvidence:
    weight = round(PRIOR + sum(lvl.weight for lvl in levels), 4)
    return MatchEvidence("model:person", "v1", probability_of(weight), weight, levels)


def pair(left: tuple[str, str], right: tuple[str, str], levels: tuple[Level, ...]) -> ScoredPair:
    return ScoredPair(left, right, ("_record", ":".join(left)), ("_record", ":".join(right)), evidence(levels))


def test_clearly_different_needs_a_veto_and_no_support_without_the_shared_identifier() -> None:
    assert clearly_different(evidence(HOUSEHOLD), SPEC, "email")
    assert not clearly_different(evidence(TYPO), SPEC, "email")  # the phone still says one person
    assert clearly_different(evidence(TYPO), SPEC, "email") is False
    no_veto = tuple(lvl if lvl.comparison != "first_name" else Level("first_name", 4, "exact", 7.7)
                    for lvl in HOUSEHOLD)
    assert not clearly_different(evidence(no_veto), SPEC, "email")
    assert abs(weight_without(evidence(HOUSEHOLD), "email") - (PRIOR - 6.2 + 7.5 + 13.3)) < 1e-9
    assert weight_without(evidence(HOUSEHOLD), "phone") == evidence(HOUSEHOLD).weight  # no agreement to take off
    assert abs(probability_of(0.0) - 0.5) < 1e-12 and probability_of(-2000.0) == 0.0


STORE, CRM, BILLING = ("store", "S1"), ("crm", "C1"), ("billing", "B1")


def test_the_record_no_other_holder_supports_yields_the_shared_identifier() -> None:
    # John's CRM and billing rows agree with each other; Jane's store row gives John's e-mail
    pairs = [pair(STORE, CRM, HOUSEHOLD), pair(STORE, BILLING, HOUSEHOLD), pair(CRM, BILLING, SAME)]
    ids = {STORE: [FAMILY, ("phone", "+15550001")], CRM: [("crm_id", "C1"), FAMILY], BILLING: [FAMILY]}
    for order in itertools.permutations(pairs):
        assert withheld_identifiers(order, ids, SPEC, TRUST) == {STORE: frozenset({FAMILY})}
    # the same records, no shared type configured: nothing is withheld
    assert withheld_identifiers(pairs, ids, SPEC.model_copy(update={"shared": []}), TRUST) == {}


def test_a_typo_in_the_first_name_does_not_withhold() -> None:
    pairs = [pair(STORE, CRM, TYPO), pair(STORE, BILLING, TYPO), pair(CRM, BILLING, SAME)]
    ids = {STORE: [FAMILY], CRM: [FAMILY], BILLING: [FAMILY]}
    assert withheld_identifiers(pairs, ids, SPEC, TRUST) == {}


def test_two_holders_in_conflict_the_less_trusted_source_yields_equal_trust_keeps_the_link() -> None:
    ids = {STORE: [FAMILY], CRM: [FAMILY]}
    assert withheld_identifiers([pair(STORE, CRM, HOUSEHOLD)], ids, SPEC, TRUST) == {STORE: frozenset({FAMILY})}
    other = ("crm", "C2")
    ids = {other: [FAMILY], CRM: [FAMILY]}
    assert withheld_identifiers([pair(other, CRM, HOUSEHOLD)], ids, SPEC, TRUST) == {}


def test_withholding_re_anchors_the_record() -> None:
    norm, _ = normalize_record(Record("store", "S1", (("email", "family@example.net"), ("phone", "+1 650 253 0000"))),
                               POLICY)
    assert norm.anchor == FAMILY and len(norm.identifiers) == 2
    moved = withhold(norm, frozenset({FAMILY}))
    assert moved.identifiers == (norm.identifiers[1],) and moved.anchor == norm.identifiers[1]
    alone = withhold(moved, frozenset(moved.identifiers))
    assert alone.identifiers == () and alone.anchor == ("_record", "store:S1")
    assert anchor_without(("store", "S1"), norm.identifiers, {FAMILY}) == moved.anchor
    assert anchor_without(("store", "S1"), [FAMILY], {FAMILY}) == ("_record", "store:S1")


def scored(left: int, right: int, levels: tuple[Level, ...], values: dict[str, tuple]) -> Scored:
    ev = evidence(levels)
    return Scored(left, right, ev.probability, ev.weight, levels,
                  tuple((lvl.comparison, *values.get(lvl.comparison, (None, None))) for lvl in levels))


def test_decide_scored_and_resolve_put_the_store_row_with_its_own_person() -> None:
    # rows: 0 Jane's store row (John's e-mail), 1 John's CRM, 2 Jane's CRM
    keys = [("store", "S1"), ("crm", "JOHN"), ("crm", "JANE")]
    records = [Record("store", "S1", (("email", "family@example.net"),)),
               Record("crm", "JOHN", (("crm_id", "JOHN"), ("email", "family@example.net"))),
               Record("crm", "JANE", (("crm_id", "JANE"), ("email", "jane@example.net")))]
    norms = [normalize_record(r, POLICY)[0] for r in records]
    family = {"email": ("family@example.net", "family@example.net")}
    rows = [scored(0, 1, HOUSEHOLD, family), scored(0, 2, SAME, {}),
            scored(1, 2, HOUSEHOLD[:4] + (Level("email", 0, "else", -3.5), HOUSEHOLD[5]), {})]
    assert all(kept(s, SPEC) for s in rows)
    model = SimpleNamespace(spec=SPEC, version="v1")
    anchors = [n.anchor for n in norms]
    ids = [n.identifiers for n in norms]

    plain = decide_scored(rows, keys, anchors, model, 3, 3)  # without identifiers: the old decision
    assert plain.withheld == {} and plain.stats["records_withholding"] == 0
    exact_only = resolve(records, POLICY, match_edges=plain.edges, conflicts=plain.conflicts)
    assert exact_only.assignment[("store", "S1")] == exact_only.assignment[("crm", "JOHN")]

    got = decide_scored(rows, keys, anchors, model, 3, 3, ids, {"store": 9, "crm": 1})
    assert got.withheld == {("store", "S1"): frozenset({FAMILY})}
    assert [(e.a, e.b) for e in got.edges] == [(("_record", "store:S1"), ("crm_id", "JANE"))]
    assert (("_record", "store:S1"), ("crm_id", "JOHN")) in got.conflicts
    result = resolve(records, POLICY, match_edges=got.edges, conflicts=got.conflicts, withheld=got.withheld)
    assert result.assignment[("store", "S1")] == result.assignment[("crm", "JANE")]
    assert result.assignment[("store", "S1")] != result.assignment[("crm", "JOHN")]
    assert result.stats["records_withholding"] == 1


def test_a_low_pair_sharing_an_identifier_is_kept_for_the_decision() -> None:
    low = scored(0, 1, (Level("first_name", 1, "jw", -4.0), Level("email", 4, "exact", 13.5)),
                 {"email": ("a@b.net", "a@b.net")})
    assert low.probability < SPEC.review_threshold and kept(low, SPEC)
    assert not kept(scored(0, 1, low.levels, {"email": ("a@b.net", "c@d.net")}), SPEC)


def test_two_groups_on_one_phone_the_larger_or_more_trusted_group_owns_it() -> None:
    # one phone: Justin's billing and store rows agree, Christina's CRM and billing rows agree,
    # across the two groups the model sees different people
    phone = ("phone", "+16502530000")
    justin, justin_store = ("billing", "J1"), ("store", "J2")
    chris, chris_billing = ("crm", "C1"), ("billing", "C2")
    ids = {k: [phone] for k in (justin, justin_store, chris, chris_billing)}
    pairs = [pair(justin, justin_store, SAME), pair(chris, chris_billing, SAME)]
    pairs += [pair(a, b, HOUSEHOLD) for a in (justin, justin_store) for b in (chris, chris_billing)]
    spec = SPEC.model_copy(update={"shared": ["phone"]})
    swap = {"phone": Level("phone", 3, "exact", 14.7), "email": Level("email", -1, "missing", 0.0)}
    household = tuple(swap.get(lvl.comparison, lvl) for lvl in HOUSEHOLD)  # the phone agrees, nothing else
    pairs = [p if p.evidence.levels is not HOUSEHOLD else ScoredPair(p.left, p.right, p.left_anchor, p.right_anchor,
                                                                      evidence(household)) for p in pairs]
    want = {justin: frozenset({phone}), justin_store: frozenset({phone})}  # equal size: the CRM is more trusted
    for order in itertools.permutations(pairs):
        assert withheld_identifiers(order, ids, spec, TRUST) == want
    # a third record of Justin's: his group is now the larger one
    extra = ("store", "J3")
    ids[extra] = [phone]
    more = pairs + [pair(extra, justin, SAME), pair(extra, justin_store, SAME)]
    more += [ScoredPair(extra, b, extra, b, evidence(household)) for b in (chris, chris_billing)]
    assert withheld_identifiers(more, ids, spec, TRUST) == {chris: frozenset({phone}), chris_billing: frozenset({phone})}
