"""Data-quality gates: Great Expectations suites over the lake and the published reference table.

The suites are JSON files in ``expectations/<layer>/<table>.json``, each a GX 1.x expectation
suite (``name``, ``expectations``, ``meta``). A suite's name is ``<layer>.<table>`` and names
what it validates: a Delta table as it is (``gold.identity_state``) or a *view* built here from
several tables, when the property spans tables (``gold.clusters``: one row per UCID with its
identifier, record and profile counts; ``gold.aliases``: every alias with the status of the UCID
it points at). Each view is a plain ``DataFrame`` function of the lake (:data:`VIEWS`), so the
expectations themselves stay declarative, and a failure names the suite, the table or view and
the expectation.

Thresholds are GX suite parameters (``{"$PARAMETER": "max_cluster_identifiers"}``) filled in at
run time from the rules (``max_cluster_identifiers``, the identifier types) and the batch
settings (``max_cluster_records``, ``max_quarantine_rate``), so the suites never restate them.

The GX context is ephemeral (in memory): nothing is written to the repository or the lake.
A lake table or view is validated where it is cheapest: up to ``UCID_BATCH_VALIDATE_IN_MEMORY_ROWS``
rows, the columns its suite names are collected once (Arrow) and GX checks them with pandas --
a GX Spark validation runs a few Spark jobs per expectation, seconds per suite even on a small
lake; larger ones are validated as Spark DataFrames (a Spark data source, one DataFrame asset and
a whole-DataFrame batch definition per suite). Row conditions are GX's engine-neutral conditions
(``{"type": "comparison", ...}``), so one suite file means the same on both engines. The
``published`` suites read the Cassandra ``identifiers``, ``ucids`` and ``ucid_aliases`` tables
into pandas (a full scan: meant for the check after a publish, not for a hot path).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from batch.tables import CHECKPOINT, Lake, exists
from identity.aliases import MAX_ALIAS_HOPS
from infra.settings import BatchSettings

EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"
LAYERS = ("bronze", "silver", "gold", "published")
LAKE_LAYERS = ("bronze", "silver", "gold")
PREFETCH_THREADS = 3  # lake suites' tables read at once (Spark jobs in flight from the driver)
RECORD_TYPE = "_record"
ALIAS_MAX_HOPS = MAX_ALIAS_HOPS  # the identity core's one hop limit


class ValidationFailed(RuntimeError):
    """One or more expectations failed; ``failures`` lists each with its suite and table."""

    def __init__(self, failures: list[dict], summary: dict) -> None:
        self.failures = failures
        self.summary = summary
        lines = [f"{len(failures)} expectation(s) failed:"]
        lines += [f"  - {describe(f)}" for f in failures]
        super().__init__("\n".join(lines))


def describe(result: dict) -> str:
    """One line for an expectation result: table, expectation, column, what was seen."""
    where = f"{result['suite']} (table {result['table']})"
    what = result["expectation"] + (f"({result['column']})" if result.get("column") else "")
    why = f" [{result['why']}]" if result.get("why") else ""
    return f"{where}: {what}{why}: {result['detail']}"


@dataclass(slots=True)
class Inputs:
    """What views and parameters need besides the lake."""

    spark: object
    lake: Lake
    run_id: str | None
    sources: list | None = None
    settings: object = None
    cache: dict[str, object] = field(default_factory=dict)

    def table(self, path: str):
        """A Delta table, or ``None`` when it does not exist (yet)."""
        if path not in self.cache:
            self.cache[path] = self.spark.read.format("delta").load(path) if exists(self.spark, path) else None
        return self.cache[path]


# ---------------------------------------------------------------- views (one per suite)

def _bronze_rows(inp: Inputs):
    """Every bronze row of every source: source, record_id, _file, _row, _load_id."""
    from pyspark.sql import functions as F

    root = Path(inp.lake.root) / "bronze"
    record_id = {s.name: s.record_id for s in inp.sources or []}
    names = sorted(record_id) if inp.sources is not None else sorted(
        p.name for p in root.glob("*") if p.is_dir() and not p.name.startswith("_"))
    frames = []
    for name in names:
        df = inp.table(inp.lake.bronze(name))
        if df is None:
            continue
        rid = record_id.get(name)
        rid_col = F.col(f"`{rid}`") if rid and rid in df.columns else F.lit("?")  # unknown source: not checked
        frames.append(df.select(F.lit(name).alias("source"), rid_col.cast("string").alias("record_id"),
                                "_file", "_row", "_load_id"))
    if not frames:
        return None
    out = frames[0]
    for more in frames[1:]:
        out = out.unionByName(more)
    return out


def _quarantine_rates(inp: Inputs):
    """Per source and load: files and rows taken and quarantined, and the quarantined shares.

    A load is gated once, by the run that made it: with a ``run_id``, that run's loads (none
    when it found no new files); without one (``ucid validate``), the latest load of each source.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    log = inp.table(inp.lake.ingest_log)
    if log is None:
        return None
    if inp.run_id is not None:
        this_run = log.where(F.col("load_id") == inp.run_id)
    else:
        latest = Window.partitionBy("source").orderBy(F.col("loaded_at").desc())
        last = log.withColumn("_n", F.dense_rank().over(latest)).where("_n = 1").select("source", "load_id").distinct()
        this_run = log.join(last, ["source", "load_id"])
    per_load = this_run.groupBy("source", "load_id").agg(
        F.count("*").alias("files"),
        F.sum(F.when(F.col("status") == "quarantined", 1).otherwise(0)).alias("files_quarantined"),
        F.sum("rows").alias("rows"), F.sum("quarantined").alias("rows_quarantined"),
    )
    total = F.col("rows") + F.col("rows_quarantined")
    return per_load.select(
        "source", "load_id", "files", "files_quarantined", "rows", "rows_quarantined",
        F.when(total > 0, F.col("rows_quarantined") / total).otherwise(F.lit(0.0)).alias("row_quarantine_rate"),
        (F.col("files_quarantined") / F.col("files")).alias("file_quarantine_rate"),
    )


