"""Load the benchmark keyspace: N identifiers (1 M by default) over N / 2.5 live UCIDs.

Rows are written as the batch publish writes them (``ucids`` before ``identifiers``), with
prepared statements and ``execute_concurrent_with_args``. Idempotent and resumable: ``bench_meta``
records the rows done per table (an interrupted load goes on where it stopped) and the size
loaded (a second run with the same size loads nothing).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice

from cassandra.concurrent import execute_concurrent_with_args

from identity.ucids import mint_ucid

TYPES = ("crm_id", "email", "cookie_id", "loyalty_id")
PER_UCID = 2.5


def identifier(i: int) -> tuple[str, str]:
    """The i-th benchmark identifier, already in normalized form."""
    kind = TYPES[i % len(TYPES)]
    if kind == "crm_id":
        return kind, f"C{i:09d}"
    if kind == "email":
        return kind, f"user{i}@bench-mail.net"
    if kind == "cookie_id":
        return kind, f"ck-{i:012d}-{(i * 7919) % 100000:05d}"
    return kind, f"L{i:010d}"


def ucid_of(i: int) -> str:
    return mint_ucid(("bench", str(int(i // PER_UCID))))


def _chunks(rows: Iterator[tuple], size: int) -> Iterator[list[tuple]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def _progress(session, keyspace: str, label: str) -> int:
    row = session.execute(f"SELECT n FROM {keyspace}.bench_meta WHERE k = %s", (f"{label}_done",)).one()
    return row.n if row else 0


def _write(session, keyspace: str, cql: str, make_row, total: int, label: str) -> None:
    """Write rows ``make_row(0..total-1)``, resuming after the last chunk recorded as done."""
    prepared = session.prepare(cql)
    done = _progress(session, keyspace, label)
    started, first = time.perf_counter(), done
    for chunk in _chunks((make_row(i) for i in range(done, total)), 20_000):
        for ok, result in execute_concurrent_with_args(session, prepared, chunk, concurrency=256):
            if not ok:
                raise result
        done += len(chunk)
        session.execute(f"INSERT INTO {keyspace}.bench_meta (k, n) VALUES (%s, %s)", (f"{label}_done", done))
        if done % 200_000 < 20_000 or done == total:
            rate = (done - first) / (time.perf_counter() - started)
            print(f"  {label}: {done:,}/{total:,} rows ({rate:,.0f} rows/s)", flush=True)


def load(session, keyspace: str, n: int) -> bool:
    """Write ``n`` identifiers (and their UCIDs) unless already there; ``True`` if it wrote."""
    session.execute(f"CREATE TABLE IF NOT EXISTS {keyspace}.bench_meta (k text PRIMARY KEY, n bigint)")
    row = session.execute(f"SELECT n FROM {keyspace}.bench_meta WHERE k = 'identifiers'").one()
    if row is not None and row.n == n:
        print(f"keyspace {keyspace} already holds {n:,} identifiers")
        return False
    now = datetime.now(UTC)
    n_ucids = int((n - 1) // PER_UCID) + 1
    print(f"loading {n:,} identifiers over {n_ucids:,} UCIDs into {keyspace}")
    _write(session, keyspace, f"INSERT INTO {keyspace}.ucids (ucid, minted_at, status, layer) "
           "VALUES (?, ?, 'live', 'batch')", lambda u: (mint_ucid(("bench", str(u))), now), n_ucids, "ucids")
    _write(session, keyspace, f"INSERT INTO {keyspace}.identifiers (id_type, id_value, ucid, source, first_seen, "
           "last_seen, layer) VALUES (?, ?, ?, 'bench', ?, ?, 'batch')",
           lambda i: (*identifier(i), ucid_of(i), now, now), n, "identifiers")
    session.execute(f"INSERT INTO {keyspace}.bench_meta (k, n) VALUES ('identifiers', %s)", (n,))
    return True
