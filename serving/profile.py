"""The 360 document of one live customer, with the lambda merge of batch and speed parts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from infra.store.aio import ApiReads, Row
from serving import contacts, lambda_merge, segments, timeline
from serving.resolver import Followed, follow

MAX_MEMBERS = 20  # UCIDs merged into one customer whose partitions are still read


async def members(store: ApiReads, survivor: str, merged_from: tuple[str, ...]) -> list[str]:
    """The survivor first, then the UCIDs merged into it (from its ``identity_changes`` merges
    and the chain just walked): their partitions may still hold rows written before the merge."""
    changes = await store.changes(survivor)
    out = [survivor]
    for change in changes:
        if change.get("kind") == "merge":
            out.extend(sorted(change.get("old_ucids") or ()))
    out.extend(merged_from)
    unique = list(dict.fromkeys(out))
    return unique[:MAX_MEMBERS]


async def identity(store: ApiReads, survivor: str, ucids: list[str], max_hops: int) -> dict[str, list[dict]]:
    """Every identifier that resolves to ``survivor`` now, by type, with source and first / last
    seen. A row left under a UCID by an earlier assignment is shown only if the identifier's own
    ``identifiers`` row still leads here (it may have been split off since)."""
    listed = await asyncio.gather(*(store.identifiers_of(u) for u in ucids))
    candidates: dict[tuple[str, str], Row] = {}
    for rows in listed:
        for row in rows:
            candidates.setdefault((row["id_type"], row["id_value"]), row)
    keys = sorted(candidates)
    current = await asyncio.gather(*(store.identifier(t, v) for t, v in keys))
    members_set = set(ucids)
    out: dict[str, list[dict]] = {}
    for key, now in zip(keys, current, strict=True):
        if now is None or not now.get("ucid"):
            continue
        if now["ucid"] not in members_set:
            followed = await follow(store, now["ucid"], max_hops)
            if followed is None or followed.ucid != survivor:
                continue
        listed_row = candidates[key]
        out.setdefault(key[0], []).append({
            "value": key[1],
            "source": now.get("source") or listed_row.get("source"),
            "firstSeen": now.get("first_seen") or listed_row.get("first_seen"),
            "lastSeen": now.get("last_seen") or listed_row.get("last_seen"),
        })
    return out


def _event(row: Row) -> dict:
    return {
        "eventId": str(row["event_id"]),
        "eventTime": row["event_time"],
        "type": row.get("type"),
        "channel": row.get("channel"),
        "source": row.get("source"),
        "ucid": row["ucid"],
        "attributes": {str(k): str(v) for k, v in (row.get("attributes") or {}).items()},
    }


def events(rows: list[Row]) -> list[dict]:
    return [_event(r) for r in rows]


async def document(
    store: ApiReads,
    followed: Followed,
    requested: str,
    events_limit: int,
    events_cursor: str | None,
    max_hops: int,
    schema_version: int | None,
) -> dict:
    """The rationalized customer document of ``followed.ucid`` (see :mod:`serving.models`).

    Promises: the profile is the batch view plus every speed update applied after its snapshot
    (:func:`serving.lambda_merge.merge`); a customer the speed layer created after the last
    batch publish answers with its speed part alone; raises ``BadCursor`` before any read.
    """
    if events_cursor:
        timeline.decode_cursor(events_cursor)
    survivor = followed.ucid
    ucids = await members(store, survivor, followed.merged_from)
    (batch_row, updates), ident, (page, nxt), contact_summary, computed, member_rows = await asyncio.gather(
        batch_and_speed(store, survivor, ucids),
        identity(store, survivor, ucids, max_hops),
        timeline.page(store, ucids, events_limit, events_cursor),
        store.contact_summary(survivor),
        store.traits(survivor),
        store.segments_of(survivor),
    )
    typed = segments.typed_traits(computed)
    merged = lambda_merge.merge(batch_row, updates)
    preferences = {k: v for k, v in merged.attributes.items() if k.startswith("preferred_")}
    preferences.update(merged.preferences)
    return {
        "_id": {
            "ucid": survivor,
            "requested": requested,
            "merged": bool(followed.merged_from),
            "mergedFrom": list(followed.merged_from),
        },
        "platformHeader": {
            "storeSchemaVersion": schema_version,
            "generatedAt": datetime.now(UTC),
            "dataFreshness": {
                "batchSnapshot": merged.batch_snapshot,
                "speedUpdatesApplied": merged.speed_updates,
                "speedUpdatedAt": merged.speed_updated_at,
                "speedLayerAvailable": store.has_speed_updates,
            },
        },
        "identity": ident,
        "profile": {
            "attributes": merged.attributes,
            "attributeSources": merged.attribute_sources,
            "channelCounts": merged.channel_counts,
            "lastContact": merged.last_contact,
            "firstSeen": merged.first_seen,
            "lastSeen": merged.last_seen,
            "lifetimeSpend": merged.lifetime_spend,
        },
        "contactSummary": contacts.summary(contact_summary),
        "consents": merged.consents,
        "preferences": preferences,
        "traits": {**merged.traits, **segments.text_traits(typed)},
        "computedTraits": typed,
        "segments": segments.memberships(member_rows),
        "events": events(page),
        "eventsNextCursor": nxt,
    }


async def batch_and_speed(store: ApiReads, survivor: str, ucids: list[str]) -> tuple[Row | None, list[Row]]:
    """The batch row, then the speed rows of every member applied after its snapshot."""
    batch_row = await store.profile(survivor)
    snapshot = (batch_row or {}).get("batch_snapshot")
    parts = await asyncio.gather(*(store.profile_updates(u, snapshot) for u in ucids))
    return batch_row, [row for part in parts for row in part]
