"""Silver: bronze rows -> normalized identity records, identifier rejections and links.

Identifiers are normalized by the identity core itself (:func:`identity.records.normalize_record`,
run inside a pandas UDF), so batch, speed and the local reference agree by construction, not
by a re-implementation. Everything else (times, attributes, measures, consents) is Spark-native.
Incremental: only bronze files not yet in ``silver/records`` are processed; their rows replace
any earlier rows of the same files, so a retry after a crash writes nothing twice.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd  # noqa: F401 - pandas UDF type hints are resolved in this module

from batch.tables import Lake, delete_where, exists, last_commit, sql_list
from identity.sources import SourceDefinition

NORMALIZED = (
    "anchor_type string, anchor_value string, ids array<struct<type:string,value:string>>, "
    "rejections array<struct<type:string,raw:string,reason:string,kind:string>>, suppressed boolean"
)

_POLICY: dict[tuple[str, str | None, str | None], object] = {}
Suppression = tuple[bytes, frozenset[str]] | None
"""The suppression list as the normalize stage uses it: the HMAC key and every hash on the list."""


def rules_source(rules_path: str) -> tuple[str, str]:
    """The rules as the UDFs carry them to the executors: the file's path (named in errors) and
    its text, read here on the driver. An executor on another machine has no such file (and one
    on this machine would read a file edited since the job started)."""
    return str(rules_path), Path(rules_path).read_text(encoding="utf-8")


def cached_policy(rules: tuple[str, str] | str, region: str | None):
    """The policy, compiled once per Python worker (a compiled policy does not pickle), from the
    ``(path, text)`` of :func:`rules_source`; a bare path is read where this runs."""
    path, text = rules if isinstance(rules, tuple) else (rules, None)
    key = (path, text, region)
    if key not in _POLICY:
        from identity.rules import compile_rules, load_policy, rules_from_dict

        if text is None:
            _POLICY[key] = load_policy(Path(path), default_region=region)
        else:
            import yaml

            _POLICY[key] = compile_rules(rules_from_dict(yaml.safe_load(text), path), region)
    return _POLICY[key]


def normalize_udf(rules_path: str, region: str | None, suppression: Suppression = None):
    """A pandas UDF: (source, record_id, raw identifiers) -> anchor, identifiers, rejections, and
    whether an identifier is on the suppression list (``suppression``: the key and the hashes)."""
    from pyspark.sql.functions import pandas_udf

    rules = rules_source(rules_path)

    @pandas_udf(NORMALIZED)
    def normalize(source: pd.Series, record_id: pd.Series, raw: pd.Series) -> pd.DataFrame:
        from identity.records import Record, normalize_record
        from identity.suppression import hashes, suppressed

        policy = cached_policy(rules, region)
        out = {"anchor_type": [], "anchor_value": [], "ids": [], "rejections": [], "suppressed": []}
        for src, rid, pairs in zip(source, record_id, raw, strict=True):
            record = Record(src, rid, tuple((p["type"], p["raw"]) for p in pairs))
            norm, rejected = normalize_record(record, policy)
            out["anchor_type"].append(norm.anchor[0])
            out["anchor_value"].append(norm.anchor[1])
            out["ids"].append([{"type": t, "value": v} for t, v in norm.identifiers])
            out["rejections"].append(
                [{"type": r.type, "raw": r.raw, "reason": r.reason, "kind": r.kind} for r in rejected]
            )
            out["suppressed"].append(bool(suppression and suppression[1])
                                     and suppressed(hashes(suppression[0], norm.identifiers), suppression[1]))
        return pd.DataFrame(out)

    return normalize


def suppression_flag(rules_path: str, region: str | None, suppression: Suppression):
    """``flag(source) -> Column | None``: true for a row of ``source`` holding an identifier on the
    suppression list (normalized by the identity core in a pandas UDF); ``None`` when the list is
    empty (nothing to compute). The bronze ingest uses it to leave erased people's rows out."""
    if not suppression or not suppression[1]:
        return lambda _source: None
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    key, hashes = suppression
    rules = rules_source(rules_path)

    @pandas_udf("boolean")
    def flagged(source: pd.Series, raw: pd.Series) -> pd.Series:
        from identity.records import Record
        from identity.suppression import record_suppressed

        policy = cached_policy(rules, region)
        return pd.Series([record_suppressed(key, Record(src, "", tuple((p["type"], p["raw"]) for p in pairs)),
                                            policy, hashes) for src, pairs in zip(source, raw, strict=True)])

    def flag(source: SourceDefinition):
        raw_ids = F.array(*[F.struct(F.lit(c.type).alias("type"), F.col(c.column).cast("string").alias("raw"))
                            for c in source.identifiers])
        return flagged(F.lit(source.name), raw_ids)

    return flag


