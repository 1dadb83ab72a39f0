"""Publish against a raw writer of the same rows, in the same run (issue 15's ratio, goal >= 0.5).

The batch's publish (:func:`batch.publish.publish`: gold read from Delta, every table's rows
built by Spark and written from the Spark tasks, ``UCID_BATCH_PUBLISH_CONCURRENCY`` writes in
flight per task) is timed end to end. The reference is what a hand-written loader does at best:
the same rows, already in the driver's memory (collected beforehand, not timed), written by one
process with the driver's ``execute_concurrent_with_args`` and the same prepared statements, at
the same concurrency. Both write ``USING TIMESTAMP`` the same ``S`` into a keyspace of the
benchmark's own (``UCID_BENCH_BATCH_KEYSPACE``, default ``ucid_bench_batch``, truncated first),
so the second writes the same cells again, as a re-publish does.
"""

from __future__ import annotations

import json
import os
import time

KEYSPACE = os.environ.get("UCID_BENCH_BATCH_KEYSPACE", "ucid_bench_batch")


def bench_keyspace(settings):
    """``settings`` pointing at the benchmark's keyspace, migrated and empty."""
    from infra import schema
    from infra.cql import cluster

    cassandra = settings.cassandra.model_copy(update={"keyspace": KEYSPACE})
    cl = cluster(cassandra, request_timeout_s=120)
    try:
        session = cl.connect()
        schema.apply(session, cassandra)
        for (table,) in session.execute(
                "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (KEYSPACE,)):
            if table != "schema_migrations":
                session.execute(f"TRUNCATE {KEYSPACE}.{table}", timeout=120)
    finally:
        cl.shutdown()
    return settings.model_copy(update={"cassandra": cassandra})


def _collected(ctx) -> dict[str, tuple[str, list[tuple]]]:
    """Per publish step: its statement and its rows as the driver binds them (timestamp last,
    or first for the UPDATE), as :func:`batch.publish.publish` builds them."""
    from batch.publish import ORDER, STATEMENT_OF, _tuples, frames

    ts = (ctx.now - ctx.batch.publish_lag_s) * 1_000_000
    data = frames(ctx.spark, ctx.lake, ctx.now, ctx.settings)
    out = {}
    for step, _ in ORDER:
        frame = data[step]
        frame = frame.toDF(*[f"c{i}" for i in range(len(frame.columns))])
        first = step == "retired_identifiers"
        rows = [(ts, *r) if first else (*r, ts) for batch in frame.toArrow().to_batches() for r in _tuples(batch)]
        out[step] = (STATEMENT_OF.get(step, f"publish_{step}"), rows)
    return out


def bench_publish(ctx, console) -> dict:
    """Time the batch's publish, then the raw writer on the same rows; rows/s of both and the ratio."""
    from batch import run
    from infra.store import Store

    started = time.perf_counter()
    written = run.run_stage(ctx, "publish")
    publish_s = time.perf_counter() - started
    rows = sum(written.values())
    console.print(f"  publish: {rows:,} rows in {publish_s:.1f} s ({rows / publish_s:,.0f} rows/s)")

    steps = _collected(ctx)
    raw_rows = sum(len(r) for _, r in steps.values())
    concurrency = ctx.batch.publish_concurrency
    cassandra = json.loads(ctx.settings.cassandra.model_dump_json())
    from infra.settings import CassandraSettings

    with Store.connect(CassandraSettings(**cassandra), request_timeout_s=30, concurrency=concurrency) as store:
        started = time.perf_counter()
        for statement, step_rows in steps.values():
            for i in range(0, len(step_rows), 2000):
                store.write_many(statement, step_rows[i:i + 2000])
        raw_s = time.perf_counter() - started
    console.print(f"  raw execute_concurrent (concurrency {concurrency}): {raw_rows:,} rows in {raw_s:.1f} s "
                  f"({raw_rows / raw_s:,.0f} rows/s)")
    ratio = (rows / publish_s) / (raw_rows / raw_s)
    console.print(f"  publish / raw: {ratio:.2f} (goal >= 0.5)")
    return {"rows": rows, "seconds": round(publish_s, 1), "rows_per_second": round(rows / publish_s),
            "raw": {"rows": raw_rows, "seconds": round(raw_s, 1), "rows_per_second": round(raw_rows / raw_s),
                    "concurrency": concurrency},
            "ratio": round(ratio, 2), "tables": written}
