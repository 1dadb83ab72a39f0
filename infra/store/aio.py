"""The asyncio store of the API: the same named statements, awaited without blocking the loop.

One :class:`AsyncStore` per process, opened in the app's lifespan (never at import time). Every
read runs with the serving read consistency and request timeout; rows come back as dicts. The
API's one write is the audit trail (``audit_by_ucid``, append-only), at the write consistency. Any
driver failure is raised as :class:`StoreUnavailable`, which the API answers with 503 and retry
advice, never 500. The driver has no native asyncio API: ``execute_async`` callbacks run on the
driver's I/O thread and hand results to the loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cassandra import ConsistencyLevel, DriverException
from cassandra.cluster import EXEC_PROFILE_DEFAULT, NoHostAvailable
from cassandra.connection import ConnectionException
from cassandra.query import dict_factory
from cassandra.util import uuid_from_time

from identity.aliases import MAX_ALIAS_HOPS, Followed, UcidRecord, follow_steps
from infra import cql
from infra.log import get_logger
from infra.settings import CassandraSettings, ServingSettings
from infra.store.coalesce import Coalescer
from infra.store.statements import ERASE_BY_UCID, STATEMENTS, table_of

log = get_logger("infra.store.aio")

SCHEMA_RECHECK_S = 60.0
DRIVER_ERRORS = (NoHostAvailable, ConnectionException, DriverException, OSError)
Row = dict[str, Any]

# the statements the API runs; a table missing from the keyspace leaves its reads unprepared
API_READS = ("get_identifier", "get_identifiers_in", "get_ucid", "get_alias", "get_members", "get_profile", "get_events_first",
             "get_events_same_time", "get_events_older", "get_changes", "get_links", "get_api_key", "get_consents",
             "get_contacts", "get_contact_summary", "get_fired_latest", "get_pending_of",
             # computed traits and segments (migration 012)
             "get_traits", "get_segments_of", "get_segment_changes", "get_segment_members_first",
             "get_segment_members_after", "count_segment_members")
# reads that need a migration which adds more than their own table: the table that tells it is there
NEEDS = {"get_contact_summary": "contacts_by_ucid"}
# ... and its one write (issue 16): without the table, audited reads answer 503, never unaudited
API_WRITES = ("put_audit",)
# the erasure's writes (issue 16; serving.erasure): the suppression list, the receipt, the deletes
ERASE_WRITES = ("put_suppression", "put_erasure", "erase_identifier", "erase_ucid_aliases", "erase_applied_events",
                "erase_segment_members",
                *(f"erase_{t}" for t in ERASE_BY_UCID))


class StoreUnavailable(RuntimeError):
    """Cassandra did not answer (down, timed out, or the keyspace is not migrated)."""


class MissingTable(StoreUnavailable):
    """The keyspace lacks the table of a statement (not migrated: run ``ucid stack up``)."""


def _set_result(future: asyncio.Future, value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future, exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


async def execute(session, statement, params=None, *, profile=None, timeout=None) -> list:
    """Run ``statement`` and return the rows of its first page as a list (callers bound their
    result sizes with ``LIMIT``). Never blocks the event loop; driver errors are raised unchanged."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    kwargs = {}
    if profile is not None:
        kwargs["execution_profile"] = profile
    if timeout is not None:
        kwargs["timeout"] = timeout
    response = session.execute_async(statement, params, **kwargs)

    def on_rows(rows) -> None:
        loop.call_soon_threadsafe(_set_result, future, list(rows) if rows is not None else [])

    def on_error(exc: BaseException) -> None:
        loop.call_soon_threadsafe(_set_exception, future, exc)

    response.add_callbacks(on_rows, on_error)
    return await future


