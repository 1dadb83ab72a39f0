"""Real-time scoring with the match model (issue 13): an event carrying person attributes (a
registration, a profile change) is linked to records it shares no identifier with, with the
batch's model and decision.

Once per poll (:meth:`SpeedMatcher.match`, after the poll's events are stitched, before they are
marked applied):

1. **Person rows.** Each applied event of the stream source whose attributes make a person row
   (:func:`identity.match.person_row`, kept by :func:`identity.match.keeps_person_row`: it
   carries a name) and that has a UCID.
2. **Candidates** from the blocking index ``match_blocks`` (written by the batch publish and by
   this class): one read per distinct block key of the poll's rows
   (:func:`identity.match.block_keys`), all in one round of concurrent reads.
3. **Scoring** of every blocked pair among the poll's rows and their candidates, in one call on
   a warm in-process DuckDB (:class:`infra.match.predict.Scorer`) with the model's term
   frequencies: a pair gets the score the batch gives it.
4. **Decision** by :func:`infra.match.decision.decide_scored` (thresholds, vetoes,
   corroboration, ``link_if_unambiguous`` over the pairs scored together, conflicts, and which
   records withhold a shared e-mail or phone, with each row's identifiers and the sources'
   trust), the batch's call. Review-band pairs are not linked.
5. **Links**: the model's edges touching a new row, strongest first, each through
   :meth:`speed.stitching.Stitcher.link_model` (leases, re-read, one LOGGED batch, the model's
   limits and the size guard, never across a conflict the scored pairs show). A pair with a
   record that withholds a shared identifier is not linked (:func:`real_time_pairs`): the batch
   re-anchors such a record away from the identifier before it links it, but the stitcher has
   already put it on the identifier's UCID, which the speed layer cannot undo (it never splits),
   so a model merge through it would join the identifier's owner with another customer. The
   next batch run puts the record where it belongs (docs/matching.md, *In real time*).
6. **Index**: the new rows under each of their block keys, with their anchor and live UCID.

A failure raises: the consumer rewinds the poll and nothing is marked applied, so a retry redoes
it (every step is idempotent: a merge already made is ``unchanged``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from identity.match import (
    ID_COLUMN,
    MatchSpec,
    ScoredPair,
    block_keys,
    keeps_person_row,
    match_edges,
    model_attributes,
    person_row,
)
from identity.records import normalize_record
from identity.rules import Policy
from identity.sources import SourceDefinition
from identity.types import RECORD_TYPE, Identifier
from infra.log import get_logger
from infra.match.decision import Scoring, decide_scored
from infra.match.model import TrainedModel
from infra.match.predict import Scorer
from infra.store import Store, ts
from speed.contract import STREAM_SOURCE, Event
from speed.stitching import Outcome, Stitcher

log = get_logger("speed.matching")

MAX_BLOCK_ROWS = 500
"""Rows read per block key: a guard against a hot key (the batch scores every pair of a block;
a key holding more rows than this is read in part, which the docs list as a difference)."""


@dataclass(slots=True)
class MatchStats:
    """What one poll's matching did."""

    rows: int = 0
    candidates: int = 0
    pairs: int = 0
    linked_pairs: int = 0
    review: int = 0
    withheld: int = 0  # linked pairs not applied: a record of theirs withholds a shared identifier
    merges: int = 0
    refused: int = 0
    ms: float = 0.0
    merged: list[tuple[str, str, str]] = field(default_factory=list)  # (event id, loser, survivor)


@dataclass(slots=True)
class _Person:
    key: tuple[str, str]
    anchor: Identifier
    row: dict[str, str | None]
    ids: tuple[Identifier, ...] = ()  # valid, unblocked identifiers, strongest first
    event: Event | None = None
    ucid: str | None = None


