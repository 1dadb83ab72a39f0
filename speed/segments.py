"""Computed traits and segments in the speed layer: each poll, the customers it touched.

For every live UCID an applied event of the poll landed on (and the UCIDs merged away in it),
once per poll, in a few rounds of ``IN`` reads whatever the poll's size:

1. follow each UCID to its live survivor (``ucids``), and collect the UCIDs merged into it
   (``identity_changes``, transitively);
2. read their inputs: the batch's published facts and snapshot (``traits_by_ucid``), the speed
   layer's ``profile_updates`` (one row per applied event, keyed by event id), the consent
   statements of both layers, the profile attributes, the stored memberships;
3. the facts are the lambda merge of the batch's facts and the events applied after its snapshot
   (:func:`identity.segments.merge_facts`; the batch's snapshot rule of :mod:`serving.lambda_merge`),
   evaluated by :func:`identity.segments.evaluate` -- the batch's function -- at ``now``;
4. each membership that differs from the stored one is a change (entered / left): its record goes
   to the segment-changes topic (keyed by UCID; ``change_id`` is a hash of UCID, segment, change
   and the time the stored membership row was last written -- the state the change starts from,
   the same on a replay whatever the replayed poll holds), then the rows are
   written (``segment_members``, ``segments_by_ucid``, the timeline ``segment_changes``) with the
   traits (``traits_by_ucid``) when they changed.

A replayed poll finds its events applied (nothing touched), or, after a crash between the writes
here and the commit, the memberships already stored (no change): no duplicate state. A crash
between the sends and the writes sends the same records again, with the same ``change_id``
(consumers dedupe on it). Erased people's events never get here (:mod:`speed.suppression`), so
they get no membership.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from identity.consents import Vocabulary
from identity.segments import Definitions, EventFact, Facts, encode_trait, decode_trait, evaluate, facts_of, \
    load_facts, merge_facts
from infra.store import Store, ms, ts
from speed.consents import statement_of
from speed.contract import Event, utc_iso

MAX_CAUSE_EVENTS = 10
MAX_HOPS = 16


@dataclass(slots=True)
class Change:
    """One membership change, as sent to the topic and kept in the timeline."""

    change_id: str
    ucid: str
    segment: str
    change: str  # entered | left
    at_ms: int
    cause: dict[str, Any]

    def record(self) -> dict[str, Any]:
        return {"change_id": self.change_id, "ucid": self.ucid, "segment": self.segment, "change": self.change,
                "at": utc_iso(self.at_ms), "layer": "speed", "cause": self.cause}


@dataclass(slots=True)
class Outcome:
    writes: list[tuple[str, tuple]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    evaluated: int = 0


def change_id(ucid: str, segment: str, change: str, since: datetime | None) -> str:
    """Deterministic: the transition (``change``) of (``ucid``, ``segment``) away from the stored
    row written at ``since`` (``None``: no row yet). A replay starts from the same stored row, so
    it names the same change; the next real change starts from a row written later."""
    return hashlib.sha256(f"{ucid}|{segment}|{change}|{ms(since) if since else 'none'}".encode()).hexdigest()[:24]


def _update_fact(row: Any) -> EventFact:
    return EventFact(row.event_id, row.type or "", row.channel, ms(row.event_time) or 0, row.amount,
                     dict(row.attributes or {}))


class SegmentEngine:
    """Evaluates the touched customers of a poll (see the module docstring)."""

    def __init__(self, store: Store, defs: Definitions, vocabulary: Vocabulary) -> None:
        self.store = store
        self.defs = defs
        self.vocabulary = vocabulary
        self.names = sorted(defs.segments)

    def _live(self, ucids: set[str]) -> dict[str, str]:
        """UCID -> its live survivor (itself if live or unknown)."""
        to: dict[str, str] = {u: u for u in ucids}
        todo = set(ucids)
        for _ in range(MAX_HOPS):
            if not todo:
                break
            nxt: set[str] = set()
            for row in self.store.many_in("get_ucids_in", sorted(todo)):
                if row.status == "merged" and row.merged_into and row.merged_into != row.ucid:
                    for u, target in list(to.items()):
                        if target == row.ucid:
                            to[u] = row.merged_into
                    nxt.add(row.merged_into)
            todo = nxt
        return to

    def _aliases(self, live: set[str]) -> dict[str, str]:
        """Every UCID merged into one of ``live`` (transitively) -> that live UCID; and each live
        UCID -> itself."""
        root = {u: u for u in live}
        todo = set(live)
        for _ in range(MAX_HOPS):
            if not todo:
                break
            nxt: set[str] = set()
            for row in self.store.many_in("get_changes_in", sorted(todo)):
                if row.kind != "merge":
                    continue
                for old in row.old_ucids or ():
                    if old not in root:
                        root[old] = root[row.ucid]
                        nxt.add(old)
            todo = nxt
        return root

    def facts(self, live: str, ids: list[str], batch: dict[str, Any], updates: dict[str, list[Any]]) -> Facts:
        """The lambda merge of the batch's facts and the speed layer's newer events."""
        own = batch.get(live)
        snapshot = own.batch_snapshot if own is not None else None
        facts: Facts = {}
        events: list[EventFact] = []
        for u in ids:
            row = batch.get(u)
            if snapshot is not None:
                cutoff = snapshot
                if u == live and row is not None:
                    facts = merge_facts(self.defs, facts, load_facts(row.batch_facts))
            else:
                cutoff = row.batch_snapshot if row is not None else None
                if row is not None:
                    facts = merge_facts(self.defs, facts, load_facts(row.batch_facts))
            events.extend(_update_fact(r) for r in updates.get(u, ())
                          if cutoff is None or r.applied_at is None or _after(r.applied_at, cutoff))
        return merge_facts(self.defs, facts, facts_of(self.defs, events))

    def run(self, touched: dict[str, list[Event]], merged_away: set[str], now_ms: int) -> Outcome:
        """Evaluate the customers of ``touched`` (UCID -> the poll's events applied to it) and
        leave the UCIDs ``merged_away`` in this poll out of every segment."""
        out = Outcome()
        if not touched and not merged_away:
            return out
        live_of = self._live(set(touched) | merged_away)
        by_live: dict[str, list[Event]] = {}
        for u, evs in touched.items():
            by_live.setdefault(live_of[u], []).extend(evs)
        gone = {u for u in merged_away if live_of.get(u, u) != u} - set(by_live)
        root = self._aliases(set(by_live))
        ids = sorted(root)
        store = self.store
        batch = {r.ucid: r for r in store.many_in("get_traits_in", ids)}
        updates: dict[str, list[Any]] = {}
        for r in store.many_in("get_updates_in", ids):
            updates.setdefault(r.ucid, []).append(r)
        statements: dict[str, list[Any]] = {}
        for r in store.many_in("get_consents_in", ids):
            statements.setdefault(root[r.ucid], []).append(statement_of(r))
        attributes = {r.ucid: dict(r.attributes or {}) for r in store.many_in("get_attributes_in", sorted(by_live))}
        stored: dict[str, set[str]] = {}
        since: dict[tuple[str, str], datetime | None] = {}
        for r in store.many_in("get_segments_of_in", sorted(set(by_live) | gone)):
            since[(r.ucid, r.segment)] = r.since
            if r.member:
                stored.setdefault(r.ucid, set()).add(r.segment)
        members_of: dict[str, list[str]] = {}
        for u in ids:
            members_of.setdefault(root[u], []).append(u)
        at = ts(now_ms)
        for live, evs in sorted(by_live.items()):
            facts = self.facts(live, members_of[live], batch, updates)
            got = evaluate(self.defs, self.vocabulary, facts, attributes.get(live, {}), statements.get(live, []),
                           now_ms)
            out.evaluated += 1
            encoded = {k: encode_trait(v) for k, v in got.traits.items()}
            row = batch.get(live)
            before = dict(row.traits or {}) if row is not None else {}
            if encoded != before:
                out.writes.append(("put_traits", (live, encoded, at)))
            had = stored.get(live, set())
            if had == got.segments:
                continue
            moved = {k: [decode_trait(before.get(k)), v] for k, v in got.traits.items()
                     if before.get(k) != encoded[k]}
            cause = {"event_ids": [e.event_id for e in sorted(evs, key=lambda e: (-e.time_ms, e.event_id))]
                     [:MAX_CAUSE_EVENTS], "traits": moved}
            for segment in self.names:
                if (segment in had) == (segment in got.segments):
                    continue
                change = "entered" if segment in got.segments else "left"
                out.changes.append(Change(change_id(live, segment, change, since.get((live, segment))), live,
                                          segment, change, now_ms, cause))
        for loser in sorted(gone):
            for segment in sorted(stored.get(loser, ())):
                cause = {"merged_into": live_of[loser]}
                out.changes.append(Change(change_id(loser, segment, "left", since.get((loser, segment))), loser,
                                          segment, "left", now_ms, cause))
        for c in out.changes:
            member = c.change == "entered"
            out.writes += [("put_segment_member", (c.segment, c.ucid, member, at)),
                           ("put_segment_of", (c.ucid, c.segment, member, at)),
                           ("put_segment_change", (c.ucid, at, c.change_id, c.segment, c.change,
                                                   json.dumps(c.cause, sort_keys=True)))]
        return out


def _after(a: datetime, b: datetime) -> bool:
    return (ms(a) or 0) > (ms(b) or 0)
