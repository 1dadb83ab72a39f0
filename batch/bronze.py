"""Bronze: every landing file ingested exactly once, as text, with where each row came from.

Per source, one load takes the files not yet in ``bronze/_ingest_log``:

1. file-level checks (:mod:`batch.landing`): an empty, unreadable or wrongly shaped file goes to
   quarantine whole, with the reason;
2. the readable files are read by Spark (every column as text) and each row gets ``_file``,
   ``_row`` (1-based, in file order), ``_load_id`` and ``_loaded_at``;
3. row-level checks: not valid JSON, no record id, a required column empty, an event time that
   does not parse. Failing rows go to ``bronze/_quarantine`` with the reason and the raw row;
4. good rows replace any rows of the same files in ``bronze/<source>`` (``replaceWhere`` on
   ``_file``), quarantined rows likewise in the quarantine table, and only then the files are
   appended to the ingest log -- the commit point. A load that dies half-way left no log row,
   so the next run redoes those files and replaces what was partly written: nothing partial,
   nothing twice. A file already logged with the same content is skipped; a file re-delivered
   under the same name with other content is quarantined ("changed after ingestion").
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from batch import landing
from batch.tables import CHECKPOINT, Lake, exists, last_commit, sql_list
from identity.sources import SourceDefinition

QUARANTINE_SCHEMA = (
    "source string, file string, row long, reason string, raw string, load_id string, loaded_at timestamp"
)
LOG_SCHEMA = (
    "source string, file string, sha256 string, size long, rows long, quarantined long, status string, "
    "load_id string, loaded_at timestamp"
)


@dataclass(slots=True)
class SourceLoad:
    """What one source's load did."""

    source: str
    files_new: int = 0
    files_skipped: int = 0
    files_quarantined: int = 0
    rows: int = 0
    rows_quarantined: int = 0
    rows_suppressed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def ingested(spark, lake: Lake, source: str | None = None) -> dict[str, set[str]] | dict[str, dict[str, set[str]]]:
    """relpath -> every sha256 already taken (loaded or quarantined) under that name for
    ``source``; without ``source``, the same for every source (source -> relpath -> sha256s),
    in one read of the log."""
    if not exists(spark, lake.ingest_log):
        return {}
    log = spark.read.format("delta").load(lake.ingest_log)
    if source is not None:
        log = log.where(f"source = '{source}'")
    out: dict[str, dict[str, set[str]]] = {}
    for r in log.select("source", "file", "sha256").collect():
        out.setdefault(r.source, {}).setdefault(r.file, set()).add(r.sha256)
    return out.get(source, {}) if source is not None else out


def _read_group(spark, source: SourceDefinition, files: list[landing.LandingFile]):
    """Read files of one shape; every definition column as text, plus ``_path`` and ``_corrupt``."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    paths = [str(f.path) for f in files]
    wanted = sorted(source.columns())
    if source.format == "csv":
        header = files[0].columns or ()
        schema = StructType([StructField(c, StringType()) for c in header])
        df = (
            spark.read.schema(schema).option("header", True).option("mode", "PERMISSIVE")
            .option("multiLine", False).csv(paths)
        )
        df = df.withColumn("_corrupt", F.lit(None).cast("string"))
    elif source.format == "jsonl":
        schema = StructType([StructField(c, StringType()) for c in wanted] + [StructField("_corrupt", StringType())])
        df = spark.read.schema(schema).option("mode", "PERMISSIVE").option(
            "columnNameOfCorruptRecord", "_corrupt"
        ).json(paths)
    elif source.format == "parquet":
        df = spark.read.parquet(*paths).withColumn("_corrupt", F.lit(None).cast("string"))
    else:
        raise ValueError(f"source {source.name}: bronze cannot read format {source.format!r}")
    cols = [
        (F.col(f"`{c}`").cast("string") if c in df.columns else F.lit(None).cast("string")).alias(c)
        for c in wanted
    ]
    path = F.url_decode(F.regexp_replace(F.col("_metadata.file_path"), r"^file:(//)?", ""))
    return df.select(*cols, F.col("_corrupt"), path.alias("_path"))


def _row_reason(source: SourceDefinition):
    """A Spark column: why a row fails the row-level checks, or null."""
    from pyspark.sql import functions as F

    def blank(c: str):
        return F.col(c).isNull() | (F.trim(F.col(c)) == "")

    checks = [
        (F.col("_corrupt").isNotNull(), F.lit("not valid JSON")),
        (blank(source.record_id), F.lit(f"no record id (column {source.record_id})")),
    ]
    for c in source.required:
        if c != source.record_id:
            checks.append((blank(c), F.lit(f"required column empty: {c}")))
    if source.event_time:
        t = source.event_time
        bad = F.col(t).isNotNull() & (F.trim(F.col(t)) != "") & F.try_to_timestamp(F.col(t)).isNull()
        checks.append((bad, F.concat(F.lit(f"bad {t}: '"), F.col(t), F.lit("'"))))
    reason = None
    for cond, why in reversed(checks):
        reason = F.when(cond, why) if reason is None else F.when(cond, why).otherwise(reason)
    return reason


@dataclass(slots=True)
class Pending:
    """Quarantine rows and ingest-log rows of a load, written once for all sources by
    :func:`commit` after every source's bronze rows: the log is still written last."""

    quarantine: list = field(default_factory=list)  # DataFrames
    files: list[tuple[str, str]] = field(default_factory=list)  # (source, file) taken in this load
    log: list[tuple] = field(default_factory=list)
    taken: dict[str, dict[str, set[str]]] | None = None  # the log before this load, read once

    def ingested(self, spark, lake: Lake, source: str) -> dict[str, set[str]]:
        """:func:`ingested` for ``source``, from one read of the log for every source of the load
        (a load with nothing new costs one Spark query, not one per source)."""
        if self.taken is None:
            self.taken = ingested(spark, lake)
        return self.taken.get(source, {})


