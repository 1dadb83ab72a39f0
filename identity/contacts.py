"""Contact history: the contacts between the company and a customer, derived from their events.

The seeds' vocabulary (omni-channel communications): a contact is **outbound** (the company
reaches out: an e-mail campaign send), **inbound** (the customer comes to the company's own
channels: a web or app session) or **assisted** (an agent is involved: a contact-center call or
chat), on a **channel** (``email``, ``web``, ``app``, ``phone``, ``chat``), at a time, about a
**topic** (the campaign, the contact reason, the landing page or screen), with the customer's
**responses** and an **outcome**.

One contact gathers the events that belong to it (:data:`RULES`, by event type):

* an e-mail campaign: the send and the customer's responses to it (open, click, unsubscribe,
  bounce), one contact per campaign;
* a web or app session: its page / screen views, login, add-to-cart and purchase, one contact
  per session id;
* a contact-center interaction: one event, one contact, its outcome as the agent recorded it
  (resolved, transferred, callback, escalated).

Events of other types (consent captures, registrations) are not contacts.

:func:`combine` is a semilattice (commutative, associative, idempotent: unit-tested), so a
contact is the same whatever the order its events come in and however often one is seen again:
the batch folds a customer's events into contacts (``batch.contacts``), and the API folds the
speed layer's newer events over the batch's contacts with the same function
(``serving.contacts``). Times are any comparable values, not mixed (epoch microseconds in the
batch, datetimes in the API). Pure Python, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DIRECTIONS = ("outbound", "inbound", "assisted")
CHANNELS = ("email", "web", "app", "phone", "chat")


@dataclass(frozen=True, slots=True)
class Rule:
    """How an event type takes part in a contact: its direction, its channel (``None``: the
    event's own channel, which must be in ``channels``), what groups its events into one contact
    (``campaign``: the campaign id; ``session``: the session id; ``event``: the event alone), and
    the customer response it records, with that response's rank (the strongest response is the
    outcome)."""

    direction: str
    group: str
    channel: str | None = None
    channels: tuple[str, ...] = ()
    response: str | None = None
    rank: int = 0


_SESSION = {"group": "session", "channels": ("web", "app")}
RULES: dict[str, Rule] = {
    "email_send": Rule("outbound", "campaign", "email"),
    "email_open": Rule("outbound", "campaign", "email", response="opened", rank=1),
    "email_click": Rule("outbound", "campaign", "email", response="clicked", rank=2),
    "email_unsubscribe": Rule("outbound", "campaign", "email", response="unsubscribed", rank=3),
    "email_bounce": Rule("outbound", "campaign", "email", response="bounced", rank=4),
    "call": Rule("assisted", "event", "phone"),
    "chat": Rule("assisted", "event", "chat"),
    "page_view": Rule("inbound", **_SESSION),
    "screen_view": Rule("inbound", **_SESSION),
    "app_open": Rule("inbound", **_SESSION),
    "login": Rule("inbound", response="signed_in", rank=1, **_SESSION),
    "add_to_cart": Rule("inbound", response="added_to_cart", rank=2, **_SESSION),
    "purchase": Rule("inbound", response="purchased", rank=3, **_SESSION),
}
GROUP_OF = {r.direction: r.group for r in RULES.values()}  # one grouping per direction
RANK = {r.response: r.rank for r in RULES.values() if r.response}
# the outcome of a contact without any response, by group (an assisted contact states its own)
NO_RESPONSE = {"campaign": "no_response", "session": "browsed", "event": "unknown"}
# the outcome of a session by its strongest response: a cart without a purchase was abandoned
SESSION_OUTCOME = {"signed_in": "signed_in", "added_to_cart": "abandoned_cart", "purchased": "purchased"}

# an attribute under any of these names (the file sources' names, then the stream's) -> its name here
_ALIASES = {
    "campaign_id": ("campaign_id",), "campaign_name": ("campaign_name",), "session_id": ("session_id",),
    "reason": ("contact_reason", "reason"), "queue": ("contact_queue", "queue"),
    "outcome": ("contact_outcome", "outcome"), "agent_id": ("agent_id",), "duration_s": ("duration_s",),
    "page": ("page",), "screen": ("screen",), "link_url": ("link_url",),
}
# details a contact keeps, by group (from its first event)
DETAILS = {"campaign": ("campaign_id", "campaign_name"), "session": ("session_id",),
           "event": ("queue", "agent_id", "duration_s")}


@dataclass(frozen=True, slots=True)
class Contact:
    """One contact. ``first`` is the ``(time, event id)`` of its first event, which gives the
    ``topic``, ``details`` and (assisted contacts) the stated outcome; ``responses`` maps each
    response to the time it was first seen."""

    contact_id: str
    direction: str
    channel: str
    group: str
    first: tuple[Any, str]
    last_at: Any
    topic: str | None = None
    stated_outcome: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)
    responses: Mapping[str, Any] = field(default_factory=dict)

    @property
    def started_at(self) -> Any:
        return self.first[0]

    @property
    def outcome(self) -> str:
        """The strongest response (a session's: :data:`SESSION_OUTCOME`), else the stated outcome
        (assisted contacts), else what no response means for its group (:data:`NO_RESPONSE`)."""
        if self.responses:
            best = max(self.responses, key=lambda r: (RANK.get(r, 0), r))
            return SESSION_OUTCOME.get(best, best) if self.group == "session" else best
        return self.stated_outcome or NO_RESPONSE[self.group]


def _attribute(attributes: Mapping[str, Any], name: str) -> str | None:
    for key in _ALIASES[name]:
        value = attributes.get(key)
        if value is not None and str(value).strip():
            return str(value)
    return None


def contact_of(event_id: str, event_type: str | None, channel: str | None, at: Any,
               attributes: Mapping[str, Any] | None) -> Contact | None:
    """The contact one event makes on its own, or ``None`` when the event is not part of a
    contact (an unknown type, a session event on another channel, no time)."""
    rule = RULES.get(event_type or "")
    if rule is None or at is None:
        return None
    attrs = attributes or {}
    where = rule.channel or channel
    if where is None or (rule.channels and where not in rule.channels):
        return None
    key = {"campaign": "campaign_id", "session": "session_id"}.get(rule.group)
    group_key = (_attribute(attrs, key) if key else None) or f"event:{event_id}"
    topic = {"campaign": _attribute(attrs, "campaign_name") or _attribute(attrs, "campaign_id"),
             "session": _attribute(attrs, "page") or _attribute(attrs, "screen"),
             "event": _attribute(attrs, "reason")}[rule.group]
    details = {name: v for name in DETAILS[rule.group] if (v := _attribute(attrs, name)) is not None}
    return Contact(
        contact_id=f"{where}:{group_key}", direction=rule.direction, channel=where, group=rule.group,
        first=(at, event_id), last_at=at, topic=topic,
        stated_outcome=_attribute(attrs, "outcome") if rule.group == "event" else None,
        details=details, responses={rule.response: at} if rule.response else {},
    )


def combine(a: Contact, b: Contact) -> Contact:
    """Two parts of one contact (same ``contact_id``) as one: the first event's topic, details and
    stated outcome (a missing topic or detail filled from the other part), the earliest time of
    each response, the latest time seen."""
    if a.contact_id != b.contact_id:
        raise ValueError(f"cannot combine contacts {a.contact_id!r} and {b.contact_id!r}")
    first, other = (a, b) if a.first <= b.first else (b, a)
    responses = dict(other.responses)
    for name, at in first.responses.items():
        responses[name] = at if name not in responses else min(at, responses[name])
    return Contact(
        contact_id=first.contact_id, direction=first.direction, channel=first.channel, group=first.group,
        first=first.first, last_at=max(a.last_at, b.last_at),
        topic=first.topic if first.topic is not None else other.topic,
        stated_outcome=first.stated_outcome if first.stated_outcome is not None else other.stated_outcome,
        details={**other.details, **first.details}, responses=responses,
    )


def fold(contacts: Iterable[Contact], into: dict[str, Contact] | None = None) -> dict[str, Contact]:
    """``into`` (or a new dict) with ``contacts`` combined in, by contact id."""
    out = {} if into is None else into
    for c in contacts:
        held = out.get(c.contact_id)
        out[c.contact_id] = c if held is None else combine(held, c)
    return out


def contacts_of(events: Iterable[Mapping[str, Any]]) -> list[Contact]:
    """The contacts of one customer's events (dicts with ``event_id``, ``type`` or
    ``event_type``, ``channel``, ``event_time``, ``attributes``), newest first (then by id)."""
    made = (contact_of(str(e["event_id"]), e.get("type", e.get("event_type")), e.get("channel"),
                       e.get("event_time"), e.get("attributes")) for e in events)
    return newest_first(fold(c for c in made if c is not None).values())


def newest_first(contacts: Iterable[Contact]) -> list[Contact]:
    """Contacts by start time, newest first, then by contact id (the table's clustering order)."""
    ordered = sorted(contacts, key=lambda c: c.contact_id)
    return sorted(ordered, key=lambda c: c.started_at, reverse=True)


def summary(contacts: Iterable[Contact]) -> dict[str, tuple[int, Any]]:
    """``direction:channel`` -> (number of contacts, start of the latest one)."""
    out: dict[str, tuple[int, Any]] = {}
    for c in contacts:
        key = f"{c.direction}:{c.channel}"
        n, last = out.get(key, (0, None))
        out[key] = (n + 1, c.started_at if last is None else max(last, c.started_at))
    return out
