"""``ucid batch run``: the whole batch pipeline, stage by stage, with progress.

Stages (each also callable alone, which is what the Airflow DAG does): ``ingest`` (landing ->
bronze), ``normalize`` (bronze -> silver), ``resolve`` (silver -> gold identity tables),
``profiles`` (gold 360 profiles), ``segments`` (computed traits and segment memberships,
:mod:`batch.segments`), ``validate`` (Great Expectations suites), ``publish`` (gold ->
Cassandra). Incremental by default: only new landing files are ingested and normalized; the
identity graph is re-resolved as a whole against the previous state, which keeps UCIDs stable.
``full=True`` re-normalizes every bronze row (bronze itself is never re-ingested).

A run whose inputs did not change since the last succeeded run -- no file ingested since (the
ingest log's version), the same rules, sources, match model and batch settings -- has nothing
to do: every stage after ``ingest`` returns ``{"skipped": ...}`` at once and publish writes
nothing to Cassandra (:func:`unchanged_since`). Its result would be the last run's; only what a
run stamps with its own clock (``now``: a profile's snapshot time) would differ. ``full=True``
never skips.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from batch.tables import CHECKPOINT, Lake, exists, last_commit
from infra.log import get_logger
from infra.settings import BatchSettings, Settings

log = get_logger("batch")
Report = Callable[[str], None]
STAGES = ("ingest", "normalize", "resolve", "profiles", "segments", "validate", "publish")
# finer validation stages, used by the Airflow DAG: bronze+silver before resolve, gold before
# publish, the published reference table after it (``validate`` = bronze+silver+gold at once)
VALIDATION_STAGES = ("validate_input", "validate_gold", "validate_published")
# what an unchanged run skips: everything after ingest (ingest itself finds out what is new)
SKIPPABLE = frozenset({"normalize", "resolve", "profiles", "segments", "validate", "publish", *VALIDATION_STAGES})


class NothingIngested(RuntimeError):
    """The landing zone held no file of any source and nothing was ingested before: a run on it
    would "succeed" with empty tables."""


@dataclass(slots=True)
class Context:
    """What every stage needs: settings, paths, the policy, the sources, the run's clock."""

    settings: Settings
    batch: BatchSettings
    landing: Path
    lake: Lake
    rules_path: Path
    region: str | None
    run_id: str
    now: int
    full: bool = False
    report: Report = print
    stats: dict[str, dict] = field(default_factory=dict)
    _spark: object = None
    _unchanged: tuple[str | None] | None = None  # (run id,) once unchanged_since has looked
    _model: object = None

    @property
    def spark(self):
        if self._spark is None:
            from batch.spark import spark_session

            self._spark = spark_session(self.settings, app_name=f"ucid-batch-{self.run_id}")
        return self._spark

    @property
    def policy(self):
        from identity.rules import load_policy

        return load_policy(self.rules_path, default_region=self.region)

    @property
    def sources(self):
        from identity.sources import load_sources

        return load_sources(self.settings.conf_dir / "sources", known_types=set(self.policy.types))

    @property
    def model(self):
        """The trained match model in force (``UCID_MATCH_MODEL_FILE``), loaded once; ``None``:
        exact rules only. Raises :class:`infra.match.model.ModelFileError` if it is unreadable."""
        path = self.settings.match.model_file
        if path is None:
            return None
        if self._model is None:
            from infra.match.model import load_model

            self._model = load_model(path)
        return self._model


def context(settings: Settings, landing: Path | None = None, full: bool = False, now: int | None = None,
            run_id: str | None = None, report: Report = print, region: str | None = None,
            unchanged: tuple[str | None] | None = None) -> Context:
    """``unchanged``: ``(run id or None,)`` when :func:`unchanged_since` was already decided for
    this run (by its ingest, in another process): the later stages need not look again."""
    ctx = Context(
        settings=settings, batch=settings.batch, landing=landing or settings.landing,
        lake=Lake(settings.lake), rules_path=settings.conf_dir / "rules.yaml", region=region,
        run_id=run_id or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6],
        now=now if now is not None else int(time.time()), full=full, report=report,
    )
    if unchanged is not None and not full:
        ctx._unchanged = unchanged
    return ctx


