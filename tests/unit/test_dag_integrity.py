"""The Airflow DAG loads without import errors and has the promised shape (no stack, no Spark).

Airflow reads its configuration when first imported, so the environment (a temp
``AIRFLOW_HOME``, SQLite, no examples) is set before the import, in a module-scoped fixture.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
ORDER = ["ingest", "normalize", "validate_input", "resolve", "profiles", "segments", "validate_gold", "publish",
         "validate_published", "record_run"]


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_HOME", str(home))
        mp.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(DAGS))
        mp.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        mp.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home}/airflow.db")
        from airflow.dag_processing.dagbag import DagBag

        before = set(sys.modules)
        bag = DagBag(dag_folder=str(DAGS))
        bag.imported_modules = set(sys.modules) - before
        yield bag


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "ucid_batch" in dagbag.dag_ids


def test_no_work_at_import_time(dagbag):
    """Parsing the DAG file imports neither the batch layer nor Spark, GX or the Cassandra driver."""
    heavy = {m.split(".")[0] for m in dagbag.imported_modules} & {
        "batch", "pyspark", "great_expectations", "cassandra", "delta"}
    assert heavy == set()


def test_task_order(dagbag):
    dag = dagbag.dags["ucid_batch"]  # get_dag() would ask the metadata DB
    assert sorted(dag.task_ids) == sorted(ORDER)
    for upstream, downstream in zip(ORDER, ORDER[1:], strict=False):
        assert dag.get_task(downstream).upstream_task_ids == {upstream}, downstream
    assert dag.get_task("ingest").upstream_task_ids == set()


def test_publish_only_after_every_validation_before_it(dagbag):
    dag = dagbag.dags["ucid_batch"]  # get_dag() would ask the metadata DB
    publish = dag.get_task("publish")
    assert {"validate_input", "validate_gold"} <= publish.get_flat_relative_ids(upstream=True)
    assert publish.trigger_rule == "all_success"


def test_schedule_and_retries(dagbag):
    dag = dagbag.dags["ucid_batch"]  # get_dag() would ask the metadata DB
    assert dag.schedule == "@daily"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    for task_id in ("ingest", "normalize", "resolve", "profiles", "publish", "record_run"):
        task = dag.get_task(task_id)
        assert task.retries == 2, task_id
        assert task.retry_delay == timedelta(minutes=5)
    for task_id in ("validate_input", "validate_gold", "validate_published"):
        assert dag.get_task(task_id).retries == 0, task_id  # a failing suite fails at once


def test_run_clock_is_the_runs_not_the_wall_clock():
    from datetime import datetime, timezone
    from types import SimpleNamespace

    sys.path.insert(0, str(DAGS))
    try:
        import ucid_batch
    finally:
        sys.path.remove(str(DAGS))
    when = datetime(2026, 1, 10, tzinfo=timezone.utc)
    ctx = {"data_interval_end": when, "dag_run": SimpleNamespace(run_id="manual__2026-01-10", run_after=None)}
    run_id, now = ucid_batch.run_clock(ctx)
    assert now == int(when.timestamp())
    assert run_id == "af-20260110T000000Z"
    # every task, retry and re-run of the interval agrees
    assert ucid_batch.run_clock({**ctx, "dag_run": SimpleNamespace(run_id="other", run_after=None)}) == (run_id, now)
    no_interval = {"dag_run": SimpleNamespace(run_id="manual", run_after=when)}
    assert ucid_batch.run_clock(no_interval) == (run_id, now)


def test_later_stages_take_ingests_verdict_on_an_unchanged_run():
    """Ingest's XCom decides once whether the run repeats an earlier one: a stage reads that
    verdict, ``None`` included (new data: the stage does not look again), and looks for itself
    only when the XCom lacks it; ``full`` runs and stages that never skip are never decided."""
    from types import SimpleNamespace

    from batch.run import context

    sys.path.insert(0, str(DAGS))
    try:
        import ucid_batch
    finally:
        sys.path.remove(str(DAGS))

    def ctx(pushed, full=False):
        ti = SimpleNamespace(xcom_pull=lambda task_ids: pushed if task_ids == "ingest" else None)
        return {"ti": ti, "params": {"full": full}}

    assert ucid_batch.unchanged_since("resolve", ctx({"unchanged_since": "af-1"})) == ("af-1",)
    assert ucid_batch.unchanged_since("resolve", ctx({"unchanged_since": None})) == (None,)
    assert ucid_batch.unchanged_since("resolve", ctx({"stage": "ingest"})) is None  # marked done by hand
    assert ucid_batch.unchanged_since("resolve", ctx(None)) is None
    assert ucid_batch.unchanged_since("resolve", ctx({"unchanged_since": "af-1"}, full=True)) is None
    assert ucid_batch.unchanged_since("ingest", ctx({"unchanged_since": "af-1"})) is None

    from infra.settings import get_settings

    settings = get_settings()
    assert context(settings, unchanged=(None,))._unchanged == (None,)
    assert context(settings, unchanged=("af-1",), full=True)._unchanged is None
    assert context(settings)._unchanged is None
