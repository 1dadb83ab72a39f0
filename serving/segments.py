"""Computed traits and segments as the API shows them (migration 012; docs/segments.md).

A customer's traits and memberships are the rows both layers write (``traits_by_ucid``,
``segments_by_ucid``): the speed layer's evaluation already includes the batch's facts, so the API
reads them as they are. Member pages read one segment's partition in UCID order; the cursor is the
last UCID returned, opaque (base64url of ``m1|<ucid>``), so pages never overlap or skip.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from identity.segments import decode_trait
from identity.ucids import UCID_PATTERN
from infra.store.aio import ApiReads, Row

CURSOR_PREFIX = "m1|"


class BadCursor(ValueError):
    """A cursor this API did not issue."""


def encode_cursor(ucid: str) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{ucid}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    import re

    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadCursor(f"not a cursor this API issued: {cursor!r}") from exc
    ucid = text.removeprefix(CURSOR_PREFIX)
    if not text.startswith(CURSOR_PREFIX) or not re.fullmatch(UCID_PATTERN.strip("^$"), ucid):
        raise BadCursor(f"not a cursor this API issued: {cursor!r}")
    return ucid


def typed_traits(row: Row | None) -> dict[str, Any]:
    return {str(k): decode_trait(v) for k, v in sorted(((row or {}).get("traits") or {}).items())}


def text_traits(typed: dict[str, Any]) -> dict[str, str]:
    """The computed traits as the profile's text map: numbers and names as they read, no value
    as an empty string."""
    return {k: "" if v is None else str(v) for k, v in typed.items()}


def memberships(rows: list[Row]) -> list[dict[str, Any]]:
    return [{"name": r["segment"], "since": r.get("since"), "layer": r.get("layer")}
            for r in sorted(rows, key=lambda r: r["segment"]) if r.get("member")]


def change(row: Row) -> dict[str, Any]:
    try:
        cause = json.loads(row.get("cause") or "{}")
    except ValueError:
        cause = {}
    return {"changeId": row["change_id"], "segment": row["segment"], "change": row["change"],
            "at": row["changed_at"], "layer": row.get("layer"), "cause": cause if isinstance(cause, dict) else {}}


async def section(store: ApiReads, ucid: str, changes: int = 20) -> dict[str, Any]:
    """The customer's computed traits, segments and recent changes."""
    import asyncio

    traits, rows, recent = await asyncio.gather(store.traits(ucid), store.segments_of(ucid),
                                                store.segment_changes(ucid, changes))
    return {"ucid": ucid, "segments": memberships(rows), "traits": typed_traits(traits),
            "evaluatedAt": (traits or {}).get("evaluated_at"), "layer": (traits or {}).get("layer"),
            "changes": [change(r) for r in recent]}
