"""Reading and writing profile shards (``speed_profiles``) and reading a merged speed profile."""

from __future__ import annotations

from typing import Any

from infra.store import Store, ms, ts
from speed.profile import Shard, merge_shards


def shard_from_row(row: Any) -> Shard:
    return Shard(
        applied_offset=row.applied_offset if row.applied_offset is not None else -1,
        first_seen=ms(row.first_seen),
        last_seen=ms(row.last_seen),
        event_count=row.event_count or 0,
        channel_counts=dict(row.channel_counts or {}),
        type_counts=dict(row.type_counts or {}),
        last_contact={k: ms(v) for k, v in (row.last_contact or {}).items()},
        consents=dict(row.consents or {}),
        consent_times={k: ms(v) for k, v in (row.consent_times or {}).items()},
        preferences=dict(row.preferences or {}),
        spend=row.spend or 0.0,
        last_purchase=ms(row.last_purchase),
        last_cart=ms(row.last_cart),
        recent=list(row.recent or []),
    )


def shard_args(ucid: str, shard_no: int, s: Shard, now_ms: int) -> tuple:
    """Arguments of the ``put_shard`` statement (the whole row: one writer per shard)."""
    return (
        ucid, shard_no, s.applied_offset, ts(s.first_seen), ts(s.last_seen), s.event_count,
        s.channel_counts, s.type_counts, {k: ts(v) for k, v in s.last_contact.items()},
        s.consents, {k: ts(v) for k, v in s.consent_times.items()}, s.preferences, s.spend,
        ts(s.last_purchase), ts(s.last_cart), s.recent, ts(now_ms),
    )


def aliases_of(store: Store, ucid: str, limit: int = 64) -> list[str]:
    """``ucid`` and every UCID merged into it (from its ``identity_changes``), transitively."""
    seen, todo = [ucid], [ucid]
    while todo and len(seen) < limit:
        current = todo.pop()
        for row in store.all("get_changes", current):
            if row.kind == "merge":
                for old in row.old_ucids or ():
                    if old not in seen:
                        seen.append(old)
                        todo.append(old)
    return seen


def read_profile(store: Store, ucid: str, recent_n: int = 20) -> dict[str, Any] | None:
    """The merged speed profile of ``ucid`` including its aliases' shards; None if it has none."""
    shards = [shard_from_row(r) for u in aliases_of(store, ucid) for r in store.all("get_shards", u)]
    if not shards:
        return None
    return {"ucid": ucid, **merge_shards(shards, recent_n)}
