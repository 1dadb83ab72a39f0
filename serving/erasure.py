"""Erasure (issue 16, part 1), the serving store's part: one person out of Cassandra, at once.

One function, two faces: ``DELETE /v1/profiles/{ucid}`` and ``ucid privacy erase`` both call
:func:`erase`. "The person" is what the subject-access export gathers (:func:`serving.export.export`,
the same code path): the live UCID, every UCID merged into it, every identifier that resolves to
it now, and their events. Then, in this order:

1. the **suppression list** (``suppression``, migration 011) gets the keyed hash
   (:mod:`identity.suppression`) of each identifier and each UCID: from here on the speed layer
   drops any event carrying one, and the batch any record;
2. the **receipt** (``erasures``): an erasure id, when, which key, how the person was named (the
   identifier's type only), their UCIDs (pseudonyms, see docs/privacy.md), how many identifiers,
   and the rows removed per table; no identifier value;
3. the rows keyed by an identifier (``identifiers``), by an event the speed layer applied
   (``applied_events``), by a merged UCID (``ucid_aliases``), then every partition of each UCID in
   the tables keyed by UCID (:data:`infra.store.statements.ERASE_BY_UCID`);
4. one ``erasure`` row in the audit trail, under the live UCID.

Deletes are idempotent: a call that failed half-way (503) can be repeated by UCID. The Delta
tables, the landing files, the match-model blocking index and trigger rows are not touched here:
they need Spark or a scan, and are the lake step's (``ucid privacy erase`` runs it at once,
``ucid privacy finish`` for erasures made through the API; the receipt's ``lakeAt`` says when it
ran). The suppression list keeps the person out of everything in between.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from identity import suppression
from infra.store.statements import ERASE_BY_UCID
from serving.export import export
from serving.resolver import Followed

ERASURE = "erasure"
"""The audit trail's action of an erasure."""
PENDING = ("delta", "landing", "cassandra.match_blocks", "cassandra.trigger_fired")
"""Places the lake step (``ucid privacy erase`` / ``finish``) still has to clean."""


@dataclass(frozen=True, slots=True)
class Person:
    """Everything an erasure removes from the serving store, by key."""

    ucids: tuple[str, ...]
    identifiers: tuple[tuple[str, str], ...]
    event_ids: tuple[str, ...]


async def person(store: Any, followed: Followed, requested: str, max_hops: int) -> Person:
    """The person ``followed`` leads to, as the export sees them, plus the ids of the events the
    speed layer applied for them (``profile_updates``)."""
    doc = await export(store, followed, requested, max_hops, None)
    ucids = tuple(doc["ucids"])
    updates = await asyncio.gather(*(store.profile_updates(u, None) for u in ucids))
    events = {str(e["eventId"]) for e in doc["events"]} | {str(r["event_id"]) for part in updates for r in part}
    return Person(ucids, tuple(sorted({(i["type"], i["value"]) for i in doc["identifiers"]})), tuple(sorted(events)))


def suppression_hashes(key: bytes, who: Person) -> set[str]:
    """The hashes the suppression list gets for ``who``: each identifier and each UCID."""
    return suppression.hashes(key, who.identifiers) | {suppression.ucid_hash(key, u) for u in who.ucids}


def deletes(who: Person, segments: tuple[str, ...] = ()) -> tuple[list[tuple[str, tuple]], list[tuple[str, tuple]]]:
    """The delete statements of ``who``: first those keyed by identifier, event, alias or segment
    (``segments``: every segment name defined, whose member rows are keyed by segment), then the
    UCID partitions (the second group removes what would let a retry find the first)."""
    first = [("erase_identifier", ident) for ident in who.identifiers]
    first += [("erase_applied_events", (e,)) for e in who.event_ids]
    first += [("erase_ucid_aliases", (u,)) for u in who.ucids]
    first += [("erase_segment_members", (s, u)) for s in segments for u in who.ucids]
    second = [(f"erase_{table}", (u,)) for u in who.ucids for table in ERASE_BY_UCID]
    return first, second


def removed_counts(who: Person) -> dict[str, int]:
    """What the receipt says was removed from Cassandra: rows by key for the tables keyed by
    identifier or event, partitions (one per UCID) for the others; ``suppression`` the hashes
    added."""
    counts = {"cassandra.identifiers": len(who.identifiers), "cassandra.applied_events": len(who.event_ids),
              "cassandra.ucid_aliases": len(who.ucids)}
    counts |= {f"cassandra.{table}": len(who.ucids) for table in ERASE_BY_UCID}
    counts["suppression"] = len(who.identifiers) + len(who.ucids)
    return counts


async def erase(store: Any, followed: Followed, requested: str, max_hops: int, key: bytes, key_id: str,
                key_name: str, via: str, segments: tuple[str, ...] = ()) -> dict[str, Any]:
    """Erase the person ``followed`` leads to from the serving store (see the module doc) and
    return the receipt."""
    who = await person(store, followed, requested, max_hops)
    erasure_id = str(uuid.uuid4())
    now = datetime.now(UTC).replace(microsecond=0)
    await store.write_all([("put_suppression", (h, erasure_id, now)) for h in sorted(suppression_hashes(key, who))])
    removed = removed_counts(who)
    await store.write_all([("put_erasure", (erasure_id, now, key_id, key_name, via, set(who.ucids),
                                            len(who.identifiers), removed))])
    first, second = deletes(who, segments)
    await store.write_all(first)
    await store.write_all(second)
    await store.record_access(followed.ucid, ERASURE, key_id, key_name, via,
                              requested if requested != followed.ucid else None)
    return {"erasureId": erasure_id, "requestedAt": now, "keyId": key_id, "via": via, "ucids": list(who.ucids),
            "identifiers": len(who.identifiers), "removed": removed, "pending": list(PENDING)}
