"""The blocking store: every statement of :mod:`infra.store.statements`, prepared once per session.

Used by the speed layer, the batch publish and validation, the speed state read back by the
batch, the CLI and the tests. Writes run at the write consistency, reads at the read
consistency, lightweight transactions at ``LOCAL_SERIAL``. Timestamps cross this boundary as
epoch milliseconds (:func:`ts` / :func:`ms`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.concurrent import execute_concurrent, execute_concurrent_with_args
from cassandra.query import BatchStatement, BatchType, PreparedStatement

from identity.aliases import MAX_ALIAS_HOPS, Followed, UcidRecord, follow
from infra.cql import cluster as cql_cluster
from infra.settings import CassandraSettings
from infra.store.statements import LWT, READS, STATEMENTS

BATCH_ROWS = 10  # Cassandra's unlogged_batch_across_partitions_warn_threshold
IN_KEYS = 100  # keys per IN read: one request, a bounded fan-out on the coordinator
BATCH_BYTES = 1800  # of bound values: Cassandra's batch_size_warn_threshold (5 KiB) counts mutations, ~2.7x


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


def _applied(result: Any) -> bool:
    """Whether a lightweight transaction applied: the first column of its first row,
    ``[applied]`` (the driver's ``was_applied`` knows only the driver's own row factories, not
    :func:`infra.cql.row_factory`)."""
    row = result.one()
    return row is not None and bool(row[0])


class Store:
    """Named statements over one session. Build with :meth:`connect` (owns its cluster) or on
    a connected session; statements are prepared on first use and kept."""

    def __init__(self, session: Any, settings: CassandraSettings, concurrency: int = 32, owner: Any = None) -> None:
        self.session = session
        self.keyspace = settings.keyspace
        self.concurrency = concurrency
        self.read_cl = ConsistencyLevel.name_to_value[settings.read_consistency]
        self.write_cl = ConsistencyLevel.name_to_value[settings.write_consistency]
        self._prepared: dict[str, PreparedStatement] = {}
        self._owner = owner

    @classmethod
    def connect(cls, settings: CassandraSettings, request_timeout_s: float = 30, concurrency: int = 32) -> Store:
        """A store with its own driver cluster; :meth:`close` shuts it down."""
        owner = cql_cluster(settings, request_timeout_s=request_timeout_s)
        return cls(owner.connect(), settings, concurrency, owner)

    def close(self) -> None:
        if self._owner is not None:
            self._owner.shutdown()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def statement(self, name: str) -> PreparedStatement:
        """The prepared statement ``name`` (prepared once, with its consistency levels)."""
        stmt = self._prepared.get(name)
        if stmt is None:
            stmt = self.session.prepare(STATEMENTS[name].format(ks=self.keyspace))
            stmt.consistency_level = self.read_cl if name in READS else self.write_cl
            if name in LWT:
                stmt.serial_consistency_level = ConsistencyLevel.LOCAL_SERIAL
            self._prepared[name] = stmt
        return stmt

    def timed(self, name: str, args: Sequence[Any], micros: int) -> Any:
        """``name`` bound with an explicit write time (``USING TIMESTAMP``, epoch microseconds):
        writes in one batch otherwise share the batch's time, and two of them to one cell are
        then settled by value, not by order."""
        key = f"{name}@timed"
        stmt = self._prepared.get(key)
        first = STATEMENTS[name].startswith("UPDATE")
        if stmt is None:
            text = STATEMENTS[name].format(ks=self.keyspace)
            if first:  # UPDATE ks.t USING TIMESTAMP ? SET ...
                table, rest = text[len("UPDATE "):].split(" SET ", 1)
                text = f"UPDATE {table} USING TIMESTAMP ? SET {rest}"
            elif text.startswith("INSERT") and " IF " not in text and " USING " not in text:
                text = f"{text} USING TIMESTAMP ?"
            else:
                raise ValueError(f"{name}: no explicit write time for this statement")
            stmt = self.session.prepare(text)
            stmt.consistency_level = self.write_cl
            self._prepared[key] = stmt
        return stmt.bind((micros, *args) if first else (*args, micros))

    # -- plain helpers ---------------------------------------------------------------------
    def one(self, name: str, *args: Any) -> Any:
        return self.session.execute(self.statement(name), args).one()

    def all(self, name: str, *args: Any) -> list[Any]:
        return list(self.session.execute(self.statement(name), args))

    def scan(self, name: str, *args: Any, fetch_size: int = 5000, timeout: float = 60) -> Iterator[Any]:
        """Every row of a (paged) read, fetched ``fetch_size`` rows at a time."""
        stmt = self.statement(name)
        bound = stmt.bind(args)
        bound.fetch_size = fetch_size
        yield from self.session.execute(bound, timeout=timeout)

    def applied(self, name: str, *args: Any) -> bool:
        """Run a lightweight transaction (``IF ...``); True when it applied."""
        return _applied(self.session.execute(self.statement(name), args))

    def applied_many(self, name: str, rows: Sequence[Sequence[Any]]) -> list[bool]:
        """Run a lightweight transaction for many argument tuples at once; whether each applied,
        in input order."""
        stmt = self.statement(name)
        futures = [self.session.execute_async(stmt, args) for args in rows]
        return [_applied(f.result()) for f in futures]

    def many(self, name: str, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """Run one statement for many argument tuples concurrently; raise on the first error.
        Returns the result rows (a list per tuple), in input order."""
        if not rows:
            return []
        stmt = self.statement(name)
        if len(rows) <= self.concurrency:  # the common case: a few keys, no scheduling overhead
            futures = [self.session.execute_async(stmt, args) for args in rows]
            return [list(f.result()) for f in futures]
        results = execute_concurrent_with_args(
            self.session, stmt, rows, concurrency=self.concurrency, raise_on_first_error=True
        )
        return [list(r.result_or_exc) if r.success else [] for r in results]

    def many_in(self, name: str, keys: Iterable[Any], before: Sequence[Any] = (), after: Sequence[Any] = (),
                chunk: int = IN_KEYS) -> list[Any]:
        """Rows of a statement whose ``IN ?`` takes the distinct ``keys``, ``chunk`` keys per read,
        the reads concurrent: ``before`` are the arguments ahead of the ``IN`` list, ``after``
        those behind it. One request per chunk instead of one per key (the speed layer reads a
        whole poll this way). Rows in no particular order; raise on the first error."""
        distinct = list(dict.fromkeys(keys))
        if not distinct:
            return []
        args = [(*before, distinct[i:i + chunk], *after) for i in range(0, len(distinct), chunk)]
        return [row for rows in self.many(name, args) for row in rows]

    def write_many(self, name: str, rows: Sequence[Sequence[Any]], concurrency: int | None = None) -> int:
        """Write many rows with one statement, ``concurrency`` in flight; every failure is
        counted and the first one raised (nothing is silently dropped). Returns rows written."""
        if not rows:
            return 0
        results = execute_concurrent_with_args(self.session, self.statement(name), rows,
                                               concurrency=concurrency or self.concurrency,
                                               raise_on_first_error=False)
        failed = [r for ok, r in results if not ok]
        if failed:
            raise RuntimeError(f"{name}: {len(failed)} of {len(rows)} writes failed, first: {failed[0]!r}")
        return len(rows)

    def write_grouped(self, name: str, rows: Sequence[Sequence[Any]], key: int, max_batch: int = 20,
                      concurrency: int | None = None) -> int:
        """Like :meth:`write_many`, for a table whose partition key is each row's first ``key``
        values: the rows of one partition go as one UNLOGGED batch (at most ``max_batch``
        statements) -- one request and one mutation on the replica instead of one per row; the
        partitions with a lone row are packed as in :meth:`write_batched`. Returns rows written."""
        if not rows:
            return 0
        self._run(name, self._grouped(self.statement(name), rows, key, max_batch), concurrency)
        return len(rows)

    def write_rows(self, writes: Sequence[tuple[str, Sequence[Any]]], keys: dict[str, int],
                   concurrency: int | None = None) -> int:
        """Many statements' rows in one concurrent round. The rows of the statements named in
        ``keys`` are grouped by partition key value -- a row's first ``keys[name]`` values --
        across those statements (tables with the same partition key: one mutation on the
        replica); each other row is a partition of its own. Partitions on the same replicas are
        then packed into UNLOGGED batches as in :meth:`write_batched`. Every failure counted and
        the first raised; returns rows written."""
        units: dict[Any, list[Any]] = {}
        for n, (name, args) in enumerate(writes):
            bound = self.statement(name).bind(args)
            key = tuple(args[:keys[name]]) if name in keys else n
            units.setdefault(key, []).append(bound)
        requests = self._pack_units(list(units.values()))
        if requests:
            self._run(",".join(sorted({name for name, _ in writes})), requests, concurrency)
        return len(writes)

    def _grouped(self, statement: PreparedStatement, rows: Sequence[Sequence[Any]], key: int,
                 max_batch: int) -> list[tuple[Any, Any]]:
        groups: dict[tuple, list[Sequence[Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(row[:key]), []).append(row)
        requests: list[tuple[Any, Any]] = []
        lone: list[Sequence[Any]] = []
        for members in groups.values():
            if len(members) == 1:
                lone.append(members[0])
                continue
            for i in range(0, len(members), max_batch):
                requests.append(self._batch([statement.bind(row) for row in members[i:i + max_batch]]))
        return requests + self._packed(statement, lone)

    def write_batched(self, name: str, rows: Sequence[Sequence[Any]], concurrency: int | None = None) -> int:
        """Like :meth:`write_many`, for a table with one row per partition: rows whose partitions
        have the same replicas go together as UNLOGGED batches (the Spark Cassandra connector's
        ``replica_set`` grouping) -- one request to a node that stores every row of it, instead
        of one request per row (:meth:`_packed`). Each row keeps its own ``USING TIMESTAMP``; a
        failed batch is counted and raised like a failed row. Returns rows written."""
        if not rows:
            return 0
        self._run(name, self._packed(self.statement(name), rows), concurrency)
        return len(rows)

    def _packed(self, statement: PreparedStatement, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, Any]]:
        """Requests for rows of different partitions (:meth:`_pack`)."""
        return self._pack([statement.bind(row) for row in rows])

    def _pack(self, bound: Sequence[Any]) -> list[tuple[Any, Any]]:
        """Requests for bound statements of different partitions (:meth:`_pack_units`)."""
        return self._pack_units([[b] for b in bound])

    def _pack_units(self, units: Sequence[Sequence[Any]]) -> list[tuple[Any, Any]]:
        """Requests for partitions' writes (each unit: the bound statements of one partition):
        grouped by the partition's replicas, at most :data:`BATCH_ROWS` partitions and
        :data:`BATCH_BYTES` of values per batch -- under Cassandra's warning thresholds
        (``unlogged_batch_across_partitions_warn_threshold``, ``batch_size_warn_threshold``), so
        no replica is burdened with a large multi-partition batch; a larger unit goes alone (20
        statements a batch)."""
        metadata = self.session.cluster.metadata
        groups: dict[tuple, list[tuple[Sequence[Any], int]]] = {}
        requests: list[tuple[Any, Any]] = []
        for unit in units:
            size = sum(len(v) for b in unit for v in b.values if v)
            if size > BATCH_BYTES:
                requests += [self._batch(list(unit[i:i + 20])) for i in range(0, len(unit), 20)]
                continue
            first = unit[0]
            replicas = metadata.get_replicas(first.keyspace or self.keyspace, first.routing_key)
            groups.setdefault(tuple(sorted(str(h.endpoint) for h in replicas)), []).append((unit, size))
        for members in groups.values():
            chunk: list[Any] = []
            rows = size = 0
            for unit, n in members:
                if chunk and (rows >= BATCH_ROWS or size + n > BATCH_BYTES):
                    requests.append(self._batch(chunk))
                    chunk, rows, size = [], 0, 0
                chunk.extend(unit)
                rows += 1
                size += n
            if chunk:
                requests.append(self._batch(chunk))
        return requests

    def _batch(self, bound: list[Any]) -> tuple[Any, Any]:
        """One request for bound statements: the statement itself when alone, else an UNLOGGED
        batch (routed by its first statement's partition)."""
        if len(bound) == 1:
            return bound[0], None
        batch = BatchStatement(batch_type=BatchType.UNLOGGED, consistency_level=self.write_cl)
        for b in bound:
            batch.add(b)
        return batch, None

    def _run(self, name: str, requests: list[tuple[Any, Any]], concurrency: int | None) -> None:
        """Run the requests, ``concurrency`` in flight; count every failure and raise the first."""
        results = execute_concurrent(self.session, requests, concurrency=concurrency or self.concurrency,
                                     raise_on_first_error=False)
        failed = [r for ok, r in results if not ok]
        if failed:
            raise RuntimeError(f"{name}: {len(failed)} of {len(requests)} writes failed, first: {failed[0]!r}")

    def write_all(self, writes: Iterable[tuple[str, Sequence[Any]]]) -> None:
        """Run independent writes concurrently (each idempotent); raise on the first error."""
        futures = []
        for name, args in writes:
            futures.append(self.session.execute_async(self.statement(name), args))
            if len(futures) >= self.concurrency:
                futures.pop(0).result()
        for f in futures:
            f.result()

    def atomic_many(self, groups: Sequence[Sequence[tuple[str, Sequence[Any], int]]]) -> None:
        """Apply each group of ``(statement, args, write time in epoch microseconds)`` as one
        LOGGED batch (all of a group or none), the groups concurrently; every failure counted and
        the first raised. Within a group, of two writes to one cell the later time wins."""
        requests = []
        for writes in groups:
            batch = BatchStatement(batch_type=BatchType.LOGGED, consistency_level=self.write_cl)
            for name, args, micros in writes:
                batch.add(self.timed(name, args, micros))
            requests.append((batch, None))
        if requests:
            self._run("logged batches", requests, None)

    def atomic(self, writes: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Apply ``writes`` as one LOGGED batch: all of them eventually apply, or none."""
        if not writes:
            return
        batch = BatchStatement(batch_type=BatchType.LOGGED, consistency_level=self.write_cl)
        for name, args in writes:
            batch.add(self.statement(name), args)
        self.session.execute(batch)

    # -- identity --------------------------------------------------------------------------
    def ucid_record(self, ucid: str) -> UcidRecord | None:
        row = self.one("get_ucid", ucid)
        return None if row is None else UcidRecord(row.status, row.merged_into, ms(row.minted_at))

    def follow(self, ucid: str, max_hops: int = MAX_ALIAS_HOPS) -> Followed:
        """Where ``ucid`` leads (the identity core's :func:`~identity.aliases.follow`)."""
        return follow(ucid, self.ucid_record, max_hops)

    # -- leases ----------------------------------------------------------------------------
    def lock(self, names: Sequence[str], owner: str, ttl_s: int) -> bool:
        """Take every lease of ``names`` (in the given order) or none: on the first one held by
        someone else, release those taken and return False."""
        taken: list[str] = []
        for name in names:
            if self.applied("lock", name, owner, ttl_s):
                taken.append(name)
            else:
                self.unlock(taken, owner)
                return False
        return True

    def lock_all(self, names: Sequence[str], owner: str, ttl_s: int) -> bool:
        """Like :meth:`lock`, the leases asked for concurrently (one round instead of one per
        name): all taken, or those taken released and False."""
        if len(names) <= 1:
            return self.lock(names, owner, ttl_s)
        stmt = self.statement("lock")
        futures = [(n, self.session.execute_async(stmt, (n, owner, ttl_s))) for n in names]
        taken, ok = [], True
        for name, future in futures:
            try:
                if _applied(future.result()):
                    taken.append(name)
                else:
                    ok = False
            except Exception:  # noqa: BLE001 -- release what was taken, then raise
                self.unlock(taken, owner)
                raise
        if not ok:
            self.unlock(taken, owner)
        return ok

    def unlock(self, names: Sequence[str], owner: str, wait: bool = True) -> list[Any]:
        """Release leases held by ``owner`` (a lease taken over after expiry is left alone).
        ``wait=False`` returns the pending futures instead of waiting for them."""
        stmt = self.statement("unlock")
        futures = [self.session.execute_async(stmt, (n, owner)) for n in names]
        if wait:
            for f in futures:
                f.result()
            return []
        return futures
