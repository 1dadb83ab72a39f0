"""Erasure in the lake (issue 16, part 1): erased people out of every Delta table, then vacuumed.

The lake step of an erasure (``ucid privacy erase`` runs it right after the serving store's part,
``ucid privacy finish`` for erasures made through the API). It knows the person only by the
suppression list's hashes and the receipts' UCIDs (docs/privacy.md), so:

1. :func:`erased_identifiers`: the lake's identifiers (``silver/records`` ids,
   ``gold/identity_state``) whose keyed hash is on the list -- held in memory for this step only;
2. :func:`delete`: ``silver/records`` rows holding one of them, the bronze rows they came from
   (same source, ``_file`` and ``_row``), quarantined rows whose raw text holds one (best effort:
   a raw value is compared as written, lower-cased), and in every gold table the rows whose UCID
   columns name an erased UCID or whose identifier columns hold an erased identifier
   (:func:`predicate`, from the table's schema); rows counted per table first;
3. :func:`relog`: the ingest log learns the new digest of each landing file the landing step
   rewrote (:mod:`batch.landing_erasure`), so the next ingest skips it instead of quarantining it;
4. :func:`vacuum`: a ``DELETE`` leaves the old Parquet files in place for time travel, so each
   touched table gets ``REORG TABLE ... APPLY (PURGE)`` (rewrites files that only hide rows with
   deletion vectors) and ``VACUUM ... RETAIN <hours> HOURS``. With Delta's default retention
   (``UCID_PRIVACY_VACUUM_RETENTION_HOURS`` = 168) the erased rows leave the disk, and time
   travel, 7 days after the delete: the next ``finish`` after that vacuums. ``vacuum_now`` (0 hours,
   Delta's retention check off for this session) is for tests and for a table nobody reads
   concurrently: a reader of an older version at that moment fails.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

import pandas as pd  # noqa: F401 - pandas UDF type hints are resolved in this module

from batch.tables import GOLD_TABLES, Lake, exists, sql_list, table_ref

UCID_COLUMNS = ("ucid", "merged_into", "new_id", "ucid_a", "ucid_b", "survivor")
UCID_ARRAYS = ("old_ids", "old_ucids")
IDENTIFIER_PAIRS = (("id_type", "id_value"), ("a_type", "a_value"), ("b_type", "b_value"),
                    ("anchor_type", "anchor_value"))
KEEP = frozenset({"runs", "published"})  # run stats; content hashes of published rows: nothing personal


def _hash_udf(key: bytes, suppressed: frozenset[str]):
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("boolean")
    def hit(types: pd.Series, values: pd.Series) -> pd.Series:
        from identity.suppression import identifier_hash

        return pd.Series([identifier_hash(key, t, v) in suppressed for t, v in zip(types, values, strict=True)])

    return hit


def erased_identifiers(spark, lake: Lake, key: bytes, suppressed: Collection[str]) -> set[tuple[str, str]]:
    """The ``(type, normalized value)`` identifiers of the lake whose hash is on the list."""
    from pyspark.sql import functions as F

    if not suppressed:
        return set()
    frames = []
    if exists(spark, lake.silver("records")):
        frames.append(spark.read.format("delta").load(lake.silver("records"))
                      .select(F.explode("ids").alias("i")).select(F.col("i.type").alias("t"), F.col("i.value").alias("v")))
    if exists(spark, lake.gold("identity_state")):
        frames.append(spark.read.format("delta").load(lake.gold("identity_state"))
                      .select(F.col("id_type").alias("t"), F.col("id_value").alias("v")))
    if not frames:
        return set()
    ids = frames[0]
    for more in frames[1:]:
        ids = ids.unionByName(more)
    hit = _hash_udf(key, frozenset(suppressed))
    return {(r.t, r.v) for r in ids.where(F.col("t").isNotNull() & F.col("v").isNotNull()).distinct()
            .where(hit("t", "v")).collect()}


def _pairs(type_col: str, value_col: str, identifiers: Iterable[tuple[str, str]]) -> str:
    """``type_col`` / ``value_col`` are SQL expressions (quote a column name yourself)."""
    by_type: dict[str, list[str]] = {}
    for t, v in identifiers:
        by_type.setdefault(t, []).append(v)
    return " OR ".join(f"({type_col} = {sql_list([t])} AND {value_col} IN ({sql_list(sorted(vs))}))"
                       for t, vs in sorted(by_type.items()))


def predicate(columns: Collection[str], ucids: Collection[str], identifiers: Collection[tuple[str, str]]) -> str | None:
    """A SQL predicate matching the rows of a table with these ``columns`` that name an erased
    UCID or hold an erased identifier; ``None`` when the table has no such column (or nothing is
    erased)."""
    parts = []
    if ucids:
        listed = sql_list(sorted(ucids))
        parts += [f"`{c}` IN ({listed})" for c in UCID_COLUMNS if c in columns]
        parts += [f"arrays_overlap(`{c}`, array({listed}))" for c in UCID_ARRAYS if c in columns]
    if identifiers:
        parts += [f"({_pairs(f'`{t}`', f'`{v}`', identifiers)})" for t, v in IDENTIFIER_PAIRS if t in columns and v in columns]
        if "ids" in columns:
            parts.append(f"exists(ids, i -> {_pairs('i.type', 'i.value', identifiers)})")
    return " OR ".join(f"({p})" for p in parts) if parts else None


def _delete(spark, path: str, where: str) -> int:
    count = spark.read.format("delta").load(path).where(where).count()
    if count:
        spark.sql(f"DELETE FROM {table_ref(path)} WHERE {where}")
    return count


def delete(spark, lake: Lake, sources: Iterable[str], ucids: Collection[str],
           identifiers: Collection[tuple[str, str]]) -> dict[str, int]:
    """Delete the erased people's rows from every table of the lake; rows removed per table
    (``delta.<table path under the lake>``), tables with none left out."""
    removed: dict[str, int] = {}
    records = lake.silver("records")
    if identifiers and exists(spark, records):
        where = predicate(("ids",), (), identifiers)
        rows = spark.read.format("delta").load(records).where(where).select("source", "_file", "_row").collect()
        by_source: dict[str, dict[str, list[int]]] = {}
        for r in rows:
            by_source.setdefault(r.source, {}).setdefault(r._file, []).append(int(r._row))
        for source in sources:
            path = lake.bronze(source)
            files = by_source.get(source)
            if files and exists(spark, path):
                where_rows = " OR ".join(f"(_file = {sql_list([f])} AND _row IN ({', '.join(map(str, sorted(ns)))}))"
                                         for f, ns in sorted(files.items()))
                removed[f"delta.bronze/{source}"] = _delete(spark, path, where_rows)
        removed["delta.silver/records"] = _delete(spark, records, where)
    if identifiers and exists(spark, lake.quarantine):
        values = sorted({v.lower() for _, v in identifiers})
        where = " OR ".join(f"instr(lower(raw), {sql_list([v])}) > 0" for v in values)
        removed["delta.bronze/_quarantine"] = _delete(spark, lake.quarantine, where)
    for name in GOLD_TABLES:
        path = lake.gold(name)
        if name in KEEP or not exists(spark, path):
            continue
        where = predicate(spark.read.format("delta").load(path).columns, ucids, identifiers)
        if where is not None:
            removed[f"delta.gold/{name}"] = _delete(spark, path, where)
    return {k: v for k, v in removed.items() if v}


def relog(spark, lake: Lake, rewritten: Iterable) -> int:
    """Give the ingest log the new digest of each rewritten landing file (its rows were erased):
    the file as it is now counts as ingested. Returns the log rows updated."""
    n = 0
    if not exists(spark, lake.ingest_log):
        return n
    for f in rewritten:
        spark.sql(f"UPDATE {table_ref(lake.ingest_log)} SET sha256 = {sql_list([f.sha256])} "
                  f"WHERE file = {sql_list([f.relpath])}")
        n += 1
    return n


def all_tables(spark, lake: Lake, sources: Iterable[str]) -> list[str]:
    """Every Delta table of the lake (paths)."""
    paths = [lake.bronze(s) for s in sources] + [lake.quarantine, lake.ingest_log, lake.silver("records")]
    paths += [lake.gold(n) for n in GOLD_TABLES]
    return [p for p in paths if exists(spark, p)]


def vacuum(spark, paths: Iterable[str], retention_hours: int, now: bool = False) -> list[str]:
    """Purge deletion vectors and vacuum each table, keeping ``retention_hours`` of history
    (0 with ``now``: Delta's retention check turned off for this session first)."""
    hours = 0 if now else retention_hours
    if now:
        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    done = []
    for path in paths:
        spark.sql(f"REORG TABLE {table_ref(path)} APPLY (PURGE)")
        spark.sql(f"VACUUM {table_ref(path)} RETAIN {hours} HOURS")
        done.append(str(Path(path)))
    return done