def commit(spark, lake: Lake, pending: Pending) -> None:
    """Write the load's quarantine rows (replacing any of the same files), then the ingest log."""
    from pyspark.sql import functions as F

    if not pending.files:
        return
    quarantine = pending.quarantine[0]
    for more in pending.quarantine[1:]:
        quarantine = quarantine.unionByName(more)
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, file in pending.files:
        by_source[source].append(file)
    predicate = " OR ".join(f"(source = '{s}' AND file IN ({sql_list(fs)}))" for s, fs in sorted(by_source.items()))
    _replace(quarantine, lake.quarantine, predicate, spark)
    log = spark.createDataFrame(pending.log, LOG_SCHEMA.replace(", loaded_at timestamp", ""))
    log = log.withColumn("loaded_at", F.lit(time.time()).cast("timestamp"))
    log.write.format("delta").mode("append").save(lake.ingest_log)  # the commit point


def load_source(spark, root: Path, lake: Lake, source: SourceDefinition, load_id: str,
                pending: Pending | None = None, suppressed=None) -> SourceLoad:
    """Ingest the new landing files of one source (see the module docstring). With ``pending``,
    quarantine and log rows are left to :func:`commit` (one write for all sources).

    ``suppressed`` (:func:`batch.silver.suppression_flag`) flags the rows of erased people: they
    are left out of bronze and of the quarantine alike (an extract delivered again after an
    erasure), and counted (``rows_suppressed``)."""
    own = pending is None
    pending = pending or Pending()
    from pyspark.sql import functions as F

    if source.format == "delta":
        stats = load_delta_source(spark, root, lake, source, load_id, pending)
        if own:
            commit(spark, lake, pending)
        return stats
    stats = SourceLoad(source.name)
    checked, stats.files_skipped = _new_files(pending.ingested(spark, lake, source.name), root, source)
    if not checked:
        return stats
    stats.files_new = len(checked)
    loaded_at = F.lit(time.time()).cast("timestamp")
    quarantine = _file_quarantine(spark, source, checked, load_id, loaded_at, stats)

    good_files = [f for f in checked if f.reason is None]
    counts: dict[str, tuple[int, int]] = {}
    good = None
    if good_files:
        rows = _checked_rows(spark, source, good_files, suppressed(source) if suppressed else None)
        quarantine = quarantine.unionByName(_quarantined_rows(rows, source, load_id, loaded_at))
        good = _good_rows(rows, source, load_id, loaded_at)
        counts = _tally(rows, stats)
        lost = sorted(f.relpath for f in good_files if f.relpath not in counts)
        if lost:  # the file checks saw data rows in each: none may vanish between listing and reading
            raise RuntimeError(f"source {source.name}: {len(lost)} file(s) passed the file checks but Spark read "
                               f"no row of them (first: {lost[0]}); nothing of this load is logged")

    if good is not None:
        files_sql = sql_list([f.relpath for f in checked])
        _replace(good, lake.bronze(source.name), f"_file IN ({files_sql})", spark)
    pending.quarantine.append(quarantine)
    _log_files(pending, source, checked, counts, load_id)
    if own:
        commit(spark, lake, pending)
    return stats


