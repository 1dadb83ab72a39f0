"""Computed traits and segments (identity/segments.py): the shipped conf/segments.yaml, the
evaluator table by table, facts independent of order and of how they are split between layers
(hypothesis), and clear errors for bad YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identity.consents import Statement, load_vocabulary
from identity.segments import (
    DAY_MS,
    EventFact,
    SegmentConfigError,
    decode_trait,
    definitions_from_text,
    dump_facts,
    encode_trait,
    evaluate,
    facts_of,
    load_definitions,
    load_facts,
    merge_facts,
    traits_of,
)

CONF = Path(__file__).resolve().parents[3] / "conf"
V = load_vocabulary(CONF / "consents.yaml")
D = load_definitions(CONF / "segments.yaml", V)
NOW = 20_460 * DAY_MS + 12 * 3_600_000  # noon of a day


def ev(i: int, type_: str, days_ago: float, channel: str = "web", amount: float | None = None, **attrs: str) -> EventFact:
    return EventFact(f"e{i}", type_, channel, int(NOW - days_ago * DAY_MS), amount, attrs)


def test_the_shipped_file_loads_with_traits_and_segments() -> None:
    assert 5 <= len(D.traits) <= 8
    assert 4 <= len(D.segments) <= 6


def test_traits_of_a_customer() -> None:
    events = [ev(1, "purchase", 100, amount=80.10), ev(2, "purchase", 10, amount=40.25), ev(3, "page_view", 2),
              ev(4, "app_open", 1, "app"), ev(5, "screen_view", 1, "app"), ev(6, "screen_view", 0.1, "app"),
              ev(7, "call", 5, "contact_center", outcome="resolved"),
              ev(8, "chat", 3, "contact_center", outcome="escalated"), ev(9, "email_open", 40, "email")]
    t = traits_of(D, facts_of(D, events), NOW)
    assert t["lifetime_spend"] == 120.35
    assert t["orders"] == 2 and t["orders_90d"] == 1
    assert t["days_since_last_contact"] == 0
    assert t["preferred_channel"] == "app"
    assert t["support_contacts_30d"] == 2
    assert t["last_support_outcome"] == "escalated"
    assert t["email_engagement_30d"] == 0


def test_a_customer_without_events_has_zeros_and_nones() -> None:
    t = traits_of(D, {}, NOW)
    assert t["lifetime_spend"] == 0 and t["orders"] == 0
    assert t["days_since_last_contact"] is None and t["preferred_channel"] is None


def test_segments() -> None:
    opt_in = Statement("marketing", "email", "opt_in", "consents", NOW - DAY_MS, "consent")
    rich_lapsed = facts_of(D, [ev(1, "purchase", 200, amount=150.0), ev(2, "call", 1, "contact_center",
                                                                        outcome="callback")])
    got = evaluate(D, V, rich_lapsed, {}, [opt_in], NOW)
    assert got.segments == {"high_value", "lapsing", "reachable_by_email", "needs_attention"}
    app_user = facts_of(D, [ev(1, "app_open", 3, "app"), ev(2, "screen_view", 3, "app"), ev(3, "page_view", 2)])
    assert evaluate(D, V, app_user, {}, [], NOW).segments == {"app_first"}
    # the window moves with `now`: 90 days after the last purchase the buyer is lapsing
    buyer = facts_of(D, [ev(1, "purchase", 10, amount=20.0)])
    assert evaluate(D, V, buyer, {}, [], NOW).segments == frozenset()
    assert evaluate(D, V, buyer, {}, [], NOW + 80 * DAY_MS).segments == {"lapsing"}


def test_the_window_counts_whole_utc_days_today_included() -> None:
    defs = definitions_from_text(
        "traits:\n  n:\n    aggregate: count\n    within_days: 2\n"
        "segments:\n  s:\n    when: {trait: n, gte: 1}\n")
    today = NOW // DAY_MS * DAY_MS
    facts = facts_of(defs, [EventFact("a", "x", "web", today - 1, None, {}),      # yesterday, last ms
                            EventFact("b", "x", "web", today - DAY_MS - 1, None, {})])  # two days ago
    assert traits_of(defs, facts, NOW)["n"] == 1


def test_attribute_and_combinations() -> None:
    defs = definitions_from_text(
        "traits:\n  n:\n    aggregate: count\n"
        "segments:\n  s:\n    when:\n      any:\n        - {attribute: city, eq: Lyon}\n"
        "        - not: {trait: n, lt: 2}\n")
    one = facts_of(defs, [EventFact("a", "x", "web", NOW, None, {})])
    assert evaluate(defs, V, one, {"city": "Lyon"}, [], NOW).segments == {"s"}
    assert evaluate(defs, V, one, {"city": "Paris"}, [], NOW).segments == frozenset()


EVENTS = st.lists(st.tuples(st.sampled_from(["purchase", "call", "chat", "app_open", "email_open", "page_view"]),
                            st.sampled_from(["web", "app", "email", "contact_center"]),
                            st.floats(0, 200), st.floats(0, 999), st.sampled_from(["resolved", "callback"])),
                  max_size=40)


@settings(max_examples=200, deadline=None)
@given(EVENTS, st.randoms(use_true_random=False), st.integers(0, 40))
def test_facts_do_not_depend_on_order_nor_on_the_split_between_layers(raw, rnd, cut) -> None:
    events = [ev(i, t, days, ch, round(amount, 2), outcome=o) for i, (t, ch, days, amount, o) in enumerate(raw)]
    whole = traits_of(D, facts_of(D, events), NOW)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    batch, speed = shuffled[:cut], shuffled[cut:]
    # the batch's facts go through Cassandra as JSON, the speed layer adds its own on top
    merged = merge_facts(D, load_facts(dump_facts(facts_of(D, batch))), facts_of(D, speed))
    assert traits_of(D, merged, NOW) == whole
    assert traits_of(D, facts_of(D, shuffled), NOW) == whole


def test_an_event_is_counted_once() -> None:
    e = ev(1, "purchase", 1, amount=10.0)
    assert traits_of(D, facts_of(D, [e, e]), NOW)["orders"] == 1


def test_trait_values_round_trip_as_text() -> None:
    for value in (None, 0, 12.5, "app"):
        assert decode_trait(encode_trait(value)) == value


@pytest.mark.parametrize(("text", "message"), [
    ("traits: [\n", "not valid YAML"),
    ("- a\n", "expected a mapping"),
    ("traits:\n  x:\n    aggregate: bogus\nsegments:\n  s:\n    when: {trait: x, eq: 1}\n",
     "(line 3): field 'traits.x.aggregate'"),
    ("traits:\n  x:\n    aggregate: count\nsegments:\n  s:\n    when: {trait: y, eq: 1}\n",
     "segments.s: unknown trait 'y'"),
    ("traits:\n  x:\n    aggregate: count\nsegments:\n  s:\n    when: {trait: x, eq: 1, gt: 2}\n",
     "(line 6): field 'segments.s.when': Value error, a trait condition has exactly one operator"),
    ("traits:\n  x:\n    aggregate: top\nsegments:\n  s:\n    when: {trait: x, eq: 1}\n",
     "aggregate 'top' needs 'field'"),
    ("traits:\n  x:\n    aggregate: count\n    colour: red\nsegments:\n  s:\n    when: {trait: x, eq: 1}\n",
     "field 'traits.x.colour': Extra inputs are not permitted"),
    ("traits:\n  x:\n    aggregate: count\nsegments:\n  s:\n    when: {consent: marketing/fax, allowed: true}\n",
     "unknown channel 'fax'"),
])
def test_bad_yaml_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(SegmentConfigError) as err:
        definitions_from_text(text, "segments.yaml", V)
    assert str(err.value).startswith("segments.yaml")
    assert message.replace("Value error, ", "") in str(err.value)
