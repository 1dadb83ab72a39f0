"""``ucid speed run``: consume events, stitch, update profiles, fire triggers, land for batch.

One :class:`SpeedConsumer` per process; processes sharing ``UCID_SPEED_GROUP_ID`` split the
partitions (a Kafka consumer group). The work is done per poll, not per event (each partition's
events in offset order), in a few rounds of requests to Cassandra whatever the poll's size:

1. parse each message against the event contract (size limits, a compiled schema, identifier
   values free of control characters); a broken one goes to the dead-letter topic (original key
   and bytes, the reason in the ``ucid.error`` header) and consumption goes on; drop (and count)
   the events of erased people (:mod:`speed.suppression`: one round of ``IN`` reads of the
   suppression list): they are neither applied nor landed;
2. drop events already applied (``applied_events``, by event id: one round of ``IN`` reads) or
   repeated in the poll;
3. stitch the poll (:meth:`speed.stitching.Stitcher.stitch_batch`: cached identifiers, one read
   of the graph, leases and LOGGED batches only where the graph changes), then write the
   profile effects in one round of grouped writes: the ``events_by_ucid`` and
   ``profile_updates`` rows (keyed by event id, one UNLOGGED batch per customer) and each
   customer's profile shard of the partition, folded over the poll (counts an offset once,
   :mod:`speed.profile`); evaluate the triggers;
4. land the valid events (:mod:`speed.landing`);
5. with a match model in force (``UCID_MATCH_MODEL_FILE``, as the batch), once for the whole
   poll: score the applied events carrying person attributes against their candidates in the
   blocking index and link as the batch would (:mod:`speed.matching`);
6. evaluate the computed traits and segments of the customers the poll touched
   (:mod:`speed.segments`: the same function as the batch's); send each membership change to the
   segment-changes topic, then write the memberships, traits and timeline rows;
7. mark the events applied, flush the producer;
8. only then commit the offsets: at least once, and every effect idempotent, so a replay or a
   restart after SIGKILL changes nothing and loses nothing.

A batch that fails (Cassandra timeout, ...) is logged, its in-memory state dropped and its
partitions rewound; it is retried after a pause. SIGTERM / SIGINT finish the current batch,
commit and leave the group.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafka import ConsumerRebalanceListener

from identity.consents import load_vocabulary
from identity.rules import load_policy
from identity.segments import load_definitions
from infra.log import get_logger
from infra.settings import Settings, SpeedSettings
from infra.store import Store, ms, ts
from speed import metrics as m
from speed.consents import check_rules, consent_writes, trigger_decision
from speed.contract import (
    ContractError,
    Event,
    EventLimits,
    landing_row,
    load_schema,
    parse_event,
    utc_iso,
)
from speed.landing import LandingWriter
from speed.profile import Shard, amount_of, apply_event, consent_changes
from speed.profile_store import shard_args, shard_from_row
from speed.segments import SegmentEngine
from speed.stitching import Stitcher
from speed.suppression import SuppressionFilter
from speed.triggers import Fire, Pending, TriggerEngine, load_triggers

log = get_logger("speed.consumer")

# statements whose rows are grouped by partition when written (their partition key's length)
GROUPED = {"event": 1, "update": 1, "put_shard": 1, "put_consent": 1}


class TopicMissing(RuntimeError):
    """The events topic does not exist on the brokers (``ucid stack up`` creates it)."""


@dataclass(slots=True)
class RunStats:
    """Counters of one run (also exported as Prometheus metrics)."""

    consumed: int = 0
    applied: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    refused: int = 0
    triggers: int = 0
    lease_retries: int = 0
    batches: int = 0
    model_links: int = 0
    model_refused: int = 0
    model_withheld: int = 0  # linked pairs left to the batch: a record withholds a shared identifier
    person_events: int = 0
    suppressed: int = 0  # events of erased people dropped (speed.suppression)
    segment_changes: int = 0  # membership changes sent to the segment-changes topic
    match_ms: float = 0.0
    first_data: float | None = None  # monotonic time the first poll with records returned
    last_commit: float | None = None  # monotonic time of the last commit
    latencies: deque = field(default_factory=lambda: deque(maxlen=200_000))


class SpeedConsumer:
    """The speed layer's consumer loop; see the module docstring for its promises."""

    def __init__(
        self,
        settings: Settings,
        speed: SpeedSettings | None = None,
        from_beginning: bool = False,
        idle_exit_s: float | None = None,
    ) -> None:
        self.settings = settings
        self.speed = speed or settings.speed
        self.from_beginning = from_beginning
        self.idle_exit_s = idle_exit_s
        self.stats = RunStats()
        self._stats_lock = threading.Lock()
        self.stopping = False
        prefix = settings.kafka.topic_prefix
        self.topic = prefix + self.speed.topic
        self.dlq_topic = prefix + self.speed.dlq_topic
        self.triggers_topic = prefix + self.speed.triggers_topic
        self.changes_topic = prefix + self.speed.changes_topic
        self.segments_topic = prefix + self.speed.segments_topic
        self.policy = load_policy(settings.conf_dir / "rules.yaml")
        self.validator = load_schema(self.speed.schema_path(settings.conf_dir))
        self.limits = EventLimits(self.speed.max_event_bytes, self.speed.max_attribute_bytes)
        self.id_types = tuple(sorted(t for t in self.policy.types))
        self.engine = TriggerEngine(load_triggers(self.speed.triggers_path(settings.conf_dir)))
        self.consents = load_vocabulary(settings.conf_dir / "consents.yaml")
        check_rules(self.consents, self.engine.rules)
        segments_file = settings.conf_dir / "segments.yaml"
        self.definitions = load_definitions(segments_file, self.consents) if segments_file.exists() else None
        self.segment_engine: SegmentEngine | None = None
        self._merged_away: set[str] = set()
        self.landing = LandingWriter(settings.landing / "stream")
        self.shards: dict[tuple[str, int], Shard] = {}
        self._seeked: set[Any] = set()
        self.model = None
        if settings.match.model_file is not None:
            from infra.match.model import load_model

            self.model = load_model(settings.match.model_file)
        self.matcher = None

    # -- lifecycle ---------------------------------------------------------------------------
    def stop(self, *_: Any) -> None:
        """Ask the loop to finish the current batch, commit and exit (signal-handler safe)."""
        self.stopping = True

    def run(self) -> RunStats:
        """Consume until stopped (or idle for ``idle_exit_s`` with no lag); returns the counters."""
        from kafka import KafkaConsumer, KafkaProducer

        from infra.cql import cluster

        cl = cluster(self.settings.cassandra)
        session = cl.connect()
        self.store = Store(session, self.settings.cassandra, self.speed.concurrency)
        self.stitcher = Stitcher(
            self.store, self.policy, self.speed.lock_ttl_s, self.speed.stitch_timeout_s, self.speed.cache_size,
            lease_buckets=self.speed.lease_buckets,
        )
        self.suppression = SuppressionFilter(self.store, self.policy, self.settings.privacy.key())
        if self.definitions is not None:
            self.segment_engine = SegmentEngine(self.store, self.definitions, self.consents)
        if self.model is not None:
            from identity.sources import load_sources
            from speed.matching import SpeedMatcher

            sources = load_sources(self.settings.conf_dir / "sources", known_types=set(self.policy.types))
            self.matcher = SpeedMatcher.create(self.store, self.stitcher, self.policy, self.model, sources)
        bootstrap = self.settings.kafka.bootstrap_servers
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=self.speed.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.speed.max_batch,
            max_partition_fetch_bytes=self.speed.partition_fetch_bytes,
            session_timeout_ms=self.speed.session_timeout_ms,
            heartbeat_interval_ms=max(1000, self.speed.session_timeout_ms // 4),
            client_id=f"ucid-speed-{self.stitcher.owner[:8]}",
            metadata_max_age_ms=self.speed.metadata_max_age_ms,
            max_poll_interval_ms=self.speed.max_poll_interval_ms,
        )
        self.consumer.subscribe([self.topic], listener=_Rebalance(self))
        # Fetch the topic metadata now, before the first poll joins the group: the assignment is
        # then made on known partitions and kafka-python's snapshot of them is current. Without
        # it the first join assigns nothing (or on a stale snapshot) and a second rebalance
        # follows at once; kafka-python 3.0.12 was seen to hang in that second join (CI, a replay
        # test stuck for 300 s with no partitions).
        if self.topic not in self.consumer.topics():
            self.consumer.close()
            self.producer.close()
            cl.shutdown()
            raise TopicMissing(f"topic {self.topic!r} does not exist on {bootstrap}: `ucid stack up` creates "
                               "the topics of infra/topics.yaml")
        m.serve(self.speed.metrics_port)
        previous = {s: signal.signal(s, self.stop) for s in (signal.SIGTERM, signal.SIGINT)}
        log.info("speed consumer started", topic=self.topic, group=self.speed.group_id,
                 keyspace=self.settings.cassandra.keyspace, landing=str(self.landing.root))
        try:
            self._loop()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.consumer.close()
            self.producer.flush()
            self.producer.close()
            cl.shutdown()
            log.info("speed consumer stopped", **self._summary())
        return self.stats

    def _loop(self) -> None:
        last_data = time.monotonic()
        last_report, reported = time.monotonic(), 0
        while not self.stopping:
            polled = self.consumer.poll(timeout_ms=self.speed.poll_timeout_ms, max_records=self.speed.max_batch)
            now = time.monotonic()
            if polled:
                last_data = now
                if self.stats.first_data is None:
                    self.stats.first_data = now
                self._batch(polled)
            if now - last_report >= self.speed.progress_s:
                rate = (self.stats.consumed - reported) / (now - last_report)
                m.RATE.set(rate)
                lag = self._lag()
                log.info("progress", events_per_s=round(rate, 1), lag=lag, **self._summary())
                last_report, reported = now, self.stats.consumed
            if self.idle_exit_s is not None and not polled and now - last_data >= self.idle_exit_s:
                if self.consumer.assignment() and self._lag() == 0:
                    log.info("idle, no lag: exiting", idle_s=self.idle_exit_s)
                    return

    def _lag(self) -> int:
        """Messages behind the end of the assigned partitions (asks the broker for the ends)."""
        total = 0
        assigned = list(self.consumer.assignment())
        ends = self.consumer.end_offsets(assigned) if assigned else {}
        for tp in assigned:
            lag = max(0, ends[tp] - self.consumer.position(tp))
            m.LAG.labels(str(tp.partition)).set(lag)
            total += lag
        return total

    def _summary(self) -> dict[str, Any]:
        s = self.stats
        return {"consumed": s.consumed, "applied": s.applied, "duplicates": s.duplicates, "suppressed": s.suppressed,
                "dead_letters": s.dead_letters, "refused_links": s.refused, "triggers": s.triggers,
                "segment_changes": s.segment_changes,
                "lease_retries": s.lease_retries,
                **({"person_events": s.person_events, "model_links": s.model_links,
                    "model_refused": s.model_refused, "model_withheld": s.model_withheld,
                    "match_ms": round(s.match_ms)} if self.matcher else {}),
                **{f"stitch_{k}": v for k, v in sorted(s.outcomes.items())}}

    # -- one batch -----------------------------------------------------------------------------
    def _batch(self, polled: dict[Any, list[Any]]) -> None:
        from kafka.structs import OffsetAndMetadata

        started = time.monotonic()
        try:
            done = self._apply(polled)
            if self.matcher is not None:
                self._match([(ev, out) for _, msg, ev, out in done])
            self._segments(done)
            self._mark_applied(done)
            self.producer.flush()
        except Exception as exc:  # noqa: BLE001 -- any failure: rewind, retry, never commit
            log.error("batch failed; rewinding and retrying", error=repr(exc))
            for tp, messages in polled.items():
                self._drop_state(tp.partition)
                self.consumer.seek(tp, messages[0].offset)
            time.sleep(1.0)
            return
        offsets = {tp: OffsetAndMetadata(msgs[-1].offset + 1, "", -1) for tp, msgs in polled.items()}
        self.consumer.commit(offsets)
        self.stats.last_commit = time.monotonic()
        finished = time.time()
        for messages in polled.values():
            for msg in messages:
                latency = max(0.0, finished - msg.timestamp / 1000)
                m.LATENCY.observe(latency)
                self.stats.latencies.append(latency)
        self.stats.batches += 1
        m.BATCH.observe(time.monotonic() - started)

    def _apply(self, polled: dict[Any, list[Any]]) -> list[tuple[Any, Any, Event, Any]]:
        """Apply a poll's messages, each partition's in offset order: check the contract, skip
        events already applied, stitch identities (the whole poll at once), write profiles and
        triggers, land the events for the batch layer. Returns the applied events, which
        :meth:`_mark_applied` marks after the poll's model step (last: a crash before it
        replays)."""
        self._merged_away = set()
        valid: list[tuple[Any, Any, Event]] = []
        for tp, messages in polled.items():
            self.stats.consumed += len(messages)
            valid.extend((tp, msg, ev) for msg, ev in self._valid(messages))
        valid = self._unsuppressed(valid)
        todo, applied_at = self._not_applied(valid)
        outcomes = self.stitcher.stitch_batch([ev for _, _, ev in todo])
        done = [(tp, msg, ev, self._count(ev, out)) for (tp, msg, ev), out in zip(todo, outcomes, strict=True)]
        self._write_profiles(list(polled), done, int(time.time() * 1000))
        self._land(valid, applied_at)
        return done

    def _unsuppressed(self, valid: list[tuple[Any, Any, Event]]) -> list[tuple[Any, Any, Event]]:
        """The events of no erased person: the others are dropped here, before stitching and
        landing, and counted (docs/privacy.md)."""
        kept = self.suppression.keep(valid)
        self.stats.suppressed += len(valid) - len(kept)
        m.EVENTS.labels("suppressed").inc(len(valid) - len(kept))
        return kept

    def _mark_applied(self, done: list[tuple[Any, Any, Event, Any]]) -> None:
        now = ts(int(time.time() * 1000))
        self.store.write_rows([("applied", (ev.event_id, out.ucid, out.kind, tp.topic, tp.partition, msg.offset,
                                            now)) for tp, msg, ev, out in done], {})
        self.stats.applied += len(done)
        m.EVENTS.labels("applied").inc(len(done))

    def _match(self, applied: list[tuple[Event, Any]]) -> None:
        """The poll's real-time model step (:mod:`speed.matching`); its merges are announced on
        the identity-changes topic like the stitcher's."""
        got = self.matcher.match(applied)
        self.stats.person_events += got.rows
        self.stats.model_links += got.merges
        self.stats.model_refused += got.refused
        self.stats.model_withheld += got.withheld
        self.stats.match_ms += got.ms
        for event_id, loser, survivor in got.merged:
            self._merged_away.add(loser)
            change = {"kind": "merge", "survivor": survivor, "merged": loser, "event_id": event_id,
                      "layer": "speed", "rule": self.matcher.spec.rule, "at": utc_iso(int(time.time() * 1000))}
            self.producer.send(self.changes_topic, key=survivor.encode(), value=json.dumps(change).encode())

    def _segments(self, done: list[tuple[Any, Any, Event, Any]]) -> None:
        """Traits and segments of the customers the poll touched (:mod:`speed.segments`), at the
        poll's processing time (or ``UCID_SPEED_SEGMENTS_NOW``): each change is sent (keyed by
        UCID, with its deterministic ``change_id``) and flushed before the rows are written, so a
        crash in between sends it again on the replay rather than losing it."""
        if self.segment_engine is None:
            return
        touched: dict[str, list[Event]] = {}
        for _, _, ev, out in done:
            if out.ucid:
                touched.setdefault(out.ucid, []).append(ev)
        fixed = self.speed.segments_now
        now_ms = fixed * 1000 if fixed is not None else int(time.time() * 1000)
        result = self.segment_engine.run(touched, self._merged_away, now_ms)
        for change in result.changes:
            self.producer.send(self.segments_topic, key=change.ucid.encode(),
                               value=json.dumps(change.record(), sort_keys=True).encode())
            m.SEGMENT_CHANGES.labels(change.change).inc()
        if result.changes:
            self.producer.flush()
        self.store.write_rows(result.writes, {"put_segment_of": 1, "put_segment_change": 1})
        self.stats.segment_changes += len(result.changes)

    def _valid(self, messages: list[Any]) -> list[tuple[Any, Event]]:
        """The messages that meet the event contract; the others go to the dead-letter topic."""
        valid: list[tuple[Any, Event]] = []
        for msg in messages:
            try:
                valid.append((msg, parse_event(msg.value, self.validator, self.policy, self.limits)))
            except ContractError as exc:
                self._dead_letter(msg, str(exc))
        return valid

    def _not_applied(self, valid: list[tuple[Any, Any, Event]]) -> tuple[list[tuple[Any, Any, Event]],
                                                                          dict[str, tuple]]:
        """The events to apply (not applied before, first of their id in this poll) and where the
        already-applied ones were applied (partition, offset): one round of ``IN`` reads."""
        rows = self.store.many_in("get_applied_in", [ev.event_id for _, _, ev in valid])
        applied_at = {r.event_id: (r.kafka_partition, r.kafka_offset) for r in rows}
        todo: list[tuple[Any, Any, Event]] = []
        seen: set[str] = set()
        for tp, msg, ev in valid:
            if ev.event_id in applied_at or ev.event_id in seen:
                self.stats.duplicates += 1
                m.EVENTS.labels("duplicate").inc()
                continue
            seen.add(ev.event_id)
            todo.append((tp, msg, ev))
        return todo, applied_at

    def _count(self, ev: Event, out: Any) -> Any:
        """Count one event's stitch outcome, and announce its merges on the identity-changes
        topic."""
        self.stats.outcomes[out.kind] = self.stats.outcomes.get(out.kind, 0) + 1
        self.stats.refused += out.refused
        self.stats.lease_retries += out.contended
        m.STITCH.labels(out.kind).inc()
        m.REFUSED.inc(out.refused)
        m.CONTENDED.inc(out.contended)
        for loser, survivor in out.merged:
            self._merged_away.add(loser)
            change = {"kind": "merge", "survivor": survivor, "merged": loser, "event_id": ev.event_id,
                      "layer": "speed", "at": utc_iso(int(time.time() * 1000))}
            self.producer.send(self.changes_topic, key=survivor.encode(), value=json.dumps(change).encode())
        return out

    def _write_profiles(self, tps: list[Any], done: list[tuple[Any, Any, Event, Any]], now_ms: int) -> None:
        """Timeline rows, profile deltas, the shard summaries and pending triggers of the applied
        events, in one round of grouped writes; then fire the triggers they caused."""
        store = self.store
        missing: dict[int, set[str]] = {}
        for tp, _, _, out in done:
            if out.ucid and (out.ucid, tp.partition) not in self.shards:
                missing.setdefault(tp.partition, set()).add(out.ucid)
        for shard, ucids in missing.items():
            for row in store.many_in("get_shard_in", sorted(ucids), after=(shard,)):
                self.shards[(row.ucid, shard)] = shard_from_row(row)
            for ucid in ucids:
                self.shards.setdefault((ucid, shard), Shard())
        writes: list[tuple[str, tuple]] = []
        changed: set[tuple[str, int]] = set()
        fires: list[Fire] = []
        for tp, msg, ev, out in done:
            if out.ucid is None:
                continue
            shard = tp.partition
            if apply_event(self.shards[(out.ucid, shard)], ev, msg.offset, self.speed.recent_events):
                changed.add((out.ucid, shard))
            attrs = {k: _text(v) for k, v in ev.attributes.items()}
            writes.append(("event", (out.ucid, ts(ev.time_ms), ev.event_id, ev.type, ev.channel, ev.source, attrs)))
            writes.append(("update", (out.ucid, ev.event_id, ts(now_ms), ts(ev.time_ms), ev.type, ev.channel,
                                      ev.source, amount_of(ev), consent_changes(ev), attrs)))
            writes.extend(consent_writes(self.consents, out.ucid, ev, now_ms))
            fires.extend(self.engine.observe(shard, out.ucid, ev))
        for ucid, shard in sorted(changed):
            writes.append(("put_shard", shard_args(ucid, shard, self.shards[(ucid, shard)], now_ms)))
        for tp in tps:
            shard = tp.partition
            fires.extend(self.engine.due(shard))
            for (rule, ucid), pending in self.engine.take_dirty(shard):
                if pending is None:
                    writes.append(("del_pending", (shard, rule, ucid)))
                else:
                    writes.append(("put_pending", (shard, rule, ucid, ts(pending.due), ts(pending.since),
                                                   pending.event_id)))
        store.write_rows(writes, GROUPED)
        self._emit(fires)

    def _land(self, valid: list[tuple[Any, Any, Event]], applied_at: dict[str, tuple]) -> None:
        """Write the valid events to the landing files the batch layer reads, a file per
        partition (an event replayed from another offset was landed where it was first applied)."""
        rows: dict[int, list[tuple[int, str, dict]]] = {}
        for tp, msg, ev in valid:
            shard = tp.partition
            rows.setdefault(shard, [])
            if applied_at.get(ev.event_id, (shard, msg.offset)) == (shard, msg.offset):
                rows[shard].append((msg.offset, _day(ev.time_ms), landing_row(ev, self.id_types)))
        for shard, landed in rows.items():
            self.landing.write(shard, landed)

    def _emit(self, fires: list[Fire]) -> None:
        """Claim each fire's (rule, customer, window) and send the claimed ones: at most once.
        The claims go together (one round); an abandoned cart paid since, on any shard, is not
        fired; a rule naming a purpose and channel fires only where the consent decision allows
        it (withheld before its claim: the window is not used up)."""
        paid = self._last_purchases({fire.ucid for fire in fires if fire.rule == "abandoned_cart"})
        wanted = []
        for fire in fires:
            if fire.rule == "abandoned_cart" and paid.get(fire.ucid, -1) >= fire.at:
                continue
            decision = trigger_decision(self.store, self.consents, self.engine.by_name[fire.rule], fire.ucid)
            if decision is not None and not decision.allowed:
                log.info("trigger withheld: no consent", rule=fire.rule, ucid=fire.ucid, reason=decision.reason)
                continue
            wanted.append(fire)
        now = int(time.time() * 1000)
        claims = self.store.applied_many("fire", [(fire.rule, fire.ucid, ts(fire.window_start), fire.event_id, ts(now))
                                                  for fire in wanted])
        for fire, claimed in zip(wanted, claims, strict=True):
            if not claimed:
                continue
            body = {"trigger": fire.rule, "ucid": fire.ucid, "event_id": fire.event_id,
                    "event_time": utc_iso(fire.at), "window_start": utc_iso(fire.window_start),
                    "fired_at": utc_iso(now)}
            self.producer.send(self.triggers_topic, key=fire.ucid.encode(), value=json.dumps(body).encode())
            with self._stats_lock:
                self.stats.triggers += 1
            m.TRIGGERS.labels(fire.rule).inc()

    def _last_purchases(self, ucids: set[str]) -> dict[str, int]:
        """The last purchase of each customer over all its shards (the cart may be paid via
        another key, on another partition)."""
        last: dict[str, int] = {}
        for row in self.store.many_in("get_shards_in", sorted(ucids)):
            if row.last_purchase is not None:
                last[row.ucid] = max(last.get(row.ucid, -1), ms(row.last_purchase))
        return last

    def _dead_letter(self, msg: Any, reason: str) -> None:
        headers = [
            ("ucid.error", reason.encode()),
            ("ucid.source", f"{msg.topic}:{msg.partition}:{msg.offset}".encode()),
            ("ucid.failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        self.producer.send(self.dlq_topic, key=msg.key, value=msg.value or b"", headers=headers)
        with self._stats_lock:
            self.stats.dead_letters += 1
        m.DEAD_LETTERS.inc()
        m.EVENTS.labels("dead_letter").inc()
        log.warning("dead letter", reason=reason, partition=msg.partition, offset=msg.offset)

    # -- partition state -----------------------------------------------------------------------
    def _drop_state(self, shard: int) -> None:
        for key in [k for k in list(self.shards) if k[1] == shard]:
            self.shards.pop(key, None)
        self.engine.forget(shard)
        self.landing.forget(shard)
        self._load_pending(shard)

    def _load_pending(self, shard: int) -> None:
        entries = {(r.rule, r.ucid): Pending(_ms(r.since), _ms(r.due_at), r.event_id)
                   for r in self.store.all("get_pending", shard)}
        self.engine.load(shard, entries)


class _Rebalance(ConsumerRebalanceListener):
    """Drop a revoked partition's cached state; load an assigned one's pending triggers."""

    def __init__(self, owner: SpeedConsumer) -> None:
        self.owner = owner

    def on_partitions_revoked(self, revoked: Any) -> None:
        for tp in revoked:
            for key in [k for k in list(self.owner.shards) if k[1] == tp.partition]:
                self.owner.shards.pop(key, None)
            self.owner.engine.forget(tp.partition)
            self.owner.landing.forget(tp.partition)
        log.info("partitions revoked", partitions=sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        for tp in assigned:
            self.owner._load_pending(tp.partition)
        fresh = [tp for tp in assigned if tp not in self.owner._seeked]
        if self.owner.from_beginning and fresh:
            self.owner.consumer.seek_to_beginning(*fresh)
            self.owner._seeked.update(fresh)
        log.info("partitions assigned", partitions=sorted(tp.partition for tp in assigned))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _day(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, UTC).strftime("%Y-%m-%d")


def _ms(value: Any) -> int:
    from infra.store import ms

    return ms(value) or 0