class SpeedMatcher:
    """The speed layer's real-time match; one per consumer process, used by one thread."""

    def __init__(self, store: Store, stitcher: Stitcher, policy: Policy, model: TrainedModel,
                 source: SourceDefinition, trust: dict[str, int] | None = None) -> None:
        self.store, self.stitcher, self.policy, self.model = store, stitcher, policy, model
        self.spec = model.spec
        self.spec.check_limits(policy.limits(), policy.linking())
        self.limits = self.spec.limits_for(policy.limits())
        self.columns = self.spec.columns()
        self.source = source
        self.trust = trust or {source.name: source.priority}  # source -> priority, as the batch's
        self.attributes = {a: source.attributes[a] for a in model_attributes(source.attributes, self.columns)}
        self.scorer = Scorer(model)

    @classmethod
    def create(cls, store: Store, stitcher: Stitcher, policy: Policy, model: TrainedModel,
               sources: list[SourceDefinition]) -> SpeedMatcher | None:
        """A matcher when the model compares the stream source, else ``None`` (logged)."""
        from identity.match import person_sources

        stream = next((s for s in person_sources(sources, model.spec) if s.name == STREAM_SOURCE), None)
        if stream is None:
            log.warning("match model in force, but it does not compare the stream source (no name attribute "
                        "in its definition): no real-time scoring", model=model.version)
            return None
        return cls(store, stitcher, policy, model, stream, {s.name: s.priority for s in sources})

    # -- person rows --------------------------------------------------------------------------
    def person(self, event: Event) -> dict[str, str | None] | None:
        """The event's person row, or ``None`` when it carries no person attributes."""
        values = {}
        for name, column in self.attributes.items():
            raw = event.attributes.get(column, event.attributes.get(column.removeprefix("attr_")))
            values[name] = None if raw is None else str(raw)
        if not any(values.get(a) for a in ("first_name", "last_name", "full_name")):
            return None
        norm, _ = normalize_record(event.record(), self.policy)
        row = person_row(values, norm.identifiers, self.columns)
        return row if keeps_person_row(self.source.kind, row) else None

    # -- one poll -----------------------------------------------------------------------------
    def match(self, applied: list[tuple[Event, Outcome]]) -> MatchStats:
        """Score and link the poll's person events (see the module docstring)."""
        started = time.perf_counter()
        stats = MatchStats()
        new: list[_Person] = []
        for event, outcome in applied:
            if outcome.ucid is None:
                continue
            row = self.person(event)
            if row is None:
                continue
            norm, _ = normalize_record(event.record(), self.policy)
            new.append(_Person((STREAM_SOURCE, event.event_id), norm.anchor, row, norm.identifiers, event,
                               outcome.ucid))
        if not new:
            return stats
        stats.rows = len(new)
        people = {p.key: p for p in new}
        keys_of = {p.key: block_keys(p.row, self.spec) for p in new}
        wanted = sorted({k for ks in keys_of.values() for k in ks})
        for rows in self.store.many("get_block", [(k, MAX_BLOCK_ROWS) for k in wanted]):
            for r in rows:
                key = (r.source, r.record_id)
                if key in people:
                    continue
                person = dict(r.person or {})
                anchor = (r.anchor_type, r.anchor_value)
                people[key] = _Person(key, anchor, {c: person.get(c) for c in self.columns},
                                      candidate_identifiers(anchor, person, self.spec), None, r.ucid)
                stats.candidates += 1
        ordered = sorted(people.values(), key=lambda p: p.key)
        table = pa.table({ID_COLUMN: pa.array(range(len(ordered)), pa.int64()),
                          **{c: pa.array([p.row.get(c) for p in ordered], pa.string()) for c in self.columns}})
        scored = self.scorer.score(table)
        stats.pairs = len(scored)
        scoring = decide_scored(scored, [p.key for p in ordered], [p.anchor for p in ordered], self.model,
                                len(ordered), len(scored), [p.ids for p in ordered], self.trust)
        stats.review = len(scoring.review)
        fresh = {p.key for p in new}
        linked, stats.withheld = real_time_pairs(scoring, fresh)
        stats.linked_pairs = len(linked)
        self._link(linked, scoring.conflicts, people, fresh, stats)
        self._index(new, keys_of)
        stats.ms = (time.perf_counter() - started) * 1000
        log.debug("match", rows=stats.rows, candidates=stats.candidates, pairs=stats.pairs,
                  linked=stats.linked_pairs, withheld=stats.withheld, merges=stats.merges, ms=round(stats.ms, 1))
        return stats

    def _link(self, linked: list, conflicts: list[tuple[Identifier, Identifier]], people: dict,
              fresh: set[tuple[str, str]], stats: MatchStats) -> None:
        """Apply the model's edges of the new rows, strongest first (the batch's edge order
        for model edges), each under leases."""
        edges = match_edges(linked, self.spec)
        edges.sort(key=lambda e: (-e.match.weight, e.a, e.b))
        cache: dict[Identifier, str | None] = {}

        def live(anchor: Identifier) -> str | None:
            if anchor not in cache:
                row = self.store.one("get_identifier", anchor[0], anchor[1])
                cache[anchor] = None if row is None else self.store.follow(row.ucid).ucid
            return cache[anchor]

        def apart(ua: str, ub: str) -> bool:
            cache.clear()  # read under the leases: the UCIDs may have moved since
            for x, y in conflicts:
                ux, uy = live(x), live(y)
                if ux is not None and uy is not None and {ux, uy} == {ua, ub}:
                    return True
            return False

        for edge in edges:
            if edge.a[0] == RECORD_TYPE or edge.b[0] == RECORD_TYPE:
                continue  # a record without identifiers has no UCID in Cassandra: the batch links it
            record = next((k for k in edge.evidence if k in fresh), edge.evidence[0])
            event = people[record].event if record in fresh else next(p.event for p in people.values()
                                                                      if p.key in fresh)
            out = self.stitcher.link_model(edge.a, edge.b, edge.match, record, event, self.limits, apart)
            if out.kind == "merge":
                stats.merges += 1
                stats.merged.extend((event.event_id, loser, survivor) for loser, survivor in out.merged)
            elif out.kind == "refused":
                stats.refused += 1

    def _index(self, new: list[_Person], keys_of: dict[tuple[str, str], list[str]]) -> None:
        """Write the new rows into the blocking index, with their live UCID."""
        now = ts(int(time.time() * 1000))
        writes: list[tuple[str, tuple[Any, ...]]] = []
        found = self.store.many("get_identifier", [p.anchor for p in new])
        for p, rows in zip(new, found, strict=True):
            ucid = self.store.follow(rows[0].ucid).ucid if rows else p.ucid
            person = {c: v for c, v in p.row.items() if v is not None}
            for key in keys_of[p.key]:
                writes.append(("put_block", (key, p.key[0], p.key[1], p.anchor[0], p.anchor[1], ucid, person, now)))
        self.store.write_all(writes)