def _silver_coverage(inp: Inputs):
    """Per source: bronze rows and silver rows (every bronze row normalized exactly once)."""
    from pyspark.sql import functions as F

    bronze = _bronze_rows(inp)
    silver = inp.table(inp.lake.silver("records"))
    if bronze is None or silver is None:
        return None
    b = bronze.groupBy("source").agg(F.count("*").alias("bronze_rows"))
    s = silver.groupBy("source").agg(F.count("*").alias("silver_rows"))
    return b.join(s, "source", "full").select(
        "source", F.coalesce("bronze_rows", F.lit(0)).alias("bronze_rows"),
        F.coalesce("silver_rows", F.lit(0)).alias("silver_rows"))


def _aliases(inp: Inputs):
    """Every merged UCID (alias), the UCID it points at, and that UCID's status."""
    from pyspark.sql import functions as F

    ucids = inp.table(inp.lake.gold("ucids"))
    if ucids is None:
        return None
    target = ucids.select(F.col("ucid").alias("merged_into"), F.col("status").alias("target_status"))
    return ucids.where("status = 'merged'").select(F.col("ucid").alias("alias"), "merged_into").join(
        target, "merged_into", "left").select(
        "alias", "merged_into", F.coalesce("target_status", F.lit("missing")).alias("target_status"))


def _clusters(inp: Inputs):
    """One row per UCID named anywhere in gold: its status and what points at it.

    ``status`` is ``missing`` for a UCID some table uses but ``gold/ucids`` never issued;
    ``identifiers`` excludes the record-only nodes of records without identifiers.
    """
    from pyspark.sql import functions as F

    ucids = inp.table(inp.lake.gold("ucids"))
    state = inp.table(inp.lake.gold("identity_state"))
    if ucids is None or state is None:
        return None
    out = ucids.select("ucid", "status")
    parts = [state.groupBy("ucid").agg(
        F.count("*").alias("state_rows"),
        F.count(F.when(F.col("id_type") != RECORD_TYPE, 1)).alias("identifiers"))]
    for name, column in (("assignments", "records"), ("profiles", "profiles"), ("links", "links")):
        df = inp.table(inp.lake.gold(name))
        if df is not None:
            parts.append(df.groupBy("ucid").agg(F.count("*").alias(column)))
    for part in parts:
        out = out.join(part, "ucid", "full")
    counts = ("state_rows", "identifiers", "records", "profiles", "links")
    return out.select(
        "ucid", F.coalesce("status", F.lit("missing")).alias("status"),
        *[(F.coalesce(c, F.lit(0)) if c in out.columns else F.lit(0)).cast("long").alias(c) for c in counts])


