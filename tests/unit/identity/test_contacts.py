"""The contact-history model: which events make which contact, and that combining parts of a
contact does not depend on their order or on an event seen twice."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from identity import contacts as c


def _ev(event_id, type_, at, channel=None, **attributes):
    return {"event_id": event_id, "type": type_, "channel": channel, "event_time": at, "attributes": attributes}


def test_a_campaign_is_one_outbound_contact_with_its_strongest_response_as_outcome():
    events = [_ev("e1", "email_send", 10, "email", campaign_id="CMP1", campaign_name="Spring"),
              _ev("e2", "email_open", 20, "email", campaign_id="CMP1"),
              _ev("e3", "email_click", 30, "email", campaign_id="CMP1"),
              _ev("e4", "email_open", 25, "email", campaign_id="CMP1"),  # a second open: first time kept
              _ev("e5", "email_send", 40, "email", campaign_id="CMP2")]
    made = c.contacts_of(events)
    assert [x.contact_id for x in made] == ["email:CMP2", "email:CMP1"]  # newest first
    spring = made[1]
    assert (spring.direction, spring.channel, spring.topic) == ("outbound", "email", "Spring")
    assert spring.responses == {"opened": 20, "clicked": 30}
    assert spring.outcome == "clicked" and spring.started_at == 10 and spring.last_at == 30
    assert spring.details == {"campaign_id": "CMP1", "campaign_name": "Spring"}
    assert made[0].outcome == "no_response"


def test_a_bounce_outranks_every_other_response():
    made = c.contacts_of([_ev("a", "email_send", 1, campaign_id="K"), _ev("b", "email_open", 2, campaign_id="K"),
                          _ev("c", "email_bounce", 3, campaign_id="K")])
    assert made[0].outcome == "bounced"


def test_contact_center_interactions_are_assisted_with_the_stated_outcome_and_reason():
    made = c.contacts_of([
        _ev("IX1", "call", 5, "contact_center", contact_reason="billing_question", contact_queue="billing",
            contact_outcome="callback", agent_id="AG1001", duration_s="300"),
        # the stream's names for the same fields
        _ev("IX2", "chat", 9, "contact_center", reason="payment", queue="billing", outcome="resolved"),
    ])
    chat, call = made
    assert (call.contact_id, call.direction, call.channel) == ("phone:event:IX1", "assisted", "phone")
    assert (call.topic, call.outcome) == ("billing_question", "callback")
    assert call.details == {"queue": "billing", "agent_id": "AG1001", "duration_s": "300"}
    assert (chat.channel, chat.topic, chat.outcome) == ("chat", "payment", "resolved")


def test_a_session_is_one_inbound_contact_per_channel_and_an_unbought_cart_is_abandoned():
    made = c.contacts_of([
        _ev("w1", "page_view", 1, "web", session_id="S1", page="/offers"),
        _ev("w2", "add_to_cart", 2, "web", session_id="S1", page="/cart"),
        _ev("a1", "app_open", 3, "app", session_id="S2", screen="home"),
        _ev("a2", "login", 4, "app", session_id="S2"),
        _ev("a3", "purchase", 5, "app", session_id="S2"),
        _ev("x", "page_view", 6, "email", session_id="S3"),  # a session event off web / app: no contact
    ])
    assert {(x.contact_id, x.direction, x.topic, x.outcome) for x in made} == {
        ("web:S1", "inbound", "/offers", "abandoned_cart"), ("app:S2", "inbound", "home", "purchased")}


def test_events_that_are_not_contacts_make_none():
    assert c.contacts_of([_ev("k", "consent_change", 1, "web"), _ev("u", "login", None, "web"),
                          _ev("v", "mystery", 1, "web")]) == []


def test_an_event_without_its_group_key_is_a_contact_of_its_own():
    made = c.contacts_of([_ev("p1", "page_view", 1, "web"), _ev("p2", "page_view", 2, "web")])
    assert sorted(x.contact_id for x in made) == ["web:event:p1", "web:event:p2"]


def test_summary_counts_contacts_and_their_latest_start_per_direction_and_channel():
    made = c.contacts_of([_ev("a", "email_send", 1, campaign_id="A"), _ev("b", "email_send", 7, campaign_id="B"),
                          _ev("c", "call", 3, "contact_center")])
    assert c.summary(made) == {"outbound:email": (2, 7), "assisted:phone": (1, 3)}


_TYPES = ["email_send", "email_open", "email_click", "email_bounce", "email_unsubscribe", "page_view", "login",
          "purchase", "add_to_cart", "call"]
_event = st.builds(
    lambda i, t, at, campaign, outcome: _ev(f"e{i}", t, at, "web", campaign_id=campaign, session_id=campaign,
                                            outcome=outcome),
    st.integers(0, 5), st.sampled_from(_TYPES), st.integers(0, 50), st.sampled_from(["A", "B"]),
    st.sampled_from([None, "resolved"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(_event, max_size=12), st.randoms(use_true_random=False))
def test_contacts_do_not_depend_on_event_order_or_repeats(events, rng: random.Random):
    # an event id names one event: keep the first of each id, as a delivered event never changes
    unique = list({e["event_id"]: e for e in reversed(events)}.values())
    shuffled = unique + rng.sample(unique, k=len(unique) // 2)  # some seen twice
    rng.shuffle(shuffled)
    assert c.contacts_of(shuffled) == c.contacts_of(unique)


@settings(max_examples=200, deadline=None)
@given(st.lists(_event, min_size=1, max_size=12))
def test_folding_in_parts_equals_folding_at_once(events):
    # the API's lambda merge: the batch's contacts, then the speed layer's newer events over them
    unique = list({e["event_id"]: e for e in events}.values())
    cut = len(unique) // 2
    whole = c.contacts_of(unique)
    batch = {x.contact_id: x for x in c.contacts_of(unique[:cut])}
    merged = c.fold(c.contacts_of(unique[cut:]), into=batch)
    assert c.newest_first(merged.values()) == whole
