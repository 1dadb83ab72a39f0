"""Publish gold to Cassandra: the reference table, aliases, UCIDs, profiles, changes, links, timeline,
contacts, consent statements, computed traits and segment memberships.

The lambda contract (``docs/lambda-contract.md``): every row is written ``USING TIMESTAMP S``,
``S`` = the run's snapshot minus ``UCID_BATCH_PUBLISH_LAG_S``, so per cell the newer write wins
and a publish never overwrites what the speed layer wrote after the snapshot. Tables are written
in dependency order (:data:`ORDER`) -- a live UCID's row before anything points at it, identifiers
re-pointed to their live UCID before the UCIDs merged away are marked so -- and nothing is ever
deleted, so at no moment does an identifier resolve to nothing, to a UCID without a row, or (read
in one round trip, ``status = 'live'``) to a UCID already merged away. Rows are keyed by their natural keys and carry the same ``S`` on a retry, so a
publish is idempotent. Each Spark partition writes through its Python worker's driver session
(:func:`batch.workers.worker_store`: one per worker, kept across tasks and steps), prepared statements and a bounded number of
writes in flight; the tables keyed by UCID with several rows
per UCID (:data:`GROUPED`) get one unlogged single-partition batch per UCID (an atomic mutation
on the replica; each statement keeps its own ``USING TIMESTAMP``), and the other rows go in small
unlogged batches of partitions with the same replicas.

Only what changed: a publish writes the rows whose content (a 96-bit hash of every column but
those stamped with the run's clock) the last complete publish into the keyspace did not write,
plus the identifiers and UCIDs the speed layer wrote since, which a full publish would overwrite
with the batch's answer too -- so the keyspace ends up as after writing every row, but for the
clock columns of rows no run changed (``updated_at``, a profile's ``batch_snapshot``: the run that
last changed it). The hashes of each publish are kept in the lake (``gold/published``) and its id
in the keyspace (``batch_publishes``); when the two disagree (a new, truncated or restored
keyspace, another lake, a publish that died half-way) or ``UCID_BATCH_PUBLISH_ALL`` is set, every
row is written.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable

from batch.tables import CHECKPOINT, Lake, delete_where, exists
from batch.workers import worker_store
from infra.settings import BatchSettings, Settings

Report = Callable[[str], None]
RECENT_EVENTS = 20  # newest events per UCID the batch publishes; the speed layer adds live ones

# (step, table): the live UCIDs before anything points at them; the identifiers (re-pointed to
# their live UCID) before the losers of a merge are marked merged, so a one-row resolve never
# answers a merged UCID; identifiers of a retired UCID marked before the UCID is.
ORDER = (("ucids_live", "ucids"), ("identifiers_by_ucid", "identifiers_by_ucid"), ("identifiers", "identifiers"),
         ("ucid_aliases", "ucid_aliases"), ("retired_identifiers", "identifiers"), ("ucids_ended", "ucids"),
         ("profiles", "profiles"), ("profile_contacts", "profiles"), ("identity_changes", "identity_changes"),
         ("links_by_ucid", "links_by_ucid"), ("events_by_ucid", "events_by_ucid"),
         ("contacts_by_ucid", "contacts_by_ucid"), ("match_blocks", "match_blocks"),
         ("consent_statements", "consent_statements"), ("traits_by_ucid", "traits_by_ucid"),
         ("segments_by_ucid", "segments_by_ucid"), ("segment_members", "segment_members"))
STATEMENT_OF = {"ucids_live": "publish_ucids", "ucids_ended": "publish_ucids",
                "retired_identifiers": "publish_retired_identifier"}
# steps whose table is partitioned by its first column (the UCID) with several rows per
# partition: their rows are brought together by UCID and written one batch per partition
GROUPED = frozenset({"identifiers_by_ucid", "identity_changes", "links_by_ucid", "events_by_ucid", "contacts_by_ucid",
                     "consent_statements", "segments_by_ucid"})
# the columns a run stamps with its clock (``updated_at``, a profile's ``batch_snapshot``): not
# part of a row's content, so a row that only they would change is not written again
CLOCK_COLUMNS = frozenset({"_now", "_snapshot"})


def _writer(cassandra: dict, statement: str, concurrency: int, ts: int, step: str, first: bool = False,
            grouped: bool = False):
    """A ``mapInArrow`` function writing one Spark partition's rows with the data-access store's
    ``statement``. Its input: the statement's columns (without the timestamp), then ``_h1``,
    ``_h2`` (the row's content hash) and ``_write``; it writes the rows whose ``_write`` is true,
    the timestamp last, or first (``first``: UPDATE). ``grouped``: the first column is the
    partition key, a partition's rows go as one unlogged batch
    (:meth:`infra.store.Store.write_grouped`); else rows of partitions on the same replicas go as
    small unlogged batches (:meth:`infra.store.Store.write_batched`). Yields ``step, _h1, _h2,
    _write`` of every row: the publish's snapshot. DataFrame operations only (no RDD): the same
    on a Spark Connect session."""

    from infra.store.statements import STATEMENTS

    cql = STATEMENTS[statement]  # shipped with the function: a Spark server of another checkout knows it too

    def write(batches: Iterable) -> Iterable:
        import pyarrow as pa

        from infra.store.statements import STATEMENTS as known

        known[statement] = cql
        store = worker_store(cassandra, concurrency)
        for batch in batches:
            n = batch.num_columns - 3
            wanted = batch.column(n + 2)
            rows = [(ts, *row) if first else (*row, ts) for row in _tuples(batch.select(range(n)).filter(wanted))]
            for i in range(0, len(rows), 2000):
                chunk = rows[i:i + 2000]
                if grouped:
                    store.write_grouped(statement, chunk, key=1)
                else:
                    store.write_batched(statement, chunk)
            yield pa.RecordBatch.from_arrays(
                [pa.array([step] * batch.num_rows, pa.string()), batch.column(n), batch.column(n + 1), wanted],
                names=["step", "_h1", "_h2", "_write"])

    return write


def _tuples(batch) -> Iterable[tuple]:
    """The rows of an Arrow batch as tuples of Python values, as the driver binds them: a map
    column's values as dicts (Arrow gives key-value pairs); timestamps come UTC-aware."""
    import pyarrow as pa

    columns = []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        values = column.to_pylist()
        if pa.types.is_map(field.type):
            values = [None if v is None else dict(v) for v in values]
        columns.append(values)
    return zip(*columns, strict=True)


def frames(spark, lake: Lake, now: int, settings: Settings) -> dict:
    """The rows of each Cassandra table, as DataFrames of the statement's column order; the
    columns stamped with the run's clock are named :data:`CLOCK_COLUMNS`."""
    from pyspark.sql import functions as F

    gold = lambda name: spark.read.format("delta").load(lake.gold(name))  # noqa: E731
    ts_now = F.lit(now).cast("timestamp")
    ucids = gold("ucids")
    changes = gold("identity_changes")
    merged_by = (
        changes.where("kind = 'merge'").select(F.explode("old_ids").alias("alias"), "new_id", "rule", "change_id", "at")
        .where("alias != new_id").groupBy("alias").agg(F.max(F.struct("at", "rule", "change_id")).alias("m"))
    )
    ucid_rows = ucids.select("ucid", F.col("minted_at").cast("timestamp"), "status", "merged_into", ts_now.alias("_now"))
    out = {
        "ucids_live": ucid_rows.where("status = 'live'"),
        "ucids_ended": ucid_rows.where("status != 'live'"),
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
    out["retired_identifiers"] = retired_identifiers(spark, ucids, settings)
    profiles = gold("profiles")
    traits = F.create_map(
        F.lit("record_count"), F.col("record_count").cast("string"),
        F.lit("sources"), F.concat_ws(",", "sources"),
        F.lit("identifier_count"), F.size("identities").cast("string"),
    )
    out["profiles"] = profiles.select(
        "ucid", "attributes", "attribute_sources", "consents", traits.alias("traits"), "channel_counts",
        "last_contact", "first_seen", "last_seen", F.col("lifetime_spend").cast("decimal(18,2)"),
        F.col("snapshot").cast("timestamp").alias("_snapshot"), ts_now.alias("_now"))
    # the contact-history summary (migration 010), and the history itself (gold/contacts)
    summary = [F.col(c) if c in profiles.columns else F.create_map().cast(t).alias(c)
               for c, t in (("contact_counts", "map<string,bigint>"), ("contact_last", "map<string,timestamp>"))]
    out["profile_contacts"] = profiles.select("ucid", *summary)
    from batch.contacts import CONTACT_COLUMNS

    contacts = (gold("contacts") if exists(spark, lake.gold("contacts"))
                else spark.createDataFrame([], CONTACT_COLUMNS))
    out["contacts_by_ucid"] = contacts.select("ucid", "started_at", "contact_id", "direction", "channel", "last_at",
                                              "topic", "outcome", "responses", "details")
    out["identity_changes"] = changes.where("new_id IS NOT NULL").select(
        F.col("new_id").alias("ucid"), F.col("at").cast("timestamp"), "change_id", "kind",
        F.array_sort("old_ids"), "rule", "evidence"
    ).unionByName(changes.where("kind = 'retire'").select(
        F.col("old_ids")[0].alias("ucid"), F.col("at").cast("timestamp"), "change_id", "kind",
        F.array_sort("old_ids"), "rule", "evidence"))
    links = gold("links")
    # a model link's evidence (gold `match`: model, probability, weight, levels) as JSON for explain
    match = F.to_json("match") if "match" in links.columns else F.lit(None).cast("string")
    out["links_by_ucid"] = links.select(
        "ucid", F.concat_ws("|", "a_type", "a_value", "b_type", "b_value").alias("link_id"),
        "a_type", "a_value", "b_type", "b_value", "rule",
        F.col("evidence")[0]["source"], F.col("evidence")[0]["record_id"], ts_now.alias("_now"), match.alias("match"))
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
    # the match model's person rows under each block key, with their record's UCID: the speed
    # layer's blocking index (an empty frame when no model ever ran)
    from batch.match import BLOCK_ROW

    blocks = gold("match_blocks") if exists(spark, lake.gold("match_blocks")) else spark.createDataFrame([], BLOCK_ROW)
    out["match_blocks"] = blocks.join(assignments, ["source", "record_id"]).select(
        F.explode("block_keys").alias("block_key"), "source", "record_id", "a_type", "a_value", "ucid", "person",
        ts_now.alias("_now"))
    # every consent statement (batch.consents), keyed by its content as the speed layer writes it
    # (an empty frame for a lake whose profiles stage ran before consents were kept)
    from batch.consents import COLUMNS

    consents = gold("consents") if exists(spark, lake.gold("consents")) else spark.createDataFrame(
        [], "ucid string, purpose string, channel string, event_time timestamp, source string, status string, "
            "legal_basis string")
    out["consent_statements"] = consents.select(*COLUMNS, ts_now.alias("_now"))
    # computed traits and segment memberships (batch.segments; migration 012): the traits with the
    # facts the speed layer adds its newer events to, and every (UCID, segment) with `member` true
    # or false, so a UCID that left a segment is written too (empty frames before the first run)
    traits = gold("traits") if exists(spark, lake.gold("traits")) else spark.createDataFrame(
        [], "ucid string, traits map<string,string>, facts string, snapshot long")
    out["traits_by_ucid"] = traits.select("ucid", "traits", "facts", F.col("snapshot").cast("timestamp").alias("_snapshot"),
                                          ts_now.alias("_now"))
    members = gold("segment_members") if exists(spark, lake.gold("segment_members")) else spark.createDataFrame(
        [], "ucid string, segment string, member boolean, snapshot long")
    out["segments_by_ucid"] = members.select("ucid", "segment", "member", ts_now.alias("_now"))
    out["segment_members"] = members.select("segment", "ucid", "member", ts_now.alias("_now"))
    return out


def retired_identifiers(spark, ucids, settings):
    """``id_type, id_value`` of the published identifiers still pointing at a retired UCID (read
    from Cassandra: the gold state no longer holds them); retiring is rare, so this is small."""
    retired = [r.ucid for r in ucids.where("status = 'retired'").select("ucid").collect()]
    rows: list[tuple[str, str]] = []
    if retired:
        from infra.store import Store

        with Store.connect(settings.cassandra) as store:
            for ucid, members in zip(retired, store.many("get_members", [(u,) for u in retired]), strict=True):
                for m in members:
                    row = store.one("get_identifier", m.id_type, m.id_value)
                    if row is not None and row.ucid == ucid:
                        rows.append((m.id_type, m.id_value))
    return spark.createDataFrame(rows, "id_type string, id_value string")


def publish(spark, lake: Lake, settings: Settings, batch: BatchSettings, now: int, run_id: str,
            report: Report | None = None) -> dict:
    """Write every step of :data:`ORDER` -- only the rows that changed since the last complete
    publish into the keyspace (:func:`last_publish`), or all of them -- in one Spark job per step
    that also keeps every row's content hash; then the hashes go to the lake's snapshot under
    this publish's id, in one write, and the publish is recorded (:func:`record`). Return rows
    written per table."""
    from pyspark.sql import functions as F

    say = report or (lambda msg: None)
    ts = (now - batch.publish_lag_s) * 1_000_000
    cassandra = json.loads(settings.cassandra.model_dump_json())
    keyspace = settings.cassandra.keyspace
    data = frames(spark, lake, now, settings)
    since = None if batch.publish_all else last_publish(spark, lake, settings)
    speed = _speed_keys(spark, lake, settings, run_id) if since is not None and batch.speed_state else None
    say(f"publish: the rows that changed since publish {since}" if since else "publish: every row")
    publish_id = uuid.uuid4().hex
    hashes = []
    for step, _table in ORDER:
        statement = STATEMENT_OF.get(step, f"publish_{step}")
        grouped = step in GROUPED
        write = _writer(cassandra, statement, batch.publish_concurrency, ts, step,
                        first=step == "retired_identifiers", grouped=grouped)
        frame = _hashed(data[step])
        content = [c for c in frame.columns if c not in ("_h1", "_h2")]
        if since is None or step == "retired_identifiers":
            frame = frame.withColumn("_write", F.lit(True))
        else:
            frame = _marked(frame, step, _snapshot(spark, lake, keyspace, since), speed)
        # positional names: the statement binds by position, and a derived column's name (e.g.
        # "CAST(m.at AS TIMESTAMP)") would not resolve as mapInArrow's input
        frame = frame.select(*[F.col(f"`{c}`").alias(f"c{i}") for i, c in enumerate(content)], "_h1", "_h2", "_write")
        if grouped:  # a UCID's rows in one Spark partition, next to each other
            frame = frame.repartition("c0").sortWithinPartitions("c0")
        started = time.perf_counter()
        # run now, in ORDER; the hashes stay with the executors until the snapshot is written
        hashes.append(frame.mapInArrow(write, "step string, _h1 long, _h2 int, _write boolean").localCheckpoint(**CHECKPOINT))
        say(f"publish {step} in {time.perf_counter() - started:.1f} s")
    snapshot = hashes[0]
    for more in hashes[1:]:
        snapshot = snapshot.unionByName(more)
    (snapshot.select(F.lit(keyspace).alias("keyspace"), F.lit(publish_id).alias("publish_id"), "*")
     .write.format("delta").mode("append").save(lake.gold("published")))
    written = record(spark, lake, settings, run_id, publish_id)
    for step, table in ORDER:
        say(f"publish {step}: {written.get(step, 0):,} rows")
    out: dict[str, int] = {}
    for step, table in ORDER:
        if step != "retired_identifiers":
            out[table] = out.get(table, 0) + written.get(step, 0)
    return out


def _hashed(frame):
    """``frame`` with ``_h1`` (xxhash64) and ``_h2`` (murmur3): 96 bits of the row's content
    without the columns stamped with the run's clock (:data:`CLOCK_COLUMNS`); a map column is
    hashed as its entries sorted by key (Spark hashes no maps)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import MapType

    content = []
    for field in frame.schema.fields:
        if field.name in CLOCK_COLUMNS:
            continue
        col = F.col(f"`{field.name}`")
        content.append(F.array_sort(F.map_entries(col)) if isinstance(field.dataType, MapType) else col)
    return frame.withColumn("_h1", F.xxhash64(*content)).withColumn("_h2", F.hash(*content))


def _marked(frame, step: str, previous, speed):
    """``frame`` (hashed) with ``_write``: true for the rows whose content the last publish did
    not write, and for the rows of identifiers and UCIDs the speed layer wrote since (``speed``:
    their keys), which a full publish would overwrite with the batch's answer, so this one does
    too."""
    from pyspark.sql import functions as F

    seen = previous.where(F.col("step") == step).select("_h1", "_h2").distinct().withColumn("_seen", F.lit(True))
    frame = frame.join(seen, ["_h1", "_h2"], "left")
    write = F.col("_seen").isNull()
    keys = None
    if speed is not None:
        ids, ucids = speed
        keys = {"identifiers": (ids, ["id_type", "id_value"]), "identifiers_by_ucid": (ids, ["id_type", "id_value"]),
                "ucids_live": (ucids, ["ucid"]), "ucids_ended": (ucids, ["ucid"])}.get(step)
    if keys is not None:
        frame = frame.join(keys[0].withColumn("_touched", F.lit(True)), keys[1], "left")
        write = write | F.col("_touched").isNotNull()
    return frame.withColumn("_write", F.coalesce(write, F.lit(True)))


def _speed_keys(spark, lake: Lake, settings: Settings, run_id: str):
    """``(identifier keys, UCIDs)`` the speed layer wrote since the batch last wrote them
    (``layer = 'speed'`` rows): those this run's resolve read (:func:`batch.speed_state.seen`),
    else read now (:func:`batch.speed_state.read`). A speed write after that read carries a time
    later than the snapshot: it wins over this publish's rows without being named here."""
    from batch.speed_state import read, seen

    kept = seen(spark, lake, run_id)
    if kept is not None:
        return kept
    ids, ucids = read(spark, settings)
    return ids.select("id_type", "id_value").distinct(), ucids.select("ucid").distinct()


def _snapshot(spark, lake: Lake, keyspace: str, publish_id: str):
    """The content hashes publish ``publish_id`` into ``keyspace`` wrote, per step."""
    return spark.read.format("delta").load(lake.gold("published")).where(
        f"keyspace = '{keyspace}' AND publish_id = '{publish_id}'")


def last_publish(spark, lake: Lake, settings: Settings) -> str | None:
    """The id of the last complete publish from this lake into the keyspace: the one the
    keyspace's ``batch_publishes`` row names, if the lake's snapshot (``gold/published``) holds
    it. Any other case -- a new, truncated or restored keyspace, another lake -- gives ``None``:
    write every row. (The hashes of a publish that died half-way carry an id no keyspace names.)"""
    path = lake.gold("published")
    if not exists(spark, path):
        return None
    from infra.store import Store

    with Store.connect(settings.cassandra) as store:
        row = store.one("get_batch_publish")
    if row is None:
        return None
    keyspace = settings.cassandra.keyspace
    held = spark.read.format("delta").load(path).where(
        f"keyspace = '{keyspace}' AND publish_id = '{row.publish_id}'").limit(1).count()
    return row.publish_id if held else None


def record(spark, lake: Lake, settings: Settings, run_id: str, publish_id: str) -> dict[str, int]:
    """Record a complete publish: its id in the keyspace, after every step's hashes are in the
    lake's snapshot; then drop the keyspace's older hashes from the snapshot (a crash before that
    leaves them unused: only the id the keyspace names is read). Returns rows written per step."""
    from datetime import UTC, datetime

    from pyspark.sql import functions as F

    from infra.store import Store

    keyspace = settings.cassandra.keyspace
    path = lake.gold("published")
    this = spark.read.format("delta").load(path).where(f"keyspace = '{keyspace}' AND publish_id = '{publish_id}'")
    written = {r.step: int(r.n) for r in this.groupBy("step").agg(F.sum(F.col("_write").cast("long")).alias("n"))
               .collect()}
    with Store.connect(settings.cassandra) as store:
        store.session.execute(store.statement("put_batch_publish"), (publish_id, run_id, datetime.now(UTC)))
    delete_where(spark, path, f"keyspace = '{keyspace}' AND publish_id != '{publish_id}'")
    return written