def ingest(ctx: Context) -> dict:
    """Every source's new landing files (:func:`batch.bronze.load_source`), ``ingest_threads``
    sources at once; then their quarantine rows and the ingest log, written once (the commit)."""
    from concurrent.futures import ThreadPoolExecutor

    from batch.bronze import Pending, commit, ingested, load_source
    from batch.silver import suppression_flag

    taken = ingested(ctx.spark, ctx.lake)  # the log before this load, read once for every source
    flag = suppression_flag(str(ctx.rules_path), ctx.region, suppression_list(ctx.settings))

    def load(source):
        own = Pending(taken=taken)
        return load_source(ctx.spark, ctx.landing, ctx.lake, source, ctx.run_id, own, flag), own

    with ThreadPoolExecutor(max_workers=ctx.batch.ingest_threads, thread_name_prefix="ingest") as pool:
        loads = list(pool.map(load, ctx.sources))
    out = {}
    pending = Pending(taken=taken)
    for load, own in loads:  # in source order, whatever order they finished in
        pending.quarantine += own.quarantine
        pending.files += own.files
        pending.log += own.log
        out[load.source] = {
            "files_new": load.files_new, "files_skipped": load.files_skipped,
            "files_quarantined": load.files_quarantined, "rows": load.rows,
            "rows_quarantined": load.rows_quarantined, "rows_suppressed": load.rows_suppressed,
            "reasons": load.reasons,
        }
        if load.files_new:
            ctx.report(f"ingest {load.source}: {load.files_new} new files, {load.rows:,} rows, "
                       f"{load.rows_quarantined + load.files_quarantined:,} quarantined")
    commit(ctx.spark, ctx.lake, pending)
    if not exists(ctx.spark, ctx.lake.ingest_log):  # written by the first load that took any file
        raise NothingIngested(f"no file of any source under {ctx.landing}, and nothing ingested before: "
                              f"run `ucid sources check --local {ctx.landing}`")
    return out


def normalize(ctx: Context) -> dict:
    """Bronze -> silver, leaving out the rows of erased people (the suppression list, read from
    Cassandra: a run that cannot read it fails rather than bring someone back)."""
    from batch.silver import build

    return build(ctx.spark, ctx.lake, ctx.sources, str(ctx.rules_path), ctx.region, full=ctx.full,
                 suppression=suppression_list(ctx.settings))


def suppression_list(settings: Settings) -> tuple[bytes, frozenset[str]]:
    """The HMAC key and every hash on the suppression list (migration 011; docs/privacy.md)."""
    from infra import cql
    from infra.store import Store

    with cql.quiet_driver(), Store.connect(settings.cassandra) as store:
        hashes = frozenset(r.hash for r in store.scan("scan_suppression"))
    return settings.privacy.key(), hashes


def resolve(ctx: Context) -> dict:
    from batch.resolve import resolve as run_resolve

    speed = None
    if ctx.batch.speed_state:
        from batch.speed_state import keep, read

        # scanned once (resolve reads the UCIDs twice), and kept for this run's publish
        speed = tuple(frame.localCheckpoint(**CHECKPOINT) for frame in read(ctx.spark, ctx.settings))
        keep(ctx.spark, ctx.lake, ctx.run_id, *speed)
    model = ctx.model
    result = run_resolve(ctx.spark, ctx.lake, ctx.policy, str(ctx.rules_path), ctx.region, ctx.now, ctx.run_id,
                         ctx.batch.local_cc_max_edges, ctx.batch.cc_max_iterations, ctx.report, speed=speed,
                         model=model, sources=ctx.sources if model is not None else None,
                         cc_chunk_edges=ctx.batch.cc_chunk_edges)
    return result.stats


def profiles(ctx: Context) -> dict:
    from batch import consents
    from batch.profiles import build
    from identity.consents import load_vocabulary

    counts = build(ctx.spark, ctx.lake, ctx.policy, ctx.now)
    vocabulary = load_vocabulary(ctx.settings.conf_dir / "consents.yaml")
    return {**counts, **consents.build(ctx.spark, ctx.lake, vocabulary)}


def segments(ctx: Context) -> dict:
    """Computed traits and segment memberships at the run's snapshot time (:mod:`batch.segments`)."""
    from batch.segments import build

    return build(ctx.spark, ctx.lake, ctx.settings.conf_dir, ctx.now)


def validate(ctx: Context, layers: tuple[str, ...] = ("bronze", "silver", "gold")) -> dict:
    from batch.validate import validate_lake

    summary = validate_lake(ctx.spark, ctx.lake, ctx.batch, ctx.policy, run_id=ctx.run_id, layers=layers,
                            sources=ctx.sources, settings=ctx.settings, report=ctx.report)
    return {k: summary[k] for k in ("layers", "expectations", "failed", "suites")}


def publish(ctx: Context) -> dict:
    from batch.publish import publish as run_publish

    return run_publish(ctx.spark, ctx.lake, ctx.settings, ctx.batch, ctx.now, ctx.run_id, ctx.report)


