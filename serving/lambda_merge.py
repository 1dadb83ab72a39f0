"""The lambda merge of a profile: the batch view plus the speed layer's newer updates.

Pure functions over rows (dicts), so the rule is unit-tested without Cassandra. The batch row
(``profiles``) was computed at snapshot ``S = batch_snapshot``; every speed row
(``profile_updates``) applied after ``S`` is folded over it in ``applied_at`` order:

* maps of values (``attributes``, ``consents``, ``preferences``, ``traits``): the update's value
  replaces the batch value, key by key (the speed layer already decided it is newer);
* counters (``channel_counts``): deltas are added; a row with a ``channel`` and no
  ``channel_counts`` counts as one contact on that channel;
* ``lifetime_spend``: the update's ``spend`` / ``amount`` / ``lifetime_spend`` delta is added;
* times (``last_contact``, ``last_seen``, ``first_seen``): max / max / min.

Speed rows at or before ``S`` are ignored: the batch already recomputed them (contract rule
"a speed write the batch already recomputed is replaced"). With no batch row at all (a customer
created in real time a moment ago) every speed row counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

Row = dict[str, Any]

VALUE_MAPS = ("attributes", "attribute_sources", "consents", "preferences", "traits")
SPEND_COLUMNS = ("spend", "amount", "lifetime_spend", "spend_delta", "amount_delta")


@dataclass(slots=True)
class MergedProfile:
    """The profile as the API shows it, and how fresh each layer's part is."""

    attributes: dict[str, str] = field(default_factory=dict)
    attribute_sources: dict[str, str] = field(default_factory=dict)
    consents: dict[str, str] = field(default_factory=dict)
    preferences: dict[str, str] = field(default_factory=dict)
    traits: dict[str, str] = field(default_factory=dict)
    channel_counts: dict[str, int] = field(default_factory=dict)
    last_contact: dict[str, datetime] = field(default_factory=dict)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    lifetime_spend: Decimal | None = None
    batch_snapshot: datetime | None = None
    speed_updates: int = 0
    speed_updated_at: datetime | None = None


def _text_map(value: Any) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in (value or {}).items()}


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _max(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _min(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def from_batch(row: Row | None) -> MergedProfile:
    """The batch part alone (empty if the batch has not published this UCID)."""
    out = MergedProfile()
    if not row:
        return out
    for name in VALUE_MAPS:
        if name in row:
            setattr(out, name, _text_map(row.get(name)))
    out.channel_counts = {str(k): int(v or 0) for k, v in (row.get("channel_counts") or {}).items()}
    out.last_contact = dict(row.get("last_contact") or {})
    out.first_seen = row.get("first_seen")
    out.last_seen = row.get("last_seen")
    out.lifetime_spend = _decimal(row.get("lifetime_spend"))
    out.batch_snapshot = row.get("batch_snapshot")
    return out


def apply_update(profile: MergedProfile, row: Row) -> None:
    """Fold one speed-layer row into ``profile`` (see the module docstring for the rules)."""
    for name in VALUE_MAPS:
        getattr(profile, name).update(_text_map(row.get(name)))
    counts = row.get("channel_counts")
    if counts:
        for channel, delta in counts.items():
            profile.channel_counts[channel] = profile.channel_counts.get(channel, 0) + int(delta or 0)
    elif row.get("channel"):
        channel = str(row["channel"])
        profile.channel_counts[channel] = profile.channel_counts.get(channel, 0) + 1
    for channel, at in (row.get("last_contact") or {}).items():
        profile.last_contact[channel] = _max(profile.last_contact.get(channel), at)  # type: ignore[assignment]
    seen = row.get("event_time") or row.get("last_seen")
    profile.last_seen = _max(profile.last_seen, seen)
    profile.first_seen = _min(profile.first_seen, row.get("first_seen") or seen)
    if row.get("channel") and seen is not None and not row.get("last_contact"):
        channel = str(row["channel"])
        profile.last_contact[channel] = _max(profile.last_contact.get(channel), seen)  # type: ignore[assignment]
    for name in SPEND_COLUMNS:
        delta = _decimal(row.get(name))
        if delta is not None:
            profile.lifetime_spend = (profile.lifetime_spend or Decimal(0)) + delta
            break
    profile.speed_updates += 1
    profile.speed_updated_at = _max(profile.speed_updated_at, row.get("applied_at"))


def merge(batch_row: Row | None, updates: list[Row]) -> MergedProfile:
    """Batch view + speed updates newer than its snapshot, in ``applied_at`` order.

    Promises: deterministic (ties on ``applied_at`` broken by ``event_id``); updates at or before
    the snapshot change nothing; with no updates the batch view is returned unchanged.
    """
    profile = from_batch(batch_row)
    snapshot = profile.batch_snapshot
    newer = [u for u in updates if snapshot is None or u.get("applied_at") is None or u["applied_at"] > snapshot]
    newer.sort(key=lambda u: (u.get("applied_at") or datetime.min, str(u.get("event_id") or "")))
    for row in newer:
        apply_update(profile, row)
    return profile
