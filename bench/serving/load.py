"""Load the benchmark keyspace: N identifiers (1 M by default) over N / 2.5 live UCIDs.

Rows are written with the batch publish's own statements of the data-access store
(``publish_ucids`` before ``publish_identifiers``, ``USING TIMESTAMP`` the load time), so the
rows are exactly what a resolve reads in production. Idempotent and resumable: ``bench_meta``
records the rows done per table (an interrupted load goes on where it stopped) and the size
loaded (a second run with the same size loads nothing).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice

from identity.ucids import mint_ucid
from infra.store import Store

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


def _progress(store: Store, label: str) -> int:
    row = store.session.execute(f"SELECT n FROM {store.keyspace}.bench_meta WHERE k = %s", (f"{label}_done",)).one()
    return row.n if row else 0


def _mark(store: Store, label: str, n: int) -> None:
    store.session.execute(f"INSERT INTO {store.keyspace}.bench_meta (k, n) VALUES (%s, %s)", (label, n))


def _write(store: Store, statement: str, make_row, total: int, label: str) -> None:
    """Write rows ``make_row(0..total-1)``, resuming after the last chunk recorded as done."""
    done = _progress(store, label)
    started, first = time.perf_counter(), done
    for chunk in _chunks((make_row(i) for i in range(done, total)), 20_000):
        store.write_many(statement, chunk, concurrency=256)
        done += len(chunk)
        _mark(store, f"{label}_done", done)
        if done % 200_000 < 20_000 or done == total:
            rate = (done - first) / (time.perf_counter() - started)
            print(f"  {label}: {done:,}/{total:,} rows ({rate:,.0f} rows/s)", flush=True)


def load(store: Store, n: int) -> bool:
    """Write ``n`` identifiers (and their UCIDs) unless already there; ``True`` if it wrote."""
    ks = store.keyspace
    store.session.execute(f"CREATE TABLE IF NOT EXISTS {ks}.bench_meta (k text PRIMARY KEY, n bigint)")
    row = store.session.execute(f"SELECT n FROM {ks}.bench_meta WHERE k = 'identifiers'").one()
    if row is not None and row.n == n:
        print(f"keyspace {ks} already holds {n:,} identifiers")
        return False
    now = datetime.now(UTC)
    at = int(now.timestamp() * 1_000_000)
    n_ucids = int((n - 1) // PER_UCID) + 1
    print(f"loading {n:,} identifiers over {n_ucids:,} UCIDs into {ks}")
    _write(store, "publish_ucids", lambda u: (mint_ucid(("bench", str(u))), now, "live", None, now, at),
           n_ucids, "ucids")
    _write(store, "publish_identifiers", lambda i: (*identifier(i), ucid_of(i), "bench", now, now, at),
           n, "identifiers")
    _mark(store, "identifiers", n)
    return True