class ApiReads(Protocol):
    """What the API reads, and its one write (the audit trail): :class:`AsyncStore` against
    Cassandra, a dict-backed fake in unit tests. Every method raises :class:`StoreUnavailable`
    when the store does not answer."""

    has_speed_updates: bool

    async def identifier(self, id_type: str, id_value: str) -> Row | None: ...
    async def ucid(self, ucid: str) -> Row | None: ...
    async def alias(self, alias: str) -> Row | None: ...
    async def identifiers_of(self, ucid: str) -> list[Row]: ...
    async def profile(self, ucid: str) -> Row | None: ...
    async def profile_updates(self, ucid: str, after: datetime | None) -> list[Row]: ...
    async def events(self, ucid: str, limit: int, before: tuple[datetime, str] | None) -> list[Row]: ...
    async def changes(self, ucid: str) -> list[Row]: ...
    async def links(self, ucid: str) -> list[Row]: ...
    async def api_key(self, key_id: str) -> Row | None: ...
    async def consents(self, ucid: str) -> list[Row]: ...
    async def contacts(self, ucid: str, limit: int) -> list[Row]: ...
    async def contact_summary(self, ucid: str) -> Row | None: ...
    async def traits(self, ucid: str) -> Row | None: ...
    async def segments_of(self, ucid: str) -> list[Row]: ...
    async def segment_changes(self, ucid: str, limit: int) -> list[Row]: ...
    async def segment_members(self, segment: str, after: str | None, limit: int) -> list[Row]: ...
    async def segment_count(self, segment: str) -> int: ...
    async def fired_latest(self, rule: str, ucid: str) -> Row | None: ...
    async def pending(self, shards: list[int], rule: str, ucid: str) -> list[Row]: ...
    async def record_access(self, ucid: str, action: str, key_id: str, key_name: str, via: str,
                            requested_ucid: str | None) -> None: ...
    async def schema_version(self) -> int: ...
    async def refresh_tables(self, force: bool = False) -> None: ...