def candidate_identifiers(anchor: Identifier, person: dict[str, str], spec: MatchSpec) -> tuple[Identifier, ...]:
    """The identifiers of a candidate read from the blocking index, as far as its row tells them:
    its anchor (its strongest identifier, unless it has none) and the identifiers of the shared
    types (``spec.shared``: the index row's ``email`` / ``phone`` columns, each type's smallest
    value, :func:`identity.match.person_row`). Enough for
    :func:`identity.match.withheld_identifiers`, which looks at shared types only; a second
    e-mail of a candidate is not seen in real time."""
    out = [] if anchor[0] == RECORD_TYPE else [anchor]
    for column in spec.shared:
        value = person.get(column)
        if value and (column, value) not in out:
            out.append((column, value))
    return tuple(out)


def real_time_pairs(scoring: Scoring, fresh: set[tuple[str, str]]) -> tuple[list[ScoredPair], int]:
    """The linked pairs the speed layer applies, and how many it leaves to the batch: pairs with a
    new record (``fresh``) on one side and no record that withholds a shared identifier
    (``scoring.withheld``). Such a record was stitched through the identifier before scoring (to
    the identifier's other holders' UCID) and the speed layer does not split; the batch instead
    re-anchors it first and links it to the person the model finds. Linking it in real time would
    merge that person into the identifier's owner: the pair waits for the next batch run."""
    held = scoring.withheld
    mine = [p for p in scoring.linked if p.left in fresh or p.right in fresh]
    kept = [p for p in mine if p.left not in held and p.right not in held]
    return kept, len(mine) - len(kept)