def _record_coverage(inp: Inputs):
    """Every silver record (source, record_id) with the UCID its assignment gives (or null)."""
    silver = inp.table(inp.lake.silver("records"))
    assignments = inp.table(inp.lake.gold("assignments"))
    if silver is None or assignments is None:
        return None
    return silver.select("source", "record_id").distinct().join(
        assignments.select("source", "record_id", "ucid"), ["source", "record_id"], "left")


def _ingest_log(inp: Inputs):
    """The ingest log, with ``origin``: ``file`` for a landing file, ``delta`` for a Delta-table
    source's version (named ``delta:...``; it has no content digest)."""
    from pyspark.sql import functions as F

    log = inp.table(inp.lake.ingest_log)
    if log is None:
        return None
    return log.withColumn("origin", F.when(F.col("file").startswith("delta:"), "delta").otherwise("file"))


def _gold(name: str) -> Callable[[Inputs], object]:
    return lambda inp: inp.table(inp.lake.gold(name))


VIEWS: dict[str, Callable[[Inputs], object]] = {
    "bronze.ingest_log": _ingest_log,
    "bronze.rows": _bronze_rows,
    "bronze.quarantine_rates": _quarantine_rates,
    "silver.records": lambda inp: inp.table(inp.lake.silver("records")),
    "silver.coverage": _silver_coverage,
    "gold.identity_state": _gold("identity_state"),
    "gold.ucids": _gold("ucids"),
    "gold.aliases": _aliases,
    "gold.clusters": _clusters,
    "gold.assignments": _gold("assignments"),
    "gold.record_coverage": _record_coverage,
    "gold.profiles": _gold("profiles"),
    "gold.events": _gold("events"),
    "gold.links": _gold("links"),
    "gold.refused_links": _gold("refused_links"),
    "gold.identity_changes": _gold("identity_changes"),
}
# a view that may legitimately be absent (nothing ingested yet has no quarantine to rate)
OPTIONAL = {"bronze.quarantine_rates", "gold.refused_links", "gold.links", "gold.identity_changes"}


def _published_frames(settings, gold_counts: dict[str, int]) -> dict[str, object]:
    """The Cassandra reference tables as pandas frames, each identifier/alias with where it
    resolves (the identity core's :func:`~identity.aliases.follow`, as the API follows).

    An identifier whose row says ``live`` (answered in one read by the API) but whose UCID is
    not live itself is ``stale``: a writer merged its UCID away without re-pointing it."""
    import pandas as pd

    from identity.aliases import UcidRecord, follow
    from infra.store import Store

    with Store.connect(settings.cassandra, request_timeout_s=60) as store:
        def read(name: str, columns: list[str]) -> pd.DataFrame:
            return pd.DataFrame([tuple(r) for r in store.scan(name)], columns=columns)

        ids = read("scan_identifiers", ["id_type", "id_value", "ucid", "status"])
        ucids = read("scan_ucids", ["ucid", "status", "merged_into"])
        aliases = read("scan_aliases", ["alias", "ucid"])
    records = {u: UcidRecord(st, m) for u, st, m in zip(ucids.ucid, ucids.status, ucids.merged_into, strict=True)}
    alias_of = dict(zip(aliases.alias, aliases.ucid, strict=True))

    def where(u: str | None):
        return follow(u, records.get, ALIAS_MAX_HOPS) if u else None

    def identifier_status(u: str | None, row_status: str | None) -> str:
        followed = where(u)
        if followed is None:
            return "missing"
        if row_status == "live" and followed.chain:
            return "stale"
        return followed.outcome

    ids["resolved_status"] = [identifier_status(u, st) for u, st in zip(ids.ucid, ids.status, strict=True)]
    ids = ids.drop(columns=["status"])
    resolved = [where(a) for a in aliases.alias]
    aliases["resolved_status"] = [f.outcome for f in resolved]
    aliases["hops"] = [len(f.chain) if f.found else ALIAS_MAX_HOPS for f in resolved]
    ucids["has_alias"] = [u in alias_of for u in ucids.ucid]
    return {"published.identifiers": ids, "published.ucids": ucids, "published.aliases": aliases}


