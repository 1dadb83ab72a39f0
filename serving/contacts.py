"""A customer's contact history as the API answers it: the batch's contacts plus the speed layer's.

The batch publishes each customer's contacts (``contacts_by_ucid``, :mod:`batch.contacts`). Events
the speed layer applied after the batch snapshot (``profile_updates``, the rows the profile's
lambda merge folds too) are folded over them with the same function
(:func:`identity.contacts.fold`): a contact-center call that came through the stream is a new
contact, an e-mail opened since the snapshot adds its response to the campaign's contact.

Such a speed event may extend a contact that started pages back (a campaign sent a week ago), so
the history of every UCID of the customer is read whole -- the newest :data:`MAX_CONTACTS` per
UCID -- and paged in memory: newest first, then by contact id; the cursor is the position
``(started_at, contact_id)`` of the page's last contact, so pages never overlap or skip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from identity import contacts as model
from infra.store.aio import ApiReads, Row
from serving import timeline

MAX_CONTACTS = 5000  # per UCID read for one answer


def _from_row(row: Row) -> model.Contact:
    group = model.GROUP_OF.get(row["direction"], "event")
    return model.Contact(
        contact_id=row["contact_id"], direction=row["direction"], channel=row["channel"], group=group,
        first=(row["started_at"], ""), last_at=row.get("last_at") or row["started_at"], topic=row.get("topic"),
        stated_outcome=row.get("outcome") if group == "event" else None, details=dict(row.get("details") or {}),
        responses=dict(row.get("responses") or {}),
    )


def as_json(c: model.Contact) -> dict[str, Any]:
    """One contact as the API shows it (:class:`serving.models.Contact`)."""
    return {"contactId": c.contact_id, "direction": c.direction, "channel": c.channel, "startedAt": c.started_at,
            "lastAt": c.last_at, "topic": c.topic, "outcome": c.outcome,
            "responses": dict(sorted(c.responses.items())), "details": dict(sorted(c.details.items()))}


async def history(store: ApiReads, ucids: list[str], updates: Iterable[Row]) -> list[model.Contact]:
    """Every contact of the customer whose UCIDs are ``ucids`` (the survivor first), newest
    first: the batch's rows with ``updates`` (speed rows after the snapshot) folded over them."""
    parts = await asyncio.gather(*(store.contacts(u, MAX_CONTACTS) for u in ucids))
    held = model.fold(_from_row(r) for part in parts for r in part)
    return model.newest_first(model.fold(model.contacts_of(updates), into=held).values())


def page(contacts: list[model.Contact], limit: int, cursor: str | None, channel: str | None = None,
         direction: str | None = None) -> tuple[list[model.Contact], str | None]:
    """Up to ``limit`` of ``contacts`` (newest first) after ``cursor``, on ``channel`` / in
    ``direction`` when given, and the next cursor (``None`` on the last page). Raises
    :class:`serving.timeline.BadCursor` for a cursor this API did not issue."""
    after = timeline.decode_cursor(cursor) if cursor else None
    chosen = []
    for c in contacts:
        if (channel and c.channel != channel) or (direction and c.direction != direction):
            continue
        if after is not None and _position(c) <= _key(after):
            continue
        chosen.append(c)
        if len(chosen) > limit:
            break
    more = len(chosen) > limit
    chosen = chosen[:limit]
    nxt = timeline.encode_cursor(chosen[-1].started_at, chosen[-1].contact_id) if more and chosen else None
    return chosen, nxt


def _key(at_and_id: tuple) -> tuple:
    # newest first, then contact id ascending, at the cursor's millisecond precision
    at, contact_id = at_and_id
    return (-timeline.millis(at), contact_id)


def _position(c: model.Contact) -> tuple:
    return _key((c.started_at, c.contact_id))


def summary(batch_row: Row | None) -> dict[str, dict[str, Any]]:
    """The profile's contact summary (as of the batch snapshot): ``direction:channel`` ->
    ``{count, lastStartedAt}``."""
    row = batch_row or {}
    counts, last = row.get("contact_counts") or {}, row.get("contact_last") or {}
    return {k: {"count": int(counts[k] or 0), "lastStartedAt": last.get(k)} for k in sorted(counts)}