def _map(cols: dict[str, str], available: set[str]):
    from pyspark.sql import functions as F

    if not cols:
        return F.create_map().cast("map<string,string>")
    parts = []
    for name, col in sorted(cols.items()):
        if col in available:
            parts += [F.lit(name), F.col(col)]
    return F.map_filter(F.create_map(*parts), lambda k, v: v.isNotNull() & (F.trim(v) != ""))


def records_frame(spark, bronze, source: SourceDefinition, rules_path: str, region: str | None,
                  suppression: Suppression = None):
    """Silver records of one source's bronze rows (one output row per bronze row), with
    ``suppressed``: the row holds an identifier of an erased person (:func:`build` drops it)."""
    from pyspark.sql import functions as F

    available = set(bronze.columns)
    raw_ids = F.array(*[
        F.struct(F.lit(c.type).alias("type"), F.col(c.column).alias("raw")) for c in source.identifiers
    ])
    event_time = F.try_to_timestamp(F.col(source.event_time)) if source.event_time else F.lit(None).cast("timestamp")
    event_type = F.col(source.event_type).cast("string") if source.event_type else F.lit(None).cast("string")
    if source.event_types:  # the source's words -> ucid's; values not listed kept
        mapping = F.create_map(*[F.lit(x) for kv in sorted(source.event_types.items()) for x in kv])
        event_type = F.coalesce(mapping[event_type], event_type)
    measures = F.map_from_entries(F.filter(F.array(*[
        F.struct(F.lit(name), F.expr(f"try_cast(`{col}` AS double)"))
        for name, col in sorted(source.measures.items())
    ]), lambda e: e.getField("col2").isNotNull())) if source.measures else F.create_map().cast("map<string,double>")
    norm = normalize_udf(rules_path, region, suppression)(F.lit(source.name), F.col(source.record_id), raw_ids)
    return bronze.select(
        F.lit(source.name).alias("source"),
        F.col(source.record_id).alias("record_id"),
        norm.alias("_n"),
        F.lit(source.kind).alias("kind"),
        F.lit(source.priority).alias("source_priority"),
        (F.col(source.channel_column) if source.channel_column else F.lit(source.channel)).cast("string").alias("channel"),
        event_time.alias("event_time"),
        event_type.alias("event_type"),
        _map(source.attributes, available).alias("attributes"),
        measures.cast("map<string,double>").alias("measures"),
        _map(source.consents, available).alias("consents"),
        "_file", "_row", "_load_id",
    ).select("source", "record_id", "_n.*", *[c for c in (
        "kind", "source_priority", "channel", "event_time", "event_type", "attributes", "measures",
        "consents", "_file", "_row", "_load_id")])