def _new_files(done: dict[str, set[str]], root: Path, source: SourceDefinition) -> tuple[list[landing.LandingFile], int]:
    """``(files to take, files skipped)``: each landing file not yet ingested with this content
    (``done``: :func:`ingested`), after the file-level checks; a name already ingested with other
    content fails them."""
    checked: list[landing.LandingFile] = []
    skipped = 0
    for path in landing.source_files(root, source):
        rel = str(path.relative_to(root))
        if rel in done and landing.digest(path) in done[rel]:
            skipped += 1
            continue
        f = landing.check_file(root, source, path)
        if rel in done:
            f = landing.LandingFile(f.source, f.path, f.relpath, f.size, f.digest, f.columns,
                                    "changed after ingestion: same name, other content (sha256 differs)")
        checked.append(f)
    return checked, skipped


def _file_quarantine(spark, source: SourceDefinition, checked: list[landing.LandingFile], load_id: str,
                     loaded_at, stats: SourceLoad):
    """Quarantine rows (``row`` 0) for the files that failed the file-level checks; counts them
    and their reasons in ``stats``."""
    file_rows = [
        (source.name, f.relpath, 0, f.reason, None, load_id) for f in checked if f.reason is not None
    ]
    quarantine = spark.createDataFrame(
        file_rows, "source string, file string, row long, reason string, raw string, load_id string"
    ).withColumn("loaded_at", loaded_at)
    stats.files_quarantined = len(file_rows)
    for _, _, _, reason, _, _ in file_rows:
        stats.reasons[reason] = stats.reasons.get(reason, 0) + 1
    return quarantine


def _checked_rows(spark, source: SourceDefinition, files: list[landing.LandingFile], suppressed=None):
    """Every row of ``files`` with ``_file`` (the relative path), ``_row`` (1-based, in file
    order), ``_reason`` (why it fails the row-level checks, or null) and ``_suppressed`` (an erased
    person's row: the ``suppressed`` column, or false); checkpointed."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    # files of one shape are read together; parquet shapes come from the file's schema
    groups: dict[tuple, list[landing.LandingFile]] = defaultdict(list)
    for f in files:
        shape = f.columns if source.format != "parquet" else _parquet_shape(f.path)
        groups[(shape,)].append(f)
    rel_of = spark.createDataFrame([(str(f.path), f.relpath) for f in files], "_path string, _file string")
    frames = [_read_group(spark, source, group) for group in groups.values()]
    df = frames[0]
    for more in frames[1:]:
        df = df.unionByName(more)
    order = Window.partitionBy("_file").orderBy("_mono")
    return (
        df.join(F.broadcast(rel_of), "_path")
        .withColumn("_mono", F.monotonically_increasing_id())
        .withColumn("_row", F.row_number().over(order).cast("long"))
        .withColumn("_reason", _row_reason(source))
        .withColumn("_suppressed", suppressed if suppressed is not None else F.lit(False))
        .drop("_mono", "_path")
        .localCheckpoint(**CHECKPOINT)
    )


def _quarantined_rows(rows, source: SourceDefinition, load_id: str, loaded_at):
    """The rows that fail the row-level checks, as quarantine rows with the raw row."""
    from pyspark.sql import functions as F

    data_cols = sorted(source.columns())
    return rows.where(F.col("_reason").isNotNull() & ~F.col("_suppressed")).select(
        F.lit(source.name).alias("source"), F.col("_file").alias("file"), F.col("_row").alias("row"),
        F.col("_reason").alias("reason"),
        F.coalesce(F.col("_corrupt"), F.to_json(F.struct(*data_cols))).alias("raw"),
        F.lit(load_id).alias("load_id"), loaded_at.alias("loaded_at"),
    )


def _good_rows(rows, source: SourceDefinition, load_id: str, loaded_at):
    """The rows that pass the row-level checks, as bronze rows."""
    from pyspark.sql import functions as F

    data_cols = sorted(source.columns())
    return rows.where(F.col("_reason").isNull() & ~F.col("_suppressed")).select(
        *data_cols, "_file", "_row", F.lit(load_id).alias("_load_id"), loaded_at.alias("_loaded_at")
    )


def _tally(rows, stats: SourceLoad) -> dict[str, tuple[int, int]]:
    """File -> ``(good rows, quarantined rows)``; adds the row totals and the quarantine reasons
    (``bad <column>`` without the value) to ``stats``."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows.groupBy("_file", "_reason", "_suppressed").count().collect():
        if r._suppressed:  # an erased person's row: counted, in neither bronze nor the quarantine
            tally[r._file]
            stats.rows_suppressed += r["count"]
            continue
        tally[r._file][0 if r._reason is None else 1] += r["count"]
        if r._reason is not None:
            key = r._reason if not r._reason.startswith("bad ") else r._reason.split(":")[0]
            stats.reasons[key] = stats.reasons.get(key, 0) + r["count"]
    counts = {f: (ok, bad) for f, (ok, bad) in tally.items()}
    stats.rows = sum(ok for ok, _ in counts.values())
    stats.rows_quarantined = sum(b for _, b in counts.values())
    return counts