# ---------------------------------------------------------------- suites

def suite_files(layer: str) -> list[Path]:
    """The suite files of one layer, in name order."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; layers: {', '.join(LAYERS)}")
    return sorted((EXPECTATIONS_DIR / layer).glob("*.json"))


def load_suite(path: Path) -> dict:
    """A suite file as a dict, checked to name a known view and to list expectations."""
    data = json.loads(path.read_text(encoding="utf-8"))
    name = data.get("name")
    expected = f"{path.parent.name}.{path.stem}"
    if name != expected:
        raise ValueError(f"{path}: suite name {name!r} must be {expected!r}")
    if not path.parent.name == "published" and name not in VIEWS:
        raise ValueError(f"{path}: no table or view {name!r} in batch.validate.VIEWS")
    if not data.get("expectations"):
        raise ValueError(f"{path}: no expectations")
    return data


def parameters(policy, batch: BatchSettings, gold_counts: dict[str, int] | None = None) -> dict:
    """Suite parameters: thresholds from the rules and the batch settings."""
    return {
        "max_cluster_identifiers": policy.max_cluster_identifiers or 2**62,
        "max_cluster_records": batch.max_cluster_records,
        "max_quarantine_rate": batch.max_quarantine_rate,
        "id_types": sorted(policy.types),
        "anchor_types": sorted(policy.types) + [RECORD_TYPE],
        **{f"gold_{k}": v for k, v in (gold_counts or {}).items()},
    }


def _context():
    import logging

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # its INFO lines are noise here
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False), analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _expected(kwargs: dict, params: dict) -> str:
    """The bounds an expectation asked for, its suite parameters filled in."""
    def value(v):
        return params.get(v["$PARAMETER"], v) if isinstance(v, dict) and "$PARAMETER" in v else v

    lo, hi = value(kwargs.get("min_value")), value(kwargs.get("max_value"))
    if lo is None and hi is None:
        return ""
    if lo == hi:
        return f"expected {lo!r}"
    return "expected " + " and ".join(x for x in (f">= {lo!r}" if lo is not None else "",
                                                   f"<= {hi!r}" if hi is not None else "") if x)


def _detail(result: dict, exception: dict | None, expected: str = "") -> str:
    if exception and exception.get("raised_exception"):
        return "error: " + (exception.get("exception_message") or "?")
    parts = []
    if "observed_value" in result:
        parts.append(f"observed {result['observed_value']!r}" + (f", {expected}" if expected else ""))
    elif result.get("unexpected_count") and expected:
        parts.append(expected)
    if result.get("unexpected_count"):
        pct = result.get("unexpected_percent")
        parts.append(f"{result['unexpected_count']:,} unexpected"
                     + (f" ({pct:.3g}% of {result.get('element_count', 0):,})" if pct is not None else ""))
        sample = result.get("partial_unexpected_list") or []
        if sample:
            parts.append("e.g. " + ", ".join(repr(v) for v in sample[:5]))
    return "; ".join(parts)


def _column(kwargs: dict) -> str | None:
    for key in ("column", "column_list"):
        if kwargs.get(key):
            v = kwargs[key]
            return v if isinstance(v, str) else ",".join(v)
    if kwargs.get("column_A"):
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    return None


def _condition_columns(condition) -> set[str]:
    if isinstance(condition, dict):
        if condition.get("type") in ("and", "or"):
            return set().union(*(_condition_columns(c) for c in condition.get("conditions", [])))
        name = (condition.get("column") or {}).get("name")
        return {name} if name else set()
    return set()


def suite_columns(suite_data: dict) -> list[str] | None:
    """The columns a suite's expectations and row conditions name, in first-use order; ``None``
    when that is not known (a condition string) or none is named (then all are collected)."""
    seen: dict[str, None] = {}
    for e in suite_data["expectations"]:
        kw = e.get("kwargs", {})
        names = [kw.get("column"), kw.get("column_A"), kw.get("column_B"), *(kw.get("column_list") or [])]
        names += sorted(_condition_columns(kw.get("row_condition")))
        seen.update((n, None) for n in names if n)
        if isinstance(kw.get("row_condition"), str):
            return None  # an engine-specific condition string: its columns are not known here
    return list(seen) or None


def in_memory(frame, columns: list[str] | None, max_rows: int):
    """``frame``'s named columns as pandas (one Arrow collect) when it has at most ``max_rows``
    rows, else ``None`` (validate it on Spark). One job either way: a table over the limit costs
    a collect of ``max_rows + 1`` rows in vain, small beside its validation on Spark."""
    if max_rows <= 0:
        return None
    cols = [c for c in (columns or frame.columns) if c in frame.columns] or frame.columns[:1]
    pdf = frame.select(*cols).limit(max_rows + 1).toPandas()
    return pdf if len(pdf) <= max_rows else None


def _run_suite(context, source, suite_data: dict, frame, params: dict, table: str) -> list[dict]:
    """Validate ``frame`` with one suite; one result dict per expectation.

    First with GX's ``BOOLEAN_ONLY`` result format: only what each verdict needs is computed.
    ``SUMMARY`` adds, per column expectation, a query for a few unexpected values -- on a passing
    expectation a full scan that finds nothing (half the suite's Spark jobs, measured). A suite
    with a failure runs again with ``SUMMARY``, so every failure comes with its counts, observed
    value and examples; a passing expectation's detail is then empty.
    """
    import great_expectations as gx

    name = suite_data["name"]
    suite = context.suites.add(gx.ExpectationSuite(
        name=name, expectations=suite_data["expectations"], meta=suite_data.get("meta") or {}))
    asset = source.add_dataframe_asset(name=name)
    batch_def = asset.add_batch_definition_whole_dataframe(name=f"{name}.all")
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch_def, suite=suite))
    result = definition.run(batch_parameters={"dataframe": frame}, expectation_parameters=params,
                            result_format={"result_format": "BOOLEAN_ONLY"})
    if not result.success:
        result = definition.run(batch_parameters={"dataframe": frame}, expectation_parameters=params,
                                result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5})
    out = []
    for r in result.results:
        cfg = r.expectation_config
        out.append({
            "suite": name, "table": table, "expectation": cfg.type, "column": _column(cfg.kwargs),
            "success": bool(r.success),
            "detail": _detail(r.result or {}, r.exception_info, _expected(cfg.kwargs, params)),
            "why": (cfg.meta or {}).get("why"),
        })
    return out


def validate_lake(spark, lake: Lake, batch_settings: BatchSettings, policy, run_id: str | None = None,
                  layers: Iterable[str] = LAKE_LAYERS, *, sources: list | None = None, settings=None,
                  raise_on_failure: bool = True, report: Callable[[str], None] | None = None) -> dict:
    """Run the suites of ``layers`` and return a summary; raise :class:`ValidationFailed` on any failure.

    ``layers`` is any of ``bronze``, ``silver``, ``gold`` (the lake, with Spark) and
    ``published`` (the Cassandra reference table; needs ``settings``). A suite whose table does
    not exist fails ("table missing"), except for the few that may legitimately be empty
    (:data:`OPTIONAL`). The summary: ``{"suites": {name: {...}}, "results": [...],
    "expectations": n, "failed": k}``; ``results`` holds one dict per expectation
    (suite, table, expectation, column, success, detail, why).
    """
    say = report or (lambda msg: None)
    layers = tuple(layers)
    for layer in layers:
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}; layers: {', '.join(LAYERS)}")
    inp = Inputs(spark, lake, run_id, sources, settings)
    max_rows = batch_settings.validate_in_memory_rows
    # the lake suites' tables are read (and small ones collected) by a few threads while this
    # one imports Great Expectations (seconds on a small machine): Spark jobs overlap, too
    pool = ThreadPoolExecutor(max_workers=PREFETCH_THREADS, thread_name_prefix="validate-read")
    fetched = {data["name"]: pool.submit(_read, inp, data, max_rows)
               for layer in layers if layer in LAKE_LAYERS for data in map(load_suite, suite_files(layer))}
    try:
        return _validate(inp, batch_settings, policy, layers, fetched, settings, raise_on_failure, say)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _read(inp: Inputs, data: dict, max_rows: int) -> tuple:
    """``(frame, pandas or None, seconds)``: a lake suite's view, collected when small."""
    started = time.perf_counter()
    frame = VIEWS[data["name"]](inp)
    small = in_memory(frame, suite_columns(data), max_rows) if frame is not None else None
    return frame, small, time.perf_counter() - started


def _validate(inp: Inputs, batch_settings: BatchSettings, policy, layers: tuple, fetched: dict, settings,
              raise_on_failure: bool, say) -> dict:
    context = _context()
    spark_source = context.data_sources.add_spark(name="lake") if set(layers) & set(LAKE_LAYERS) else None
    pandas_source = context.data_sources.add_pandas(name="in_memory")
    gold_counts = _gold_counts(inp) if "published" in layers else {}
    params = parameters(policy, batch_settings, gold_counts)
    published = None
    results: list[dict] = []
    suites: dict[str, dict] = {}
    for layer in layers:
        if layer == "published":
            if settings is None:
                raise ValueError("validating the published layer needs the settings (Cassandra)")
            published = published or _published_frames(settings, gold_counts)
        for path in suite_files(layer):
            data = load_suite(path)
            name = data["name"]
            table = (data.get("meta") or {}).get("table", name)
            started = time.perf_counter()
            small, read_s = None, 0.0
            if layer == "published":
                frame, source = published[name], pandas_source
            else:
                (frame, small, read_s), source = fetched[name].result(), spark_source
            if frame is None:
                ok = name in OPTIONAL
                res = [{"suite": name, "table": table, "expectation": "table_exists", "column": None,
                        "success": ok, "detail": "skipped: not there yet" if ok else "table missing",
                        "why": "the suite's table must exist"}]
                rows, engine = 0, None
            else:
                if layer != "published":
                    if small is not None:
                        frame, source = small, pandas_source
                    else:
                        frame = frame.localCheckpoint(**CHECKPOINT)  # one computation for all its expectations
                engine = "spark" if source is spark_source else "pandas"
                rows = len(frame) if engine == "pandas" else frame.count()
                res = _run_suite(context, source, data, frame, params, table)
            failed = sum(1 for r in res if not r["success"])
            suites[name] = {"table": table, "rows": rows, "expectations": len(res), "failed": failed,
                            "engine": engine, "seconds": round(time.perf_counter() - started + read_s, 2)}
            say(f"validate {name}: {len(res) - failed}/{len(res)} passed ({rows:,} rows)")
            results.extend(res)
    failures = [r for r in results if not r["success"]]
    summary = {"layers": list(layers), "suites": suites, "results": results,
               "expectations": len(results), "failed": len(failures)}
    if failures and raise_on_failure:
        raise ValidationFailed(failures, summary)
    return summary


def _gold_counts(inp: Inputs) -> dict[str, int]:
    """Gold row counts the published tables must at least hold."""
    from pyspark.sql import functions as F

    state, ucids = inp.table(inp.lake.gold("identity_state")), inp.table(inp.lake.gold("ucids"))
    if state is None or ucids is None:
        return {"identifiers": 0, "ucids": 0, "aliases": 0}
    return {
        "identifiers": state.where(F.col("id_type") != RECORD_TYPE).count(),
        "ucids": ucids.count(),
        "aliases": ucids.where("status = 'merged'").count(),
    }
