"""`airflow dags test ucid_batch` end to end on a generated data set against the real stack.

Airflow runs from the venv's own CLI in a subprocess, with a temp ``AIRFLOW_HOME``, an SQLite
metadata database (a copy of the run's one ``airflow db migrate``: the ``airflow_db`` fixture) and ``dags/`` as the DAG folder; no scheduler,
no api-server. Cassandra: a keyspace of its own (``<test keyspace>_dag[_gwN]``, recreated here),
so what is published there is this test's runs only.

1. day 1 with the default settings succeeds: every task, the published reference table
   validated by ``validate_published``; Cassandra holds every gold identifier;
2. day 2 with a deliberately failing expectation (``UCID_BATCH_MAX_CLUSTER_RECORDS=1``) fails
   at ``validate_gold``; ``publish`` never runs, so no Cassandra row carries day 2's time. The
   work stages of day 2 (nothing new landed) are marked successful instead of run
   (``--mark-success-pattern``), which keeps the test to one full pipeline run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.airflow import task_states

from ..conftest import suite_env, suite_keyspace, suite_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(4800)]  # two DAG runs on a busy 2-core box

REPO = Path(__file__).resolve().parents[3]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
CUSTOMERS = 300  # the DAG's orchestration is under test, not scale (bench/batch measures that)
SEED = 11
GOOD_DAY, FAILING_DAY = "2026-02-01", "2026-02-02"
WORK = "ingest|normalize|resolve|profiles"
STAGES = ["ingest", "normalize", "validate_input", "resolve", "profiles", "validate_gold", "publish",
          "validate_published", "record_run"]


@pytest.fixture(scope="module")
def dag_world(stack, settings):
    """A fresh keyspace of this module's own for the DAG's publishes, with the schema migrated."""
    from infra.cql import cluster

    c = cluster(settings.cassandra, request_timeout_s=120)
    try:
        c.connect().execute(f"DROP KEYSPACE IF EXISTS {suite_keyspace(settings, 'dag')}")
    finally:
        c.shutdown()
    return suite_settings(settings, "dag")


@pytest.fixture(scope="module")
def keyspace(dag_world):
    return dag_world.cassandra.keyspace


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory, dag_world, airflow_db):
    from ucid.generate import GenerateConfig, generate_dataset

    base = tmp_path_factory.mktemp("airflow")
    landing = base / "landing"
    generate_dataset(GenerateConfig(customers=CUSTOMERS, seed=SEED, out=landing))
    home = base / "airflow_home"
    home.mkdir()
    env = {
        **suite_env(dag_world),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "UCID_LANDING_DIR": str(landing),
        "UCID_LAKE_DIR": str(base / "lake"),
        "UCID_LOG_LEVEL": "WARNING",
    }
    shutil.copyfile(airflow_db, home / "airflow.db")
    return {"env": env, "home": home, "lake": base / "lake"}


def _dags_test(env: dict, day: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([AIRFLOW, "dags", "test", "ucid_batch", day, *extra], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=3600)


def _states(home: Path, day: str) -> dict[str, str]:
    return task_states(home, "ucid_batch", day)


def _rows(settings, keyspace: str, cql: str) -> list:
    from infra.cql import cluster

    c = cluster(settings.cassandra, request_timeout_s=60)
    try:
        return list(c.connect(keyspace).execute(cql))
    finally:
        c.shutdown()


def test_good_run_publishes_then_a_failing_expectation_stops_publish(airflow_env, keyspace, settings, request):
    from datetime import datetime, timezone

    env, home = airflow_env["env"], airflow_env["home"]

    good = _dags_test(env, GOOD_DAY)
    log = good.stdout + good.stderr
    assert good.returncode == 0, log[-8000:]
    assert _states(home, GOOD_DAY) == dict.fromkeys(STAGES, "success")
    assert "validate published.identifiers" in log  # validate_published ran its suites

    spark = request.getfixturevalue("spark")  # only now: no idle JVM while Airflow runs
    lake = airflow_env["lake"]
    gold = spark.read.format("delta").load(str(lake / "gold" / "identity_state"))
    identifiers = gold.where("id_type != '_record'").count()
    assert identifiers > CUSTOMERS
    assert len(_rows(settings, keyspace, "SELECT id_type, id_value FROM identifiers")) == identifiers
    day1 = datetime.fromisoformat(GOOD_DAY).replace(tzinfo=timezone.utc)
    updated = {r.updated_at.replace(tzinfo=timezone.utc) for r in _rows(settings, keyspace, "SELECT updated_at FROM ucids")}
    assert updated == {day1}

    failing = _dags_test({**env, "UCID_BATCH_MAX_CLUSTER_RECORDS": "1"}, FAILING_DAY, "--mark-success-pattern", WORK)
    log = failing.stdout + failing.stderr
    assert failing.returncode != 0, log[-5000:]
    states = _states(home, FAILING_DAY)
    assert states["validate_input"] == "success", states
    assert states["validate_gold"] == "failed", states
    assert states["publish"] == "upstream_failed", states
    assert "gold.clusters" in log and "no cluster over UCID_BATCH_MAX_CLUSTER_RECORDS records" in log
    # nothing of day 2 was written: every ucids row still carries day 1's publish
    updated = {r.updated_at.replace(tzinfo=timezone.utc) for r in _rows(settings, keyspace, "SELECT updated_at FROM ucids")}
    assert updated == {day1}
    # the failed run is recorded too, by the failing task's callback, with the figures before it
    runs = sorted(spark.read.format("delta").load(str(lake / "gold" / "runs")).collect(), key=lambda r: r.snapshot)
    assert [r.status for r in runs] == ["succeeded", "failed at validate_gold"]
    stats = json.loads(runs[1].stats)
    assert "no cluster over UCID_BATCH_MAX_CLUSTER_RECORDS records" in stats["validate_gold"]["error"]
    assert set(stats) == {"ingest", "normalize", "validate_input", "resolve", "profiles", "validate_gold"}