def build(spark, lake: Lake, sources: list[SourceDefinition], rules_path: str, region: str | None,
          full: bool = False, suppression: Suppression = None) -> dict[str, int]:
    """Normalize every bronze file not yet in silver, all sources in one write; return the number
    of new files per source and the rows written.

    A row holding an identifier on the suppression list (``suppression``: the HMAC key and the
    hashes, :mod:`identity.suppression`) is left out of silver, so it never links, mints or feeds a
    profile; ``suppressed`` counts them (a count only: the rows are an erased person's, they are
    not kept anywhere, not even in a quarantine)."""
    from pyspark.sql import functions as F

    records_path = lake.silver("records")
    replace_all = full or not exists(spark, records_path)
    done: set[tuple[str, str]] = set()
    if not replace_all:
        done = {(r.source, r._file) for r in
                spark.read.format("delta").load(records_path).select("source", "_file").distinct().collect()}
    logged: dict[str, set[str]] = {}
    if exists(spark, lake.ingest_log):
        for r in spark.read.format("delta").load(lake.ingest_log).where("status = 'loaded'").select(
                "source", "file").collect():
            logged.setdefault(r.source, set()).add(r.file)
    frames, clauses, new_files = [], [], {}
    for source in sources:
        bronze_path = lake.bronze(source.name)
        if not exists(spark, bronze_path):
            continue
        bronze = spark.read.format("delta").load(bronze_path)
        if source.format == "delta":  # only the latest version's rows are in bronze
            in_bronze = {r._file for r in bronze.select("_file").distinct().collect()}
            if not replace_all:
                _drop_vanished(spark, records_path, source.name, bronze)
        else:
            in_bronze = logged.get(source.name, set())
        files = sorted(f for f in in_bronze if (source.name, f) not in done)
        if not files:
            continue
        new_files[source.name] = len(files)
        if not replace_all:
            bronze = bronze.where(F.col("_file").isin(files))
        frames.append(records_frame(spark, bronze, source, rules_path, region, suppression))
        clauses.append(f"(source = '{source.name}' AND _file IN ({sql_list(files)}))")
    if not frames:
        return {"files": 0, "rows": 0}
    frame = frames[0]
    for more in frames[1:]:
        frame = frame.unionByName(more)
    dropped = 0
    if suppression and suppression[1]:  # normalized twice then; only once someone was erased
        dropped = frame.where("suppressed").count()
    frame = frame.where("NOT suppressed").drop("suppressed")
    if replace_all:
        frame.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(records_path)
    else:
        frame.write.format("delta").mode("overwrite").option("replaceWhere", " OR ".join(clauses)).save(records_path)
    metrics = last_commit(spark, records_path)["operationMetrics"] or {}
    return {"files": sum(new_files.values()), "rows": int(metrics.get("numOutputRows", 0)), "suppressed": dropped, **{
        f"files_{k}": v for k, v in new_files.items()}}


def _drop_vanished(spark, records_path: str, source: str, bronze) -> None:
    """Delete silver rows of files no longer in bronze (a Delta source's replaced versions)."""
    from pyspark.sql import functions as F

    table = spark.read.format("delta").load(records_path).where(F.col("source") == source)
    gone = [r._file for r in table.select("_file").distinct().join(
        bronze.select("_file").distinct(), "_file", "left_anti").collect()]
    if gone:
        delete_where(spark, records_path, f"source = {sql_list([source])} AND _file IN ({sql_list(gone)})")


def rejections(spark, lake: Lake):
    """Identifier values refused by the rules (invalid or blocked), one row each."""
    from pyspark.sql import functions as F

    records = spark.read.format("delta").load(lake.silver("records"))
    return records.select("source", "record_id", F.explode("rejections").alias("r")).select(
        "source", "record_id", "r.type", "r.raw", "r.reason", "r.kind")


def links(records):
    """Anchor -> every other identifier of a record (the identity core's star, in Spark)."""
    from pyspark.sql import functions as F

    return (
        records.where(F.size("ids") > 1)
        .select("source", "record_id", "anchor_type", "anchor_value",
                F.explode(F.slice("ids", 2, 1_000_000)).alias("b"))
        .select("source", "record_id", F.col("anchor_type").alias("a_type"),
                F.col("anchor_value").alias("a_value"), F.col("b.type").alias("b_type"),
                F.col("b.value").alias("b_value"))
    )
