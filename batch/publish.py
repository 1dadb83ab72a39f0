"""Publish gold to Cassandra: the reference table, aliases, UCIDs, profiles, changes, links, timeline.

The lambda contract (``docs/lambda-contract.md``): every row is written ``USING TIMESTAMP S``,
``S`` = the run's snapshot minus ``UCID_BATCH_PUBLISH_LAG_S``, so per cell the newer write wins
and a publish never overwrites what the speed layer wrote after the snapshot. Tables are written
in dependency order -- ``ucids`` and ``ucid_aliases`` before anything that points at a UCID --
and nothing is ever deleted, so at no moment does an identifier resolve to nothing or to a UCID
without a row. Rows are keyed by their natural keys and carry the same ``S`` on a retry, so a
publish is idempotent. Each Spark partition writes with its own driver session, prepared
statements and a bounded number of writes in flight.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from infra.settings import BatchSettings
from batch.tables import Lake
from infra.settings import Settings

Report = Callable[[str], None]
RECENT_EVENTS = 20  # newest events per UCID the batch publishes; the speed layer adds live ones

STATEMENTS = {
    "ucids": "INSERT INTO {ks}.ucids (ucid, minted_at, status, merged_into, updated_at, layer) "
             "VALUES (?, ?, ?, ?, ?, 'batch') USING TIMESTAMP ?",
    "ucid_aliases": "INSERT INTO {ks}.ucid_aliases (alias, ucid, merged_at, rule, change_id) "
                    "VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?",
    "identifiers_by_ucid": "INSERT INTO {ks}.identifiers_by_ucid (ucid, id_type, id_value, source, first_seen, "
                           "last_seen) VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
    "identifiers": "INSERT INTO {ks}.identifiers (id_type, id_value, ucid, source, first_seen, last_seen, layer) "
                   "VALUES (?, ?, ?, ?, ?, ?, 'batch') USING TIMESTAMP ?",
    "profiles": "INSERT INTO {ks}.profiles (ucid, attributes, attribute_sources, consents, traits, channel_counts, "
                "last_contact, first_seen, last_seen, lifetime_spend, batch_snapshot, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
    "identity_changes": "INSERT INTO {ks}.identity_changes (ucid, changed_at, change_id, kind, old_ucids, rule, "
                        "evidence) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
    "links_by_ucid": "INSERT INTO {ks}.links_by_ucid (ucid, link_id, from_type, from_value, to_type, to_value, rule, "
                     "source, record_id, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
    "events_by_ucid": "INSERT INTO {ks}.events_by_ucid (ucid, event_time, event_id, type, channel, source, "
                      "attributes) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
}
ORDER = ("ucids", "ucid_aliases", "identifiers_by_ucid", "identifiers", "profiles", "identity_changes",
         "links_by_ucid", "events_by_ucid")


def _writer(cassandra: dict, keyspace: str, table: str, concurrency: int, ts: int):
    """A function writing one Spark partition of rows (tuples without the timestamp)."""

    def write(rows: Iterable) -> Iterable[int]:
        from cassandra.concurrent import execute_concurrent_with_args

        from infra.cql import cluster, write_consistency
        from infra.settings import CassandraSettings

        settings = CassandraSettings(**cassandra)
        c = cluster(settings, request_timeout_s=30)
        session = c.connect()
        try:
            stmt = session.prepare(STATEMENTS[table].format(ks=keyspace))
            stmt.consistency_level = write_consistency(settings)
            batch: list[tuple] = []
            n = 0
            for row in rows:
                batch.append((*row, ts))
                if len(batch) >= 2000:
                    _run(execute_concurrent_with_args, session, stmt, batch, concurrency, table)
                    n += len(batch)
                    batch = []
            if batch:
                _run(execute_concurrent_with_args, session, stmt, batch, concurrency, table)
                n += len(batch)
            yield n
        finally:
            c.shutdown()

    return write


def _run(execute, session, stmt, args, concurrency: int, table: str) -> None:
    results = execute(session, stmt, args, concurrency=concurrency, raise_on_first_error=False)
    failed = [r for ok, r in results if not ok]
    if failed:
        raise RuntimeError(f"publish {table}: {len(failed)} of {len(args)} writes failed, first: {failed[0]!r}")


def frames(spark, lake: Lake, now: int) -> dict:
    """The rows of each Cassandra table, as DataFrames of the statement's column order."""
    from pyspark.sql import functions as F

    gold = lambda name: spark.read.format("delta").load(lake.gold(name))  # noqa: E731
    ts_now = F.lit(now).cast("timestamp")
    ucids = gold("ucids")
    changes = gold("identity_changes")
    merged_by = (
        changes.where("kind = 'merge'").select(F.explode("old_ids").alias("alias"), "new_id", "rule", "change_id", "at")
        .where("alias != new_id").groupBy("alias").agg(F.max(F.struct("at", "rule", "change_id")).alias("m"))
    )
    out = {
        "ucids": ucids.select("ucid", F.col("minted_at").cast("timestamp"), "status", "merged_into", ts_now),
        "ucid_aliases": ucids.where("status = 'merged'").join(merged_by.withColumnRenamed("alias", "ucid"), "ucid", "left")
        .select("ucid", "merged_into", F.col("m.at").cast("timestamp"), "m.rule", "m.change_id"),
    }
    records = spark.read.format("delta").load(lake.silver("records"))
    seen = (
        records.select("source", "event_time", F.explode("ids").alias("i"))
        .groupBy(F.col("i.type").alias("id_type"), F.col("i.value").alias("id_value"))
        .agg(F.min(F.struct("event_time", "source")).getField("source").alias("source"),
             F.min("event_time").alias("first_seen"), F.max("event_time").alias("last_seen"))
    )
    ids = gold("identity_state").where("id_type != '_record'").drop("first_seen").join(
        seen, ["id_type", "id_value"], "left")
    out["identifiers_by_ucid"] = ids.select("ucid", "id_type", "id_value", "source", "first_seen", "last_seen")
    out["identifiers"] = ids.select("id_type", "id_value", "ucid", "source", "first_seen", "last_seen")
    profiles = gold("profiles")
    traits = F.create_map(
        F.lit("record_count"), F.col("record_count").cast("string"),
        F.lit("sources"), F.concat_ws(",", "sources"),
        F.lit("identifier_count"), F.size("identities").cast("string"),
    )
    out["profiles"] = profiles.select(
        "ucid", "attributes", "attribute_sources", "consents", traits.alias("traits"), "channel_counts",
        "last_contact", "first_seen", "last_seen", F.col("lifetime_spend").cast("decimal(18,2)"),
        F.col("snapshot").cast("timestamp"), ts_now)
    out["identity_changes"] = changes.where("new_id IS NOT NULL").select(
        F.col("new_id").alias("ucid"), F.col("at").cast("timestamp"), "change_id", "kind",
        F.array_sort("old_ids"), "rule", "evidence"
    ).unionByName(changes.where("kind = 'retire'").select(
        F.col("old_ids")[0].alias("ucid"), F.col("at").cast("timestamp"), "change_id", "kind",
        F.array_sort("old_ids"), "rule", "evidence"))
    links = gold("links")
    out["links_by_ucid"] = links.select(
        "ucid", F.concat_ws("|", "a_type", "a_value", "b_type", "b_value").alias("link_id"),
        "a_type", "a_value", "b_type", "b_value", "rule",
        F.col("evidence")[0]["source"], F.col("evidence")[0]["record_id"], ts_now)
    assignments = gold("assignments").select("source", "record_id", "ucid")
    from pyspark.sql import Window

    recent = Window.partitionBy("ucid").orderBy(F.col("event_time").desc(), F.col("record_id"))
    events = (
        records.where("kind = 'event' AND event_time IS NOT NULL").join(assignments, ["source", "record_id"])
        .withColumn("n", F.row_number().over(recent)).where(F.col("n") <= RECENT_EVENTS)
    )
    out["events_by_ucid"] = events.select(
        "ucid", "event_time", "record_id", "event_type", "channel", "source",
        F.map_filter(F.map_concat("attributes", F.transform_values("measures", lambda k, v: v.cast("string"))),
                     lambda k, v: v.isNotNull()))
    return out


def publish(spark, lake: Lake, settings: Settings, batch: BatchSettings, now: int, run_id: str,
            report: Report | None = None) -> dict:
    """Write every table in :data:`ORDER`; return rows written per table."""
    say = report or (lambda msg: None)
    ts = (now - batch.publish_lag_s) * 1_000_000
    cassandra = json.loads(settings.cassandra.model_dump_json())
    keyspace = settings.cassandra.keyspace
    written: dict[str, int] = {}
    data = frames(spark, lake, now)
    for table in ORDER:
        df = data[table]
        n = sum(df.rdd.mapPartitions(_writer(cassandra, keyspace, table, batch.publish_concurrency, ts)).collect())
        written[table] = n
        say(f"publish {table}: {n:,} rows")
    return written
