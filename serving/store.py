"""The serving layer's port to Cassandra: async reads with prepared statements.

One :class:`Store` per process, opened in the app's lifespan (never at import time). Every read
is a prepared statement run through :func:`serving.aio.execute` with the serving read
consistency; rows come back as dicts. Any driver failure is raised as :class:`StoreUnavailable`,
which the API answers with 503 and retry advice, never 500.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cassandra import ConsistencyLevel, DriverException
from cassandra.cluster import EXEC_PROFILE_DEFAULT, NoHostAvailable
from cassandra.connection import ConnectionException
from cassandra.query import dict_factory

from infra import cql
from serving.aio import execute
from infra.settings import ServingSettings
from infra.log import get_logger
from infra.settings import CassandraSettings

log = get_logger("serving.store")

PROFILE_UPDATES = "profile_updates"  # the speed layer's table (migration 002); optional here
SCHEMA_RECHECK_S = 60.0


class StoreUnavailable(RuntimeError):
    """Cassandra did not answer (down, timed out, or the keyspace is not migrated)."""


DRIVER_ERRORS = (NoHostAvailable, ConnectionException, DriverException, OSError)


Row = dict[str, Any]

_READS = {
    "identifier": "SELECT id_type, id_value, ucid, source, first_seen, last_seen, layer "
    "FROM {ks}.identifiers WHERE id_type = ? AND id_value = ?",
    "ucid": "SELECT ucid, status, merged_into, minted_at, updated_at, layer FROM {ks}.ucids WHERE ucid = ?",
    "alias": "SELECT alias, ucid, merged_at, rule, change_id FROM {ks}.ucid_aliases WHERE alias = ?",
    "identifiers_of": "SELECT id_type, id_value, source, first_seen, last_seen "
    "FROM {ks}.identifiers_by_ucid WHERE ucid = ? LIMIT 2000",
    "profile": "SELECT * FROM {ks}.profiles WHERE ucid = ?",
    "events_first": "SELECT * FROM {ks}.events_by_ucid WHERE ucid = ? LIMIT ?",
    "events_same_time": "SELECT * FROM {ks}.events_by_ucid WHERE ucid = ? AND event_time = ? "
    "AND event_id > ? LIMIT ?",
    "events_older": "SELECT * FROM {ks}.events_by_ucid WHERE ucid = ? AND event_time < ? LIMIT ?",
    "changes": "SELECT * FROM {ks}.identity_changes WHERE ucid = ? LIMIT 200",
    "links": "SELECT * FROM {ks}.links_by_ucid WHERE ucid = ? LIMIT 10000",
    "api_key": "SELECT key_id, secret_hash, name, scopes, created_at, revoked_at "
    "FROM {ks}.api_keys WHERE key_id = ?",
}


@dataclass
class Store:
    """Prepared reads against one keyspace; build with :meth:`connect`."""

    cluster: Any
    session: Any
    keyspace: str
    timeout_s: float
    exec_profile: Any
    prepared: dict[str, Any] = field(default_factory=dict)
    tables: frozenset[str] = frozenset()
    updates_by_time: bool = False  # profile_updates has applied_at as its first clustering column
    tables_checked_at: float = 0.0

    @classmethod
    def connect(cls, cassandra: CassandraSettings, serving: ServingSettings) -> Store:
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
        store = cls(cluster, session, cassandra.keyspace, serving.request_timeout_s, profile)
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

    def _refresh_tables_sync(self) -> None:
        try:
            rows = self.session.execute(
                "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s",
                (self.keyspace,), execution_profile=self.exec_profile,
            )
            tables = frozenset(r["table_name"] for r in rows)
            clustering = []
            if PROFILE_UPDATES in tables:
                cols = self.session.execute(
                    "SELECT column_name, kind, position FROM system_schema.columns "
                    "WHERE keyspace_name = %s AND table_name = %s",
                    (self.keyspace, PROFILE_UPDATES), execution_profile=self.exec_profile,
                )
                clustering = sorted((c["position"], c["column_name"]) for c in cols if c["kind"] == "clustering")
            for name, text in _READS.items():
                if name not in self.prepared and _table_of(text) in tables:
                    self.prepared[name] = self.session.prepare(text.format(ks=self.keyspace))
            if PROFILE_UPDATES in tables and "updates" not in self.prepared:
                self.updates_by_time = bool(clustering) and clustering[0][1] == "applied_at"
                where = "WHERE ucid = ? AND applied_at > ?" if self.updates_by_time else "WHERE ucid = ?"
                self.prepared["updates"] = self.session.prepare(
                    f"SELECT * FROM {self.keyspace}.{PROFILE_UPDATES} {where} LIMIT 5000"
                )
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
            raise StoreUnavailable(f"keyspace {self.keyspace} lacks the table for {name!r}: run `ucid stack up`")
        try:
            return await execute(self.session, statement, params, profile=self.exec_profile, timeout=self.timeout_s)
        except DRIVER_ERRORS as exc:
            raise StoreUnavailable(f"{name}: {type(exc).__name__}: {exc}") from exc

    async def _one(self, name: str, *params: Any) -> Row | None:
        rows = await self._rows(name, *params)
        return rows[0] if rows else None

    async def identifier(self, id_type: str, id_value: str) -> Row | None:
        return await self._one("identifier", id_type, id_value)

    async def ucid(self, ucid: str) -> Row | None:
        return await self._one("ucid", ucid)

    async def alias(self, alias: str) -> Row | None:
        return await self._one("alias", alias)

    async def identifiers_of(self, ucid: str) -> list[Row]:
        return await self._rows("identifiers_of", ucid)

    async def profile(self, ucid: str) -> Row | None:
        return await self._one("profile", ucid)

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
            return await self._rows("events_first", ucid, limit)
        same = await self._rows("events_same_time", ucid, before[0], before[1], limit)
        if len(same) >= limit:
            return same
        return same + await self._rows("events_older", ucid, before[0], limit - len(same))

    async def changes(self, ucid: str) -> list[Row]:
        return await self._rows("changes", ucid)

    async def links(self, ucid: str) -> list[Row]:
        return await self._rows("links", ucid)

    async def api_key(self, key_id: str) -> Row | None:
        return await self._one("api_key", key_id)

    async def schema_version(self) -> int:
        """Highest applied migration (0 if none); raises :class:`StoreUnavailable` if unreachable."""
        try:
            rows = await execute(
                self.session, f"SELECT version FROM {self.keyspace}.schema_migrations",
                profile=self.exec_profile, timeout=self.timeout_s,
            )
        except DRIVER_ERRORS as exc:
            raise StoreUnavailable(f"schema_migrations: {type(exc).__name__}: {exc}") from exc
        return max((r["version"] for r in rows), default=0)


def _table_of(text: str) -> str:
    return text.split("{ks}.", 1)[1].split()[0]
