"""Subject access (issue 16): everything the serving store holds about one person, in one document.

One function, two faces: ``GET /v1/profiles/{ucid}/export`` and ``ucid privacy export`` both call
:func:`export`. It follows aliases (a UCID merged away exports its survivor) and reads every UCID
merged into the customer, so the person's whole history comes:

* ``identifiers``: every identifier that resolves to the customer now, with its source and first
  / last seen (an identifier listed under one of the UCIDs but split off to someone else since is
  left out: it is no longer this person's);
* ``profile``, ``consents``, ``preferences``, ``traits``: the 360 profile (batch view plus the
  speed layer's newer updates), with the contact-history summary;
* ``consentStatements``: every consent statement per purpose and channel (:mod:`serving.consents`);
* ``events``: the whole timeline the store keeps (``events_by_ucid``: the batch's most recent
  events per UCID and the speed layer's, 90 days), newest first;
* ``contacts``: the contact history (:mod:`serving.contacts`);
* ``identityChanges``: the merges and retirements of each of its UCIDs;
* ``links``: the accepted links between its identifiers and the record that made each (both ends
  among its identifiers).

Not in it (``notes`` says so too): the lake (bronze / silver records, gold tables: analysts'
copies), the landing files, the Kafka topic, the audit trail of reads.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from infra.store.aio import ApiReads
from serving import consents as consent_statements
from serving import contacts as contact_history
from serving import profile, timeline
from serving.resolver import Followed

EXPORT_SCHEMA = "ucid.export/1"
EVENTS_PAGE = 500
MAX_EVENTS = 100_000  # a bound on one export's timeline (the store keeps 90 days)
NOTES = ("Everything the serving store (Cassandra) holds about this customer. Not included: the batch lake's "
         "source records and gold tables, the landing files, the Kafka topic, the audit trail of reads.")


async def export(store: ApiReads, followed: Followed, requested: str, max_hops: int,
                 schema_version: int | None) -> dict[str, Any]:
    """The subject-access document of the customer ``followed`` leads to (see the module doc)."""
    survivor = followed.ucid
    ucids = await profile.members(store, survivor, followed.merged_from)
    doc, changes, links, events = await asyncio.gather(
        profile.document(store, followed, requested, 1, None, max_hops, schema_version),
        asyncio.gather(*(store.changes(u) for u in ucids)),
        store.links(survivor),
        _all_events(store, ucids),
    )
    _, updates = await profile.batch_and_speed(store, survivor, ucids)
    history = await contact_history.history(store, ucids, updates)
    statements = await consent_statements.statements(store, ucids)
    identifiers = [{"type": t, **entry} for t, entries in sorted(doc["identity"].items()) for entry in entries]
    held = {(i["type"], i["value"]) for i in identifiers}
    return {
        "_id": doc["_id"],
        "schemaVersion": EXPORT_SCHEMA,
        "exportedAt": datetime.now(UTC),
        "ucids": ucids,
        "identifiers": identifiers,
        "profile": doc["profile"],
        "contactSummary": doc["contactSummary"],
        "consents": doc["consents"],
        "consentStatements": [consent_statements.statement_body(s) for s in statements],
        "preferences": doc["preferences"],
        "traits": doc["traits"],
        "dataFreshness": doc["platformHeader"]["dataFreshness"],
        "events": profile.events(events),
        "contacts": [contact_history.as_json(c) for c in history],
        "identityChanges": [change_json(r) for part in changes for r in part],
        "links": [_link(r) for r in links
                  if (r.get("from_type"), r.get("from_value")) in held and (r.get("to_type"), r.get("to_value")) in held],
        "notes": NOTES,
    }


async def _all_events(store: ApiReads, ucids: list[str]) -> list:
    rows, cursor = [], None
    while len(rows) < MAX_EVENTS:
        page, cursor = await timeline.page(store, ucids, EVENTS_PAGE, cursor)
        rows.extend(page)
        if cursor is None:
            break
    return rows


def change_json(row: dict) -> dict[str, Any]:
    """An ``identity_changes`` row as the API answers it (the export, the console's history)."""
    return {"ucid": row.get("ucid"), "changedAt": row.get("changed_at"), "changeId": row.get("change_id"),
            "kind": row.get("kind"), "oldUcids": sorted(row.get("old_ucids") or ()), "rule": row.get("rule"),
            "evidence": row.get("evidence")}


def _link(row: dict) -> dict[str, Any]:
    return {"fromType": row.get("from_type"), "fromValue": row.get("from_value"), "toType": row.get("to_type"),
            "toValue": row.get("to_value"), "rule": row.get("rule"), "source": row.get("source"),
            "recordId": row.get("record_id"), "seenAt": row.get("seen_at")}