def _log_files(pending: Pending, source: SourceDefinition, checked: list[landing.LandingFile],
               counts: dict[str, tuple[int, int]], load_id: str) -> None:
    """Queue one ingest-log row per file taken, loaded or quarantined, for :func:`commit`."""
    for f in checked:
        ok, bad = counts.get(f.relpath, (0, 0))
        pending.files.append((source.name, f.relpath))
        pending.log.append((source.name, f.relpath, f.digest, f.size, ok, bad,
                            "quarantined" if f.reason else "loaded", load_id))


def _parquet_shape(path: Path) -> str:
    import pyarrow.parquet as pq

    return str(pq.read_schema(path))


def _replace(df, path: str, predicate: str, spark) -> None:
    """Write ``df`` as exactly the rows of ``path`` matching ``predicate`` (idempotent retry)."""
    if not exists(spark, path):
        df.write.format("delta").mode("append").save(path)
        return
    df.write.format("delta").mode("overwrite").option("replaceWhere", predicate).save(path)


def load_delta_source(spark, root: Path, lake: Lake, source: SourceDefinition, load_id: str,
                      pending: Pending) -> SourceLoad:
    """A source that is itself a Delta table: each new table version is taken once, whole.

    The version plays the part of a landing file (``_file = delta:<location>@v<version>``): when
    the table has a version not yet in the ingest log, its snapshot replaces every earlier
    version's rows of this source in bronze (silver follows bronze's set of files), with the same
    row-level checks and quarantine as files.
    """
    from pyspark.sql import functions as F

    stats = SourceLoad(source.name)
    location = str(root / source.location)
    if not exists(spark, location):
        return stats
    version = last_commit(spark, location)["version"]
    name = f"delta:{source.location}@v{version}"
    if name in pending.ingested(spark, lake, source.name):
        stats.files_skipped = 1
        return stats
    stats.files_new = 1
    loaded_at = F.lit(time.time()).cast("timestamp")
    df = spark.read.format("delta").option("versionAsOf", version).load(location)
    missing = sorted({source.record_id, *source.required, *(c.column for c in source.identifiers)} - set(df.columns))
    data_cols = sorted(source.columns())
    prefix = f"delta:{source.location}@"
    if missing:
        reason = f"missing columns: {', '.join(missing)} (table has: {', '.join(df.columns)})"
        quarantine = spark.createDataFrame([(source.name, name, 0, reason, None, load_id)],
                                           "source string, file string, row long, reason string, raw string, "
                                           "load_id string").withColumn("loaded_at", loaded_at)
        rows_ok, rows_bad, status = 0, 0, "quarantined"
        stats.files_quarantined = 1
        stats.reasons[reason] = 1
        good = None
    else:
        cols = [F.col(f"`{c}`").cast("string").alias(c) if c in df.columns else F.lit(None).cast("string").alias(c)
                for c in data_cols]
        df = (df.select(*cols).withColumn("_corrupt", F.lit(None).cast("string"))
              .withColumn("_file", F.lit(name))
              .withColumn("_row", F.monotonically_increasing_id() + 1)
              .withColumn("_reason", _row_reason(source)).localCheckpoint(**CHECKPOINT))
        quarantine = df.where(F.col("_reason").isNotNull()).select(
            F.lit(source.name).alias("source"), F.col("_file").alias("file"), F.col("_row").alias("row"),
            F.col("_reason").alias("reason"), F.to_json(F.struct(*data_cols)).alias("raw"),
            F.lit(load_id).alias("load_id"), loaded_at.alias("loaded_at"))
        good = df.where(F.col("_reason").isNull()).select(
            *data_cols, "_file", "_row", F.lit(load_id).alias("_load_id"), loaded_at.alias("_loaded_at"))
        rows_ok, rows_bad, status = good.count(), quarantine.count(), "loaded"
        stats.rows, stats.rows_quarantined = rows_ok, rows_bad
    if good is not None:
        _replace(good, lake.bronze(source.name), f"_file LIKE '{prefix}%'", spark)
    pending.quarantine.append(quarantine)
    pending.files.append((source.name, name))
    pending.log.append((source.name, name, "", 0, rows_ok, rows_bad, status, load_id))
    return stats
