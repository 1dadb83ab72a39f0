"""Cassandra access of the speed layer: prepared statements, reads, leases, atomic writes.

One :class:`Store` per process, built on a connected session. Statements are prepared once;
writes use the configured write consistency, reads the read consistency, lightweight
transactions ``LOCAL_SERIAL``. Timestamps cross this boundary as epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import BatchStatement, BatchType, PreparedStatement

from infra.settings import CassandraSettings


def ts(ms: int | None) -> datetime | None:
    """Epoch milliseconds -> aware UTC datetime (what the driver writes as a CQL timestamp)."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def ms(value: datetime | None) -> int | None:
    """A CQL timestamp read back (naive UTC) -> epoch milliseconds."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


_STATEMENTS = {
    # identity reads
    "get_identifier": "SELECT ucid FROM {ks}.identifiers WHERE id_type = ? AND id_value = ?",
    "get_ucid": "SELECT status, merged_into, minted_at FROM {ks}.ucids WHERE ucid = ?",
    "get_alias": "SELECT ucid FROM {ks}.ucid_aliases WHERE alias = ?",
    "get_members": "SELECT id_type, id_value FROM {ks}.identifiers_by_ucid WHERE ucid = ?",
    # leases
    "lock": "INSERT INTO {ks}.speed_locks (name, owner, acquired_at) VALUES (?, ?, toTimestamp(now())) IF NOT EXISTS USING TTL ?",
    "unlock": "DELETE FROM {ks}.speed_locks WHERE name = ? IF owner = ?",
    # identity writes (inside one logged batch)
    "mint": "INSERT INTO {ks}.ucids (ucid, minted_at, status, updated_at, layer) VALUES (?, ?, 'live', ?, 'speed')",
    "claim": "INSERT INTO {ks}.identifiers (id_type, id_value, ucid, source, first_seen, last_seen, layer) VALUES (?, ?, ?, ?, ?, ?, 'speed')",
    "member": "INSERT INTO {ks}.identifiers_by_ucid (ucid, id_type, id_value, source, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)",
    "merged": "UPDATE {ks}.ucids SET status = 'merged', merged_into = ?, updated_at = ?, layer = 'speed' WHERE ucid = ?",
    "alias": "INSERT INTO {ks}.ucid_aliases (alias, ucid, merged_at, rule, change_id) VALUES (?, ?, ?, ?, ?)",
    "change": "INSERT INTO {ks}.identity_changes (ucid, changed_at, change_id, kind, old_ucids, rule, evidence) VALUES (?, ?, ?, ?, ?, ?, ?)",
    "link": "INSERT INTO {ks}.links_by_ucid (ucid, link_id, from_type, from_value, to_type, to_value, rule, source, record_id, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "repoint": "UPDATE {ks}.identifiers SET ucid = ?, layer = 'speed' WHERE id_type = ? AND id_value = ? IF ucid = ?",
    # events and profiles
    "get_applied": "SELECT event_id, kafka_partition, kafka_offset FROM {ks}.applied_events WHERE event_id = ?",
    "applied": "INSERT INTO {ks}.applied_events (event_id, ucid, outcome, topic, kafka_partition, kafka_offset, applied_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    "event": "INSERT INTO {ks}.events_by_ucid (ucid, event_time, event_id, type, channel, source, attributes) VALUES (?, ?, ?, ?, ?, ?, ?)",
    "update": "INSERT INTO {ks}.profile_updates (ucid, event_id, applied_at, event_time, type, channel, source, amount, consents, attributes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "get_shard": "SELECT * FROM {ks}.speed_profiles WHERE ucid = ? AND shard = ?",
    "get_shards": "SELECT * FROM {ks}.speed_profiles WHERE ucid = ?",
    "put_shard": (
        "INSERT INTO {ks}.speed_profiles (ucid, shard, applied_offset, first_seen, last_seen, event_count, "
        "channel_counts, type_counts, last_contact, consents, consent_times, preferences, spend, last_purchase, "
        "last_cart, recent, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ),
    "get_changes": "SELECT kind, old_ucids FROM {ks}.identity_changes WHERE ucid = ?",
    # triggers
    "fire": "INSERT INTO {ks}.trigger_fired (rule, ucid, window_start, event_id, fired_at) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS",
    "get_pending": "SELECT rule, ucid, due_at, since, event_id FROM {ks}.trigger_pending WHERE shard = ?",
    "put_pending": "INSERT INTO {ks}.trigger_pending (shard, rule, ucid, due_at, since, event_id) VALUES (?, ?, ?, ?, ?, ?)",
    "del_pending": "DELETE FROM {ks}.trigger_pending WHERE shard = ? AND rule = ? AND ucid = ?",
}

_LWT = {"lock", "unlock", "repoint", "fire"}
_READS = {name for name in _STATEMENTS if name.startswith("get_")}


class Store:
    """Prepared statements over one session; every method is a thin, documented query."""

    def __init__(self, session: Any, settings: CassandraSettings, concurrency: int = 32) -> None:
        self.session = session
        self.concurrency = concurrency
        read_cl = ConsistencyLevel.name_to_value[settings.read_consistency]
        self.write_cl = ConsistencyLevel.name_to_value[settings.write_consistency]
        self.q: dict[str, PreparedStatement] = {}
        for name, cql in _STATEMENTS.items():
            stmt = session.prepare(cql.format(ks=settings.keyspace))
            stmt.consistency_level = read_cl if name in _READS else self.write_cl
            if name in _LWT:
                stmt.serial_consistency_level = ConsistencyLevel.LOCAL_SERIAL
            self.q[name] = stmt

    # -- plain helpers ---------------------------------------------------------------------
    def one(self, name: str, *args: Any) -> Any:
        return self.session.execute(self.q[name], args).one()

    def all(self, name: str, *args: Any) -> list[Any]:
        return list(self.session.execute(self.q[name], args))

    def many(self, name: str, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """Run one statement for many argument tuples concurrently; raise on the first error.
        Returns the result rows (a list per tuple), in input order."""
        if not rows:
            return []
        if len(rows) <= self.concurrency:  # the common case: a few keys, no scheduling overhead
            futures = [self.session.execute_async(self.q[name], args) for args in rows]
            return [list(f.result()) for f in futures]
        results = execute_concurrent_with_args(
            self.session, self.q[name], rows, concurrency=self.concurrency, raise_on_first_error=True
        )
        return [list(r.result_or_exc) if r.success else [] for r in results]

    def write_all(self, writes: Iterable[tuple[str, Sequence[Any]]]) -> None:
        """Run independent writes concurrently (each idempotent); raise on the first error."""
        by_name: dict[str, list[Sequence[Any]]] = {}
        for name, args in writes:
            by_name.setdefault(name, []).append(args)
        futures = []
        for name, rows in by_name.items():
            for args in rows:
                futures.append(self.session.execute_async(self.q[name], args))
                if len(futures) >= self.concurrency:
                    futures.pop(0).result()
        for f in futures:
            f.result()

    def atomic(self, writes: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Apply ``writes`` as one LOGGED batch: all of them eventually apply, or none."""
        if not writes:
            return
        batch = BatchStatement(batch_type=BatchType.LOGGED, consistency_level=self.write_cl)
        for name, args in writes:
            batch.add(self.q[name], args)
        self.session.execute(batch)

    # -- leases ----------------------------------------------------------------------------
    def lock(self, names: Sequence[str], owner: str, ttl_s: int) -> bool:
        """Take every lease of ``names`` (in the given order) or none: on the first one held by
        someone else, release those taken and return False."""
        taken: list[str] = []
        for name in names:
            if self.session.execute(self.q["lock"], (name, owner, ttl_s)).was_applied:
                taken.append(name)
            else:
                self.unlock(taken, owner)
                return False
        return True

    def unlock(self, names: Sequence[str], owner: str, wait: bool = True) -> list[Any]:
        """Release leases held by ``owner`` (a lease taken over after expiry is left alone).
        ``wait=False`` returns the pending futures instead of waiting for them."""
        futures = [self.session.execute_async(self.q["unlock"], (n, owner)) for n in names]
        if wait:
            for f in futures:
                f.result()
            return []
        return futures
