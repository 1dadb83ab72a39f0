"""The store's packed writes on real Cassandra: every row lands with its own timestamp, and the
batches stay under the server's warning thresholds: the server sends no "Unlogged batch
covering" / "Batch ... exceeding" warning, which the driver would log as "Server warning"."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import pytest

from infra.store import Store
from infra.store.sync import BATCH_BYTES, BATCH_ROWS

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
RUN = uuid.uuid4().hex[:8]  # this run's rows: a kept keyspace holds earlier runs' rows too


@pytest.fixture(scope="module")
def store(batch_world):
    with Store.connect(batch_world.cassandra) as store:
        yield store


def _server_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "Server warning" in r.getMessage()]


def test_packed_writes_land_every_row_with_its_timestamp_within_the_batch_thresholds(store, batch_world, caplog):
    caplog.set_level(logging.WARNING)
    ks = batch_world.cassandra.keyspace
    big = "s" * (BATCH_BYTES + 100)  # larger than a batch may be: goes alone
    rows = [("email", f"packed{i}.{RUN}@example.org", f"U{i:020d}", big if i == 7 else "crm", WHEN, WHEN, 1_000_000 + i)
            for i in range(BATCH_ROWS * 50 + 3)]
    assert store.write_batched("publish_identifiers", rows) == len(rows)
    got = {(r.id_value, r.ucid, r.source, r.wt) for r in store.session.execute(
        f"SELECT id_value, ucid, source, writetime(ucid) AS wt FROM {ks}.identifiers WHERE id_type = 'email' "
        f"AND id_value IN ({', '.join('%s' for _ in rows)})", [r[1] for r in rows])}
    assert got == {(r[1], r[2], r[3], r[6]) for r in rows}
    assert _server_warnings(caplog) == []


def test_grouped_writes_pack_lone_rows_and_batch_each_partitions_rows(store, batch_world, caplog):
    caplog.set_level(logging.WARNING)
    ks = batch_world.cassandra.keyspace
    rows = []
    for u in range(60):  # UCIDs with 1..4 identifiers: lone rows packed, the others batched per UCID
        for k in range(1 + u % 4):
            rows.append((f"UGROUPED{RUN}{u:04d}", "phone", f"+1555{u:04d}{k:03d}", "crm", WHEN, WHEN, 2_000_000 + u))
    assert store.write_grouped("publish_identifiers_by_ucid", rows, key=1) == len(rows)
    got = set()
    for u in range(60):
        for r in store.session.execute(
                f"SELECT ucid, id_value, writetime(source) AS wt FROM {ks}.identifiers_by_ucid WHERE ucid = %s",
                [f"UGROUPED{RUN}{u:04d}"]):
            got.add((r.ucid, r.id_value, r.wt))
    assert got == {(r[0], r[2], r[6]) for r in rows}
    assert _server_warnings(caplog) == []


def test_a_row_that_does_not_bind_fails_the_write_loudly(store):
    with pytest.raises((TypeError, ValueError)):
        store.write_batched("publish_identifiers", [("email", "x@example.org", "U1", "crm", "not a time", WHEN, 1)])


def test_the_speed_rows_a_resolve_read_are_kept_for_its_own_publish_only(spark, tmp_lake):
    """``batch.speed_state.keep`` records the keys of the speed layer's rows a run read; ``seen``
    gives them back to that run's publish, and to no other run (which must read them itself)."""
    from batch.speed_state import keep, seen
    from batch.tables import Lake

    lake = Lake(tmp_lake)
    assert seen(spark, lake, "run-a") is None
    ids = spark.createDataFrame([("email", "a@example.org"), ("phone", "+15550100")], "id_type string, id_value string")
    ucids = spark.createDataFrame([("U1",), ("U2",)], "ucid string")
    keep(spark, lake, "run-a", ids, ucids)
    got_ids, got_ucids = seen(spark, lake, "run-a")
    assert sorted(tuple(r) for r in got_ids.collect()) == [("email", "a@example.org"), ("phone", "+15550100")]
    assert sorted(r.ucid for r in got_ucids.collect()) == ["U1", "U2"]
    assert seen(spark, lake, "run-b") is None
    keep(spark, lake, "run-b", ids.limit(0), ucids.limit(0))  # a run that read nothing
    assert [len(f.collect()) for f in seen(spark, lake, "run-b")] == [0, 0]
    assert seen(spark, lake, "run-c") is None  # an empty record still names its run
