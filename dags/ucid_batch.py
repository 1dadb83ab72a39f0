"""The ucid batch layer as an Airflow DAG: landing -> Delta bronze/silver/gold -> Cassandra, gated by GX.

    ingest >> normalize >> validate_input >> resolve >> profiles >> segments >> validate_gold >> publish
           >> validate_published >> record_run

Each task runs one stage of :mod:`batch.run` in its own context. The run id and the run's clock
(``now``) come from the DAG run (its data interval end, else its logical date / run-after time),
never from the wall clock, so every task of a run -- and every retry -- agrees on them and a
re-run of the same interval is a replay (stages are idempotent). A failing suite
(``batch.validate.ValidationFailed``) fails its task at once, without retries (the data would
not change), so ``publish`` never runs on data that failed validation. A run that fails is
recorded in ``gold/runs`` as ``failed at <stage>`` by the failing task's callback. A run with
nothing new (``batch.run.unchanged_since``, decided by ``ingest`` and passed on in its XCom)
skips every later stage without opening a Spark session; only ``record_run`` writes.

Nothing happens at import time but building the DAG: ``batch``, Spark and GX are imported in
the tasks. Settings come from the environment (``UCID_LANDING_DIR``, ``UCID_LAKE_DIR``,
``UCID_CASSANDRA_*``, ``UCID_BATCH_*``), as for ``ucid batch run``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import Param, chain, dag, task

DAG_ID = "ucid_batch"
STAGE_TASKS = ("ingest", "normalize", "validate_input", "resolve", "profiles", "segments", "validate_gold", "publish",
               "validate_published")
VALIDATIONS = {"validate_input", "validate_gold", "validate_published"}


def run_clock(context) -> tuple[str, int]:
    """``(run_id, now)`` of a DAG run, keyed by its data interval (end), else its logical date.

    The same in every task and every retry of the run, and for a re-run of the same interval,
    which is then a replay (the stages are idempotent). Only a run with neither (a manual run
    without a logical date) falls back to its run-after time.
    """
    when = context.get("data_interval_end") or context.get("logical_date") or context["dag_run"].run_after
    return "af-" + when.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ"), int(when.timestamp())


def run_stage(stage: str, context) -> dict:
    """Run one :mod:`batch.run` stage for this DAG run; return its figures (an XCom)."""
    import json

    from airflow.sdk.exceptions import AirflowFailException

    from batch import run as pipeline
    from batch.validate import ValidationFailed
    from infra.settings import get_settings

    settings = get_settings()  # no infra.log.configure(): Airflow owns logging (structlog) in a task
    run_id, now = run_clock(context)
    params = context["params"]
    decided = unchanged_since(stage, context)
    since = decided[0] if decided else None
    if since is not None:  # decided once, by ingest: no Spark session, no lake read
        print(f"ucid batch {stage}: run {run_id}: skipped, nothing new since run {since}")
        return {"stage": stage, "seconds": 0.0, "result": {"skipped": f"nothing new since run {since}"}}
    ctx = pipeline.context(settings, full=bool(params.get("full")), now=now, run_id=run_id,
                           region=params.get("region"), report=print, unchanged=decided)
    print(f"ucid batch {stage}: run {run_id}, now {now}, landing {ctx.landing}, lake {ctx.lake.root}")
    try:
        result = pipeline.run_stage(ctx, stage)
    except ValidationFailed as exc:
        raise AirflowFailException(f"{stage}: {exc}") from exc  # no retry: the data would not change
    out = {"stage": stage, "seconds": ctx.stats[stage]["seconds"]}
    if stage == "ingest":  # the same check every later stage would make (batch.run.unchanged_since)
        out["unchanged_since"] = pipeline.unchanged_since(ctx)
    # XComs are JSON: keep the figures, drop anything that is not
    return {**out, "result": json.loads(json.dumps(result, default=str))}


def unchanged_since(stage: str, context) -> tuple[str | None] | None:
    """``(the run this one repeats, or None,)`` as the ``ingest`` task of this DAG run decided it
    (its XCom), for a stage that a run with nothing new skips; ``None`` when not decided (a
    ``full`` run, a stage that never skips, an ingest marked done by hand: its XCom lacks the
    key, so the stage looks for itself). The digest of the inputs is taken right after ingest,
    which is what moves it."""
    from batch.run import SKIPPABLE

    if stage not in SKIPPABLE or context["params"].get("full"):
        return None
    pushed = context["ti"].xcom_pull(task_ids="ingest") or {}
    return (pushed["unchanged_since"],) if "unchanged_since" in pushed else None


def record(context, status: str, stages: tuple[str, ...], extra: dict | None = None) -> str:
    """Append this DAG run to ``gold/runs`` (as ``ucid batch run`` does): ``status`` and the
    figures of ``stages`` pulled from their XComs; returns the run id."""
    from batch import run as pipeline
    from infra.settings import get_settings

    run_id, now = run_clock(context)
    params = context["params"]
    ctx = pipeline.context(get_settings(), full=bool(params.get("full")), now=now, run_id=run_id,
                           region=params.get("region"))  # the stages' own inputs (batch.run.inputs_digest)
    ti = context["ti"]
    for stage in stages:
        figures = ti.xcom_pull(task_ids=stage) or {}
        ctx.stats[stage] = {"seconds": figures.get("seconds"), "result": figures.get("result")}
    ctx.stats.update(extra or {})
    pipeline.record_run(ctx, status)
    return run_id


def record_failure(context) -> None:
    """``on_failure_callback`` of every stage task: a run that fails for good (retries spent, or
    a failed suite) is recorded in ``gold/runs`` as ``failed at <stage>`` with the figures of the
    stages before it. Only the first failure records: the tasks after it end ``upstream_failed``
    and run no callback."""
    stage = context["ti"].task_id
    error = context.get("exception")
    record(context, f"failed at {stage}", STAGE_TASKS[: STAGE_TASKS.index(stage)],
           {stage: {"error": str(error) if error is not None else None}})


@dag(
    dag_id=DAG_ID,
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(hours=6),
    },
    params={
        "full": Param(False, type="boolean", description="re-normalize every bronze row and rebuild gold"),
        "region": Param(None, type=["null", "string"], description="default phone region, overriding the rules"),
    },
    tags=["ucid", "batch"],
    doc_md=__doc__,
)
def ucid_batch():
    tasks = {}
    for stage in STAGE_TASKS:
        retries = 0 if stage in VALIDATIONS else 2

        @task(task_id=stage, retries=retries, on_failure_callback=record_failure)
        def stage_task(stage: str = stage, **context) -> dict:
            return run_stage(stage, context)

        tasks[stage] = stage_task()

    @task(task_id="record_run")
    def record_run(**context) -> str:
        """Append the run and every stage's figures to ``gold/runs`` (as ``ucid batch run`` does)."""
        return record(context, "succeeded", STAGE_TASKS)

    chain(*[tasks[s] for s in STAGE_TASKS], record_run())


ucid_batch()
