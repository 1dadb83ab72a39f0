"""What the speed layer decided since the last batch run, read back as previous state.

The speed layer mints UCIDs and attaches identifiers in real time (``layer = 'speed'`` rows of
``identifiers`` and ``ucids``). The next batch run re-resolves everything, including those
events (they reach bronze through the ``stream`` source); taking the speed layer's assignments
as part of the previous state makes the batch keep the UCIDs customers were already given in
real time, instead of minting its own -- so both layers answer with the same UCID.

Only rows the batch's own state does not know are taken (identifiers first seen in real time,
UCIDs minted in real time); a merge the speed layer made between batch UCIDs is re-derived by
the batch from the events themselves. The scan is split into token ranges read in parallel by
Spark tasks, each through its Python worker's kept driver session
(:func:`batch.workers.worker_store`), so nothing is collected on the driver.
"""

from __future__ import annotations

import json

MIN_TOKEN, MAX_TOKEN = -(1 << 63), (1 << 63) - 1


def token_ranges(n: int) -> list[tuple[int, int]]:
    """``n`` contiguous ``(start, end]`` ranges covering the Murmur3 ring; the first includes MIN."""
    step = ((MAX_TOKEN - MIN_TOKEN) // n) + 1
    bounds = [MIN_TOKEN + i * step for i in range(n)] + [MAX_TOKEN]
    return [(bounds[i], bounds[i + 1]) for i in range(n)]


ID_COLUMNS = ("id_type", "id_value", "ucid", "first_seen", "layer")
UCID_COLUMNS = ("ucid", "minted_at", "status", "merged_into", "layer")
CHUNK = 10_000  # rows per pandas frame a scan task hands to Spark


def _scanner(cassandra: dict, table: str, columns: tuple[str, ...]):
    """A ``mapInPandas`` function: for each ``(start, end)`` token range it is given, the speed
    layer's rows of ``table`` in that range, ``CHUNK`` rows per frame."""

    def scan(ranges):
        import pandas as pd

        from batch.workers import worker_store

        store = worker_store(cassandra, request_timeout_s=60)  # the worker's, kept across tasks
        rows: list[tuple] = []
        for frame in ranges:
            for start, end in zip(frame["start"], frame["end"], strict=True):
                name = f"range_{table}_first" if start == MIN_TOKEN else f"range_{table}"
                for row in store.scan(name, int(start), int(end)):
                    if row.layer == "speed":
                        rows.append(tuple(row))
                        if len(rows) >= CHUNK:
                            yield pd.DataFrame(rows, columns=list(columns))
                            rows = []
        if rows:
            yield pd.DataFrame(rows, columns=list(columns))

    return scan


def read(spark, settings, splits: int = 64):
    """``(identifiers, ucids)`` DataFrames of the speed layer's rows, shaped like the gold state:
    ``id_type, id_value, ucid, first_seen`` and ``ucid, minted_at, status, merged_into``
    (times in epoch seconds). DataFrame operations only (no RDD): the same on a Spark Connect
    session."""
    from pyspark.sql import functions as F

    cassandra = json.loads(settings.cassandra.model_dump_json())
    ranges = spark.createDataFrame(token_ranges(splits), "start long, end long").repartition(min(splits, 16))
    id_df = ranges.mapInPandas(
        _scanner(cassandra, "identifiers", ID_COLUMNS),
        "id_type string, id_value string, ucid string, first_seen timestamp, layer string")
    ucid_df = ranges.mapInPandas(
        _scanner(cassandra, "ucids", UCID_COLUMNS),
        "ucid string, minted_at timestamp, status string, merged_into string, layer string")
    return (
        id_df.select("id_type", "id_value", "ucid", F.unix_seconds("first_seen").alias("first_seen")),
        ucid_df.select("ucid", F.unix_seconds("minted_at").alias("minted_at"), "status", "merged_into"),
    )


def merge_into(prev_state, prev_ucids, speed_ids, speed_ucids):
    """The previous state plus the speed layer's rows the batch state does not know."""
    new_ids = speed_ids.join(prev_state.select("id_type", "id_value"), ["id_type", "id_value"], "left_anti")
    new_ucids = speed_ucids.join(prev_ucids.select("ucid"), "ucid", "left_anti")
    # an identifier the speed layer put on a UCID it also minted: keep only UCIDs that exist
    known = prev_ucids.select("ucid").unionByName(new_ucids.select("ucid"))
    new_ids = new_ids.join(known, "ucid", "left_semi")
    state = prev_state.unionByName(new_ids.select(*prev_state.columns))
    ucids = prev_ucids.unionByName(new_ucids.select(*prev_ucids.columns))
    return state, ucids


SEEN_SCHEMA = "run_id string, id_type string, id_value string, ucid string"


def keep(spark, lake, run_id: str, speed_ids, speed_ucids) -> None:
    """Record the keys of the speed layer's rows a run read (``gold/speed_seen``: identifier keys
    with a null ``ucid``, UCIDs with null identifier columns, and one row of nulls naming the run),
    for that run's publish, which writes
    them again (:func:`seen`) without scanning the tables a second time."""
    from pyspark.sql import functions as F

    none = F.lit(None).cast("string")
    ids = speed_ids.select(F.lit(run_id).alias("run_id"), "id_type", "id_value", none.alias("ucid"))
    ucids = speed_ucids.select(F.lit(run_id).alias("run_id"), none.alias("id_type"), none.alias("id_value"), "ucid")
    marker = spark.createDataFrame([(run_id, None, None, None)], SEEN_SCHEMA)  # which run, even if it read nothing
    marker.unionByName(ids).unionByName(ucids).write.format("delta").mode("overwrite").option(
        "overwriteSchema", "true").save(lake.gold("speed_seen"))


def seen(spark, lake, run_id: str):
    """``(identifier keys, UCIDs)`` :func:`keep` recorded for ``run_id``, or ``None`` when the last
    record is another run's (or there is none)."""
    from batch.tables import exists

    path = lake.gold("speed_seen")
    if not exists(spark, path):
        return None
    table = spark.read.format("delta").load(path)
    runs = [r.run_id for r in table.where("id_type IS NULL AND ucid IS NULL").select("run_id").collect()]
    if runs != [run_id]:
        return None
    return (table.where("id_type IS NOT NULL").select("id_type", "id_value").distinct(),
            table.where("ucid IS NOT NULL").select("ucid").distinct())
