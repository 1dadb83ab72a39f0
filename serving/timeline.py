"""The event timeline: one page of events, newest first, across a customer's partitions.

A customer's events live under its UCID and, after a merge the batch has not yet recomputed,
under the UCIDs merged into it. A page reads the same window of each partition and merges them.
The cursor is the position ``(event_time, event_id)`` of the last event returned, so pages never
overlap or skip, whatever is written meanwhile at newer times.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import UTC, datetime, timedelta

from infra.store.aio import ApiReads, Row

_EPOCH = datetime(1970, 1, 1)


class BadCursor(ValueError):
    """A cursor this API did not issue."""


def encode_cursor(event_time: datetime, event_id: str) -> str:
    """Opaque, URL-safe cursor for the position after ``(event_time, event_id)``."""
    millis = _millis(event_time)
    return base64.urlsafe_b64encode(f"{millis}|{event_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Inverse of :func:`encode_cursor`; raises :class:`BadCursor` on anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        millis, event_id = text.split("|", 1)
        at = _EPOCH + timedelta(milliseconds=int(millis))
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError) as exc:
        raise BadCursor(f"not a cursor this API issued: {cursor!r}") from exc
    if not event_id:
        raise BadCursor(f"not a cursor this API issued: {cursor!r}")
    return at, event_id


def _millis(at: datetime) -> int:
    return int((_naive(at) - _EPOCH) / timedelta(milliseconds=1))


millis = _millis
"""Epoch milliseconds of a datetime (naive = UTC): the cursor's precision."""


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def _order(row: Row) -> tuple:
    # newest first, then event id ascending: the table's clustering order
    return (-(_naive(row["event_time"]) - _EPOCH).total_seconds(), str(row["event_id"]))


async def page(store: ApiReads, ucids: list[str], limit: int, cursor: str | None) -> tuple[list[Row], str | None]:
    """Up to ``limit`` events of all ``ucids`` after ``cursor``, and the next cursor (``None``
    when this page is the last). Raises :class:`BadCursor` before any read."""
    before = decode_cursor(cursor) if cursor else None
    # one extra row tells whether another page exists
    parts = await asyncio.gather(*(store.events(u, limit + 1, before) for u in ucids))
    rows = sorted((r for part in parts for r in part), key=_order)
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor(rows[-1]["event_time"], str(rows[-1]["event_id"])) if more and rows else None
    return rows, nxt
