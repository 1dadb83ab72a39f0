"""``ucid batch run``: the whole batch pipeline, stage by stage, with progress.

Stages (each also callable alone, which is what the Airflow DAG does): ``ingest`` (landing ->
bronze), ``normalize`` (bronze -> silver), ``resolve`` (silver -> gold identity tables),
``profiles`` (gold 360 profiles), ``validate`` (Great Expectations suites), ``publish`` (gold ->
Cassandra). Incremental by default: only new landing files are ingested and normalized; the
identity graph is re-resolved as a whole against the previous state, which keeps UCIDs stable.
``full=True`` re-normalizes every bronze row (bronze itself is never re-ingested).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from batch.tables import Lake, exists
from infra.log import get_logger
from infra.settings import BatchSettings, Settings

log = get_logger("batch")
Report = Callable[[str], None]
STAGES = ("ingest", "normalize", "resolve", "profiles", "validate", "publish")
# finer validation stages, used by the Airflow DAG: bronze+silver before resolve, gold before
# publish, the published reference table after it (``validate`` = bronze+silver+gold at once)
VALIDATION_STAGES = ("validate_input", "validate_gold", "validate_published")


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
            run_id: str | None = None, report: Report = print, region: str | None = None) -> Context:
    return Context(
        settings=settings, batch=settings.batch, landing=landing or settings.landing,
        lake=Lake(settings.lake), rules_path=settings.conf_dir / "rules.yaml", region=region,
        run_id=run_id or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6],
        now=now if now is not None else int(time.time()), full=full, report=report,
    )


def ingest(ctx: Context) -> dict:
    from batch.bronze import Pending, commit, load_source

    out = {}
    pending = Pending()
    for source in ctx.sources:
        load = load_source(ctx.spark, ctx.landing, ctx.lake, source, ctx.run_id, pending)
        out[source.name] = {
            "files_new": load.files_new, "files_skipped": load.files_skipped,
            "files_quarantined": load.files_quarantined, "rows": load.rows,
            "rows_quarantined": load.rows_quarantined, "reasons": load.reasons,
        }
        if load.files_new:
            ctx.report(f"ingest {source.name}: {load.files_new} new files, {load.rows:,} rows, "
                       f"{load.rows_quarantined + load.files_quarantined:,} quarantined")
    commit(ctx.spark, ctx.lake, pending)
    if not exists(ctx.spark, ctx.lake.ingest_log):  # written by the first load that took any file
        raise NothingIngested(f"no file of any source under {ctx.landing}, and nothing ingested before: "
                              f"run `ucid sources check --local {ctx.landing}`")
    return out


def normalize(ctx: Context) -> dict:
    from batch.silver import build

    return build(ctx.spark, ctx.lake, ctx.sources, str(ctx.rules_path), ctx.region, full=ctx.full)


def resolve(ctx: Context) -> dict:
    from batch.resolve import resolve as run_resolve

    speed = None
    if ctx.batch.speed_state:
        from batch.speed_state import read

        speed = read(ctx.spark, ctx.settings)
    model = ctx.model
    result = run_resolve(ctx.spark, ctx.lake, ctx.policy, str(ctx.rules_path), ctx.region, ctx.now, ctx.run_id,
                         ctx.batch.local_cc_max_edges, ctx.batch.cc_max_iterations, ctx.report, speed=speed,
                         model=model, sources=ctx.sources if model is not None else None)
    return result.stats


def profiles(ctx: Context) -> dict:
    from batch.profiles import build

    return build(ctx.spark, ctx.lake, ctx.policy, ctx.now)


def validate(ctx: Context, layers: tuple[str, ...] = ("bronze", "silver", "gold")) -> dict:
    from batch.validate import validate_lake

    summary = validate_lake(ctx.spark, ctx.lake, ctx.batch, ctx.policy, run_id=ctx.run_id, layers=layers,
                            sources=ctx.sources, settings=ctx.settings, report=ctx.report)
    return {k: summary[k] for k in ("layers", "expectations", "failed", "suites")}


def publish(ctx: Context) -> dict:
    from batch.publish import publish as run_publish

    return run_publish(ctx.spark, ctx.lake, ctx.settings, ctx.batch, ctx.now, ctx.run_id, ctx.report)


STAGE_FUNCS = {"ingest": ingest, "normalize": normalize, "resolve": resolve, "profiles": profiles,
               "validate": validate, "publish": publish,
               "validate_input": lambda ctx: validate(ctx, ("bronze", "silver")),
               "validate_gold": lambda ctx: validate(ctx, ("gold",)),
               "validate_published": lambda ctx: validate(ctx, ("published",))}


def run_stage(ctx: Context, stage: str) -> dict:
    """Run one stage, log it, and record its figures in ``ctx.stats``."""
    started = time.perf_counter()
    log.info("stage started", stage=stage, run_id=ctx.run_id)
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
    """Append this run to ``gold/runs`` (its stages' figures as JSON, the match model's version).
    ``model`` came later than the other columns: the schema is merged, older rows read null."""
    spark = ctx.spark
    row = [(ctx.run_id, ctx.now, status, json.dumps(ctx.stats, default=str), ctx.full, model_version(ctx))]
    df = spark.createDataFrame(
        row, "run_id string, snapshot long, status string, stats string, full boolean, model string")
    path = ctx.lake.gold("runs")
    df.write.format("delta").mode("append").option("mergeSchema", "true").save(path)
