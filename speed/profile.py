"""Real-time profile summaries, updated incrementally and idempotently.

A UCID's speed profile is one :class:`Shard` per Kafka partition that saw its events. A shard
has exactly one writer (the consumer owning that partition) and records ``applied_offset``, the
last offset it includes: :func:`apply_event` ignores an event at or below it, so an event is
counted once however often it is replayed. Readers merge the shards (:func:`merge_shards`) and
get last seen, per-channel and per-type counters, last contact per channel, consents and
preferences (latest event time wins), a bounded recent-events timeline and computed traits.

Consents: a ``consent_change`` event's attributes (except ``capture_channel``) are consent
categories -> value (``opt_in`` / ``opt_out``); ``email_unsubscribe`` sets
``marketing_email = opt_out``. Preferences: a ``preference_change`` event's attributes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from speed.contract import Event, utc_iso

NOT_CONSENTS = frozenset({"capture_channel"})


@dataclass(slots=True)
class Shard:
    """One partition's part of a UCID's speed profile. Times are epoch milliseconds."""

    applied_offset: int = -1
    first_seen: int | None = None
    last_seen: int | None = None
    event_count: int = 0
    channel_counts: dict[str, int] = field(default_factory=dict)
    type_counts: dict[str, int] = field(default_factory=dict)
    last_contact: dict[str, int] = field(default_factory=dict)
    consents: dict[str, str] = field(default_factory=dict)
    consent_times: dict[str, int] = field(default_factory=dict)
    preferences: dict[str, str] = field(default_factory=dict)
    spend: float = 0.0
    last_purchase: int | None = None
    last_cart: int | None = None
    recent: list[str] = field(default_factory=list)  # JSON objects, newest first


def amount_of(event: Event) -> float | None:
    value = event.attributes.get("amount")
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def consent_changes(event: Event) -> dict[str, str]:
    """The consents an event sets (empty for most events)."""
    if event.type == "consent_change":
        return {k: str(v) for k, v in event.attributes.items() if k not in NOT_CONSENTS and v is not None}
    if event.type == "email_unsubscribe":
        return {"marketing_email": "opt_out"}
    return {}


def apply_event(shard: Shard, event: Event, offset: int, recent_n: int) -> bool:
    """Add one event to ``shard`` (in place); False, and no change, if ``offset`` is already in."""
    if offset <= shard.applied_offset:
        return False
    shard.applied_offset = offset
    t = event.time_ms
    shard.first_seen = t if shard.first_seen is None else min(shard.first_seen, t)
    shard.last_seen = t if shard.last_seen is None else max(shard.last_seen, t)
    shard.event_count += 1
    shard.channel_counts[event.channel] = shard.channel_counts.get(event.channel, 0) + 1
    shard.type_counts[event.type] = shard.type_counts.get(event.type, 0) + 1
    shard.last_contact[event.channel] = max(shard.last_contact.get(event.channel, t), t)
    for name, value in consent_changes(event).items():
        if t >= shard.consent_times.get(name, -1):
            shard.consents[name] = value
            shard.consent_times[name] = t
    if event.type == "preference_change":
        for name, value in event.attributes.items():
            if value is not None:
                shard.preferences[name] = str(value)
    if event.type == "purchase":
        shard.spend += amount_of(event) or 0.0
        shard.last_purchase = max(shard.last_purchase or t, t)
    if event.type == "add_to_cart":
        shard.last_cart = max(shard.last_cart or t, t)
    item = json.dumps(
        {"t": event.event_time, "id": event.event_id, "type": event.type, "channel": event.channel},
        separators=(",", ":"),
    )
    shard.recent.append(item)
    shard.recent.sort(key=lambda s: (json.loads(s)["t"], s), reverse=True)
    del shard.recent[recent_n:]
    return True


def merge_shards(shards: list[Shard], recent_n: int = 20) -> dict[str, Any]:
    """One speed profile from a UCID's shards (and those of its aliases), with traits:
    ``lifetime_spend``, ``purchases``, ``preferred_channel`` (most events; ties by name),
    ``last_channel``, ``open_cart`` (an add-to-cart after the last purchase) and
    ``email_engagement`` (opens + clicks per e-mail sent)."""
    channels: dict[str, int] = {}
    types: dict[str, int] = {}
    last_contact: dict[str, int] = {}
    consents: dict[str, tuple[int, str]] = {}
    preferences: dict[str, str] = {}
    recent: list[str] = []
    first = last = last_purchase = last_cart = None
    spend = 0.0
    for s in shards:
        for k, v in s.channel_counts.items():
            channels[k] = channels.get(k, 0) + v
        for k, v in s.type_counts.items():
            types[k] = types.get(k, 0) + v
        for k, v in s.last_contact.items():
            last_contact[k] = max(last_contact.get(k, v), v)
        for k, v in s.consents.items():
            t = s.consent_times.get(k, 0)
            if k not in consents or t >= consents[k][0]:
                consents[k] = (t, v)
        preferences.update(s.preferences)
        recent.extend(s.recent)
        spend += s.spend
        first = _min(first, s.first_seen)
        last = _max(last, s.last_seen)
        last_purchase = _max(last_purchase, s.last_purchase)
        last_cart = _max(last_cart, s.last_cart)
    recent.sort(key=lambda s: (json.loads(s)["t"], s), reverse=True)
    sent = types.get("email_send", 0)
    traits = {
        "lifetime_spend": round(spend, 2),
        "purchases": types.get("purchase", 0),
        "preferred_channel": max(sorted(channels), key=lambda c: channels[c]) if channels else None,
        "last_channel": max(last_contact, key=lambda c: (last_contact[c], c)) if last_contact else None,
        "open_cart": last_cart is not None and (last_purchase is None or last_cart > last_purchase),
        "email_engagement": round((types.get("email_open", 0) + types.get("email_click", 0)) / sent, 3) if sent else None,
    }
    return {
        "event_count": sum(s.event_count for s in shards),
        "first_seen": utc_iso(first) if first is not None else None,
        "last_seen": utc_iso(last) if last is not None else None,
        "channel_counts": channels,
        "type_counts": types,
        "last_contact": {k: utc_iso(v) for k, v in sorted(last_contact.items())},
        "consents": {k: v for k, (_, v) in sorted(consents.items())},
        "preferences": preferences,
        "recent": [json.loads(s) for s in recent[:recent_n]],
        "traits": traits,
    }


def _min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)