@dataclass
class AsyncStore:
    """Prepared reads (and the audit write) against one keyspace; build with :meth:`connect`."""

    cluster: Any
    session: Any
    keyspace: str
    timeout_s: float
    exec_profile: Any
    prepared: dict[str, Any] = field(default_factory=dict)
    tables: frozenset[str] = frozenset()
    updates_by_time: bool = False  # profile_updates has applied_at as its first clustering column
    tables_checked_at: float = 0.0
    coalescer: Coalescer | None = None  # identifier reads of one loop turn fetched together
    write_consistency: int = ConsistencyLevel.LOCAL_QUORUM  # of the audit write

    @classmethod
    def connect(cls, cassandra: CassandraSettings, serving: ServingSettings) -> AsyncStore:
        """Connect, prepare every read and look at the schema (blocking: call it off the loop).

        Raises :class:`StoreUnavailable` if the cluster does not answer.
        """
        cluster = cql.cluster(cassandra, request_timeout_s=serving.request_timeout_s)
        try:
            session = cluster.connect()
        except DRIVER_ERRORS as exc:
            cluster.shutdown()
            raise StoreUnavailable(f"cannot connect to Cassandra at {cassandra.hosts}: {exc}") from exc
        level = serving.read_consistency or cassandra.read_consistency
        profile = session.execution_profile_clone_update(
            EXEC_PROFILE_DEFAULT,
            row_factory=dict_factory,
            consistency_level=ConsistencyLevel.name_to_value[level],
            request_timeout=serving.request_timeout_s,
        )
        store = cls(cluster, session, cassandra.keyspace, serving.request_timeout_s, profile,
                    write_consistency=ConsistencyLevel.name_to_value[cassandra.write_consistency])
        if serving.coalesce_max > 1:
            store.coalescer = Coalescer(store._identifiers, serving.coalesce_max)
        try:
            store._refresh_tables_sync()
        except Exception:
            store.close()
            raise
        log.info("cassandra connected", hosts=cassandra.hosts, keyspace=cassandra.keyspace,
                 consistency=level, tables=sorted(store.tables))
        return store

    def close(self) -> None:
        self.cluster.shutdown()

    # -- schema ---------------------------------------------------------------------------------

    def _prepare(self, name: str) -> None:
        statement = self.session.prepare(STATEMENTS[name].format(ks=self.keyspace))
        if name in API_WRITES or name in ERASE_WRITES:  # a write: at the write consistency, safe to retry (its key is fixed)
            statement.consistency_level = self.write_consistency
            statement.is_idempotent = True
        self.prepared[name] = statement

    def _refresh_tables_sync(self) -> None:
        try:
            rows = self.session.execute(
                "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s",
                (self.keyspace,), execution_profile=self.exec_profile,
            )
            tables = frozenset(r["table_name"] for r in rows)
            for name in API_READS + API_WRITES + ERASE_WRITES:
                if name not in self.prepared and table_of(name) in tables and NEEDS.get(name, table_of(name)) in tables:
                    self._prepare(name)
            if "profile_updates" in tables and "updates" not in self.prepared:
                cols = self.session.execute(
                    "SELECT column_name, kind, position FROM system_schema.columns "
                    "WHERE keyspace_name = %s AND table_name = %s",
                    (self.keyspace, "profile_updates"), execution_profile=self.exec_profile,
                )
                clustering = sorted((c["position"], c["column_name"]) for c in cols if c["kind"] == "clustering")
                self.updates_by_time = bool(clustering) and clustering[0][1] == "applied_at"
                name = "get_updates_after" if self.updates_by_time else "get_updates"
                self.prepared["updates"] = self.session.prepare(STATEMENTS[name].format(ks=self.keyspace))
        except DRIVER_ERRORS as exc:
            raise StoreUnavailable(f"cannot read the schema of keyspace {self.keyspace}: {exc}") from exc
        self.tables = tables
        self.tables_checked_at = time.monotonic()

    async def refresh_tables(self, force: bool = False) -> None:
        """Look again for tables added since start (e.g. the speed layer's ``profile_updates``)."""
        if force or time.monotonic() - self.tables_checked_at > SCHEMA_RECHECK_S:
            await asyncio.get_running_loop().run_in_executor(None, self._refresh_tables_sync)

    @property
    def has_speed_updates(self) -> bool:
        return "updates" in self.prepared

    # -- reads ----------------------------------------------------------------------------------

    async def _rows(self, name: str, *params: Any) -> list[Row]:
        statement = self.prepared.get(name)
        if statement is None:
            raise MissingTable(f"keyspace {self.keyspace} lacks the table for {name!r}: run `ucid stack up`")
        try:
            return await execute(self.session, statement, params, profile=self.exec_profile, timeout=self.timeout_s)
        except DRIVER_ERRORS as exc:
            raise StoreUnavailable(f"{name}: {type(exc).__name__}: {exc}") from exc

    async def _one(self, name: str, *params: Any) -> Row | None:
        rows = await self._rows(name, *params)
        return rows[0] if rows else None

    async def identifier(self, id_type: str, id_value: str) -> Row | None:
        if self.coalescer is None:
            return await self._one("get_identifier", id_type, id_value)
        return await self.coalescer.get(id_type, id_value)

    async def _identifiers(self, id_type: str, values: list[str]) -> dict[str, Row]:
        """The ``identifiers`` rows of ``values`` (one type), by value: one read either way."""
        if len(values) == 1:
            row = await self._one("get_identifier", id_type, values[0])
            return {values[0]: row} if row is not None else {}
        return {r["id_value"]: r for r in await self._rows("get_identifiers_in", id_type, values)}

    async def ucid(self, ucid: str) -> Row | None:
        return await self._one("get_ucid", ucid)

    async def alias(self, alias: str) -> Row | None:
        return await self._one("get_alias", alias)

    async def identifiers_of(self, ucid: str) -> list[Row]:
        return await self._rows("get_members", ucid)

    async def profile(self, ucid: str) -> Row | None:
        return await self._one("get_profile", ucid)

    async def profile_updates(self, ucid: str, after: datetime | None) -> list[Row]:
        """Speed-layer profile rows of ``ucid`` applied after ``after`` (all if ``None``);
        empty when the speed layer's table does not exist."""
        if not self.has_speed_updates:
            return []
        if self.updates_by_time:
            rows = await self._rows("updates", ucid, after or datetime(1970, 1, 1))
        else:
            rows = await self._rows("updates", ucid)
        if after is not None:
            rows = [r for r in rows if r.get("applied_at") is None or r["applied_at"] > after]
        return rows

    async def events(self, ucid: str, limit: int, before: tuple[datetime, str] | None) -> list[Row]:
        """Up to ``limit`` events of ``ucid``, newest first, strictly after the cursor ``before``
        (an ``(event_time, event_id)`` of the previous page's last event) in timeline order."""
        if before is None:
            return await self._rows("get_events_first", ucid, limit)
        same = await self._rows("get_events_same_time", ucid, before[0], before[1], limit)
        if len(same) >= limit:
            return same
        return same + await self._rows("get_events_older", ucid, before[0], limit - len(same))

    async def changes(self, ucid: str) -> list[Row]:
        return await self._rows("get_changes", ucid)

    async def links(self, ucid: str) -> list[Row]:
        return await self._rows("get_links", ucid)

    async def api_key(self, key_id: str) -> Row | None:
        return await self._one("get_api_key", key_id)

    async def consents(self, ucid: str) -> list[Row]:
        """The consent statements recorded under ``ucid`` (migration 009); a keyspace without the
        table (looked for again first, at most once a minute) raises :class:`MissingTable`."""
        if "get_consents" not in self.prepared:
            await self.refresh_tables()
        return await self._rows("get_consents", ucid)

    async def contacts(self, ucid: str, limit: int) -> list[Row]:
        """The newest ``limit`` contacts of ``ucid`` (batch contact history, migration 010)."""
        return await self._rows("get_contacts", ucid, limit)

    async def contact_summary(self, ucid: str) -> Row | None:
        """The profile's contact summary of ``ucid``; ``None`` before migration 010."""
        if "get_contact_summary" not in self.prepared:
            return None
        return await self._one("get_contact_summary", ucid)

    # computed traits and segments (migration 012): a keyspace without them has none
    async def traits(self, ucid: str) -> Row | None:
        if "get_traits" not in self.prepared:
            return None
        return await self._one("get_traits", ucid)

    async def segments_of(self, ucid: str) -> list[Row]:
        if "get_segments_of" not in self.prepared:
            return []
        return await self._rows("get_segments_of", ucid)

    async def segment_changes(self, ucid: str, limit: int) -> list[Row]:
        if "get_segment_changes" not in self.prepared:
            return []
        return await self._rows("get_segment_changes", ucid, limit)

    async def segment_members(self, segment: str, after: str | None, limit: int) -> list[Row]:
        """Members of ``segment`` in UCID order, after the UCID ``after`` (the cursor)."""
        if after is None:
            return await self._rows("get_segment_members_first", segment, limit)
        return await self._rows("get_segment_members_after", segment, after, limit)

    async def segment_count(self, segment: str) -> int:
        row = await self._one("count_segment_members", segment)
        return int((row or {}).get("n") or 0)

    async def fired_latest(self, rule: str, ucid: str) -> Row | None:
        """The latest ``trigger_fired`` row of ``rule`` for ``ucid`` (its newest window)."""
        return await self._one("get_fired_latest", rule, ucid)

    async def pending(self, shards: list[int], rule: str, ucid: str) -> list[Row]:
        """The ``trigger_pending`` rows of ``rule`` for ``ucid`` on any of ``shards`` (the speed
        layer keeps a waiting absence under its Kafka partition)."""
        return await self._rows("get_pending_of", list(shards), rule, ucid)

    async def record_access(self, ucid: str, action: str, key_id: str, key_name: str, via: str,
                            requested_ucid: str | None) -> None:
        """Append one row to the audit trail (``audit_by_ucid``), at a fresh timeuuid. A keyspace
        without the table (looked for again first, at most once a minute) raises
        :class:`MissingTable`."""
        if "put_audit" not in self.prepared:
            await self.refresh_tables()
        await self._rows("put_audit", ucid, new_timeuuid(), action, key_id, key_name, via, requested_ucid)

    async def write_all(self, writes: list[tuple[str, tuple]]) -> None:
        """Run the named erasure writes (:data:`ERASE_WRITES`) at once, at the write consistency;
        a keyspace without their table (migration 011) raises :class:`MissingTable`."""
        if any(name not in self.prepared for name, _ in writes):
            await self.refresh_tables(force=True)
        await asyncio.gather(*(self._rows(name, *params) for name, params in writes))

    async def schema_version(self) -> int:
        """Highest applied migration (0 if none); raises :class:`StoreUnavailable` if unreachable."""
        try:
            rows = await execute(
                self.session, STATEMENTS["get_schema_versions"].format(ks=self.keyspace),
                profile=self.exec_profile, timeout=self.timeout_s,
            )
        except DRIVER_ERRORS as exc:
            raise StoreUnavailable(f"schema_migrations: {type(exc).__name__}: {exc}") from exc
        return max((r["version"] for r in rows), default=0)


def new_timeuuid() -> uuid.UUID:
    """A version-1 UUID of now (random node and clock sequence: no host address in it)."""
    return uuid_from_time(time.time())


async def follow_async(store: ApiReads, ucid: str, max_hops: int = MAX_ALIAS_HOPS) -> Followed:
    """:func:`identity.aliases.follow` driven by awaited ``store.ucid`` reads."""
    steps = follow_steps(ucid, max_hops)
    wanted = next(steps)
    while True:
        row = await store.ucid(wanted)
        record = None if row is None else UcidRecord(row.get("status"), row.get("merged_into"))
        try:
            wanted = steps.send(record)
        except StopIteration as done:
            return done.value