STAGE_FUNCS = {"ingest": ingest, "normalize": normalize, "resolve": resolve, "profiles": profiles,
               "segments": segments,
               "validate": validate, "publish": publish,
               "validate_input": lambda ctx: validate(ctx, ("bronze", "silver")),
               "validate_gold": lambda ctx: validate(ctx, ("gold",)),
               "validate_published": lambda ctx: validate(ctx, ("published",))}


def inputs_digest(ctx: Context) -> str:
    """A digest of everything a run's result depends on but its clock: the ingest log's Delta
    version (it moves with every file taken), the rules, the source definitions, the match model
    file in force (``UCID_MATCH_MODEL_FILE``), the batch settings and the region."""
    digest = hashlib.sha256()
    version = last_commit(ctx.spark, ctx.lake.ingest_log).version if exists(ctx.spark, ctx.lake.ingest_log) else -1
    digest.update(f"ingest_log@{version}\0region={ctx.region}\0".encode())
    files = [ctx.rules_path, *sorted((ctx.settings.conf_dir / "sources").glob("*.y*ml"))]
    files += [p for p in (ctx.settings.conf_dir / "segments.yaml", ctx.settings.conf_dir / "consents.yaml") if p.exists()]
    for path in files:
        digest.update(f"{path.name}\0".encode() + path.read_bytes() + b"\0")
    model = ctx.settings.match.model_file
    if model is not None:  # the model in force by content: Splink's JSON and the spec in its sidecar
        from infra.match.model import sidecar

        for path in (model, sidecar(model)):
            digest.update(b"model\0" + (path.read_bytes() if path.exists() else b"missing") + b"\0")
    digest.update(ctx.batch.model_dump_json().encode())
    return digest.hexdigest()[:24]


def unchanged_since(ctx: Context) -> str | None:
    """The id of the last succeeded run if this run's inputs are the same as its
    (:func:`inputs_digest`), else None; always None for a ``full`` run. Looked up once per
    context, after ingest (which is what moves the ingest log)."""
    if ctx.full:
        return None
    if ctx._unchanged is None:
        last = None
        runs = ctx.lake.gold("runs")
        if exists(ctx.spark, runs):
            table = ctx.spark.read.format("delta").load(runs)
            rows = (table.where("status = 'succeeded' AND inputs IS NOT NULL").select("run_id", "inputs").collect()
                    if "inputs" in table.columns else [])  # runs recorded before the column: no digest
            recorded = [(json.loads(r.inputs), r.run_id) for r in rows]
            recorded = [(i.get("recorded_at", 0), i.get("digest"), run_id) for i, run_id in recorded]
            if recorded:
                _, digest, run_id = max(recorded)
                last = run_id if digest == inputs_digest(ctx) else None
        ctx._unchanged = (last,)
    return ctx._unchanged[0]


def run_stage(ctx: Context, stage: str) -> dict:
    """Run one stage, log it, and record its figures in ``ctx.stats``; a stage after ingest of
    a run with nothing new is skipped (:func:`unchanged_since`)."""
    started = time.perf_counter()
    log.info("stage started", stage=stage, run_id=ctx.run_id)
    since = unchanged_since(ctx) if stage in SKIPPABLE else None
    if since is not None:
        result = {"skipped": f"nothing new since run {since}"}
    else:
        result = STAGE_FUNCS[stage](ctx)
    elapsed = round(time.perf_counter() - started, 2)
    ctx.stats[stage] = {"seconds": elapsed, **({"result": result} if result is not None else {})}
    log.info("stage done", stage=stage, run_id=ctx.run_id, seconds=elapsed)
    return result


def model_version(ctx: Context) -> str | None:
    """The version of the match model in force; ``None`` without one, or when it cannot be read
    (the run failed on it, and says so in its status)."""
    from infra.match.model import ModelFileError

    try:
        model = ctx.model
    except ModelFileError:
        return None
    return model.version if model is not None else None


def record_run(ctx: Context, status: str) -> None:
    """Append this run to ``gold/runs``: its stages' figures as JSON, the match model's version,
    and ``inputs`` (JSON: the digest of its inputs and when it was recorded), which the next run
    compares (:func:`unchanged_since`). ``model`` and ``inputs`` came later than the other
    columns: the schema is merged, older rows read null."""
    spark = ctx.spark
    inputs = json.dumps({"digest": inputs_digest(ctx), "recorded_at": time.time()})
    row = [(ctx.run_id, ctx.now, status, json.dumps(ctx.stats, default=str), ctx.full, model_version(ctx), inputs)]
    df = spark.createDataFrame(
        row, "run_id string, snapshot long, status string, stats string, full boolean, model string, inputs string")
    path = ctx.lake.gold("runs")
    df.write.format("delta").mode("append").option("mergeSchema", "true").save(path)
