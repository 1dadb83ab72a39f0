"""The main job (`ucid demo`, what `make demo` runs) end to end on the real stack.

A small data set (300 customers) in a keyspace and topics of its own: the demo brings the stack
up (already up here: it must leave it running), generates, lands, runs the Airflow DAG, starts
the speed layer on the live stream and the API, and prints curl lines. The test runs exactly the
printed lines (``try.sh``, checked to be what was printed), including one resolving an identifier
seen only in the live stream, then sends Ctrl-C (SIGINT) and checks that everything the demo
started has stopped and the stack it did not start still runs.

Then the DAG's failure path, on the demo's own Airflow database, lake and keyspace (one DAG run
fewer than a test of its own, which ran the whole pipeline once more):

1. the demo's run succeeded in every task; its recorded figures show every suite of every layer
   run and passed on tables with rows; and Cassandra holds every identifier of gold
   ``identity_state``;
2. the next day's run with a deliberately failing expectation (``UCID_BATCH_MAX_CLUSTER_RECORDS=1``)
   fails at ``validate_gold``; ``publish`` never runs, so no Cassandra row carries that run's
   time; the failed run is recorded in ``gold/runs`` with the figures of the stages before it.
   Its work stages (nothing new landed) are marked successful instead of run
   (``--mark-success-pattern``);
3. the day after, with the usual settings and still nothing new landed, the DAG runs for real:
   every stage after ``ingest`` is skipped, the run is recorded, and Cassandra gets no write.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .conftest import suite_env, suite_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
CUSTOMERS, SEED = 300, 3
STAGES = ["ingest", "normalize", "validate_input", "resolve", "profiles", "segments", "validate_gold", "publish",
          "validate_published", "record_run"]
WORK = "ingest|normalize|validate_input|resolve|profiles"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_demo_runs_end_to_end_and_its_curl_lines_work(stack, settings, tmp_path, airflow_db, request):
    api_port, metrics_port = _free_port(), _free_port()
    # a keyspace, topics and consumer group of its own (``<base>_demo[_gwN]``)
    env = suite_env(suite_settings(stack, "demo"), UCID_LANDING_DIR=str(tmp_path / "landing"),
                    UCID_LAKE_DIR=str(tmp_path / "lake"), UCID_LOG_LEVEL="WARNING", COLUMNS="200")
    work = tmp_path / "demo"
    # the run's migrated Airflow database (the demo migrates only when it has none: a second
    # `make demo` does the same)
    (work / "airflow").mkdir(parents=True)
    shutil.copyfile(airflow_db, work / "airflow" / "airflow.db")
    demo = subprocess.Popen(
        [sys.executable, "-m", "ucid.cli", "demo", "--customers", str(CUSTOMERS), "--seed", str(SEED), "--rate", "50", "--port",
         str(api_port), "--metrics-port", str(metrics_port), "--dir", str(work)],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(demo.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 3000
        while "Ctrl-C stops everything" not in "".join(output):
            assert demo.poll() is None, "the demo exited before it was ready:\n" + "".join(output)[-5000:]
            assert time.monotonic() < deadline, "the demo was not ready in time:\n" + "".join(output)[-5000:]
            time.sleep(2)
        printed = "".join(output)
        assert "ready in" in printed
        lines = (work / "try.sh").read_text().splitlines()[2:]  # after the shebang and `set -euo pipefail`
        assert lines[0].startswith("export UCID_KEY=ucid_")
        for line in lines:
            assert line in printed, f"try.sh holds a line the demo did not print: {line}"
        assert any(line.endswith("# first seen in the live stream") for line in lines), printed[-3000:]
        results = {}
        for line in lines[1:]:
            run = subprocess.run(["bash", "-c", f"set -euo pipefail; {lines[0]}; {line}"], capture_output=True,
                                 text=True, timeout=60)
            assert run.returncode == 0, f"{line}\n{run.stdout}\n{run.stderr}"
            results[line] = run.stdout
        assert any('"status":"ready"' in out.replace(" ", "") for out in results.values())
        live = next(out for line, out in results.items() if line.endswith("# first seen in the live stream"))
        assert '"ucid":"U' in live.replace(" ", "")
        assert any(out.startswith("ucid_speed_events_total") for out in results.values())
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)  # Ctrl-C
        code = demo.wait(timeout=180)
        reader.join(timeout=10)
    assert code == 0, "".join(output)[-3000:]
    tail = "".join(output)[-2000:]
    for name in ("api", "speed"):  # the producer may have finished the live stream already
        assert f"stopped {name}" in tail, tail
    assert not _listening(api_port) and not _listening(metrics_port), "a process the demo started still runs"
    from infra import stack as stack_mod

    assert all(s.answering for s in stack_mod.status(settings)), "the demo stopped a stack it did not start"

    _the_dag_ran_then_a_failing_expectation_stops_publish(work, env, suite_settings(stack, "demo"), request)


def _rows(settings, cql: str) -> list:
    from infra.cql import cluster

    c = cluster(settings.cassandra, request_timeout_s=60)
    try:
        return list(c.connect(settings.cassandra.keyspace).execute(cql))
    finally:
        c.shutdown()


def _the_dag_ran_then_a_failing_expectation_stops_publish(work: Path, env: dict, world, request) -> None:
    from datetime import datetime, timedelta, timezone

    from infra.airflow import task_states
    from ucid.demo import DemoConfig

    day1 = DemoConfig(customers=CUSTOMERS, seed=SEED).cutoff
    day2 = day1 + timedelta(days=1)
    home = work / "airflow"
    assert task_states(home, "ucid_batch", day1.isoformat()) == dict.fromkeys(STAGES, "success")
    assert "validate published.identifiers" in (work / "logs" / "airflow-dag.log").read_text()

    spark = request.getfixturevalue("spark")  # only now: no idle JVM while the demo runs
    lake = Path(env["UCID_LAKE_DIR"])
    gold = {(r.id_type, r.id_value) for r in spark.read.format("delta").load(str(lake / "gold" / "identity_state"))
            .where("id_type != '_record'").select("id_type", "id_value").collect()}
    assert len(gold) > CUSTOMERS
    published = {(r.id_type, r.id_value) for r in _rows(world, "SELECT id_type, id_value FROM identifiers")}
    assert gold <= published, sorted(gold - published)[:5]  # the speed layer added the live stream's
    midnight = lambda d: datetime(d.year, d.month, d.day, tzinfo=timezone.utc)  # noqa: E731 - a run's clock
    updated = {r.updated_at.replace(tzinfo=timezone.utc) for r in _rows(world, "SELECT updated_at FROM ucids")}
    assert midnight(day1) in updated  # the demo's DAG run published at its own clock

    airflow_env = {**env, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
                   "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                   "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
                   "UCID_BATCH_MAX_CLUSTER_RECORDS": "1"}
    failing = subprocess.run([AIRFLOW, "dags", "test", "ucid_batch", day2.isoformat(), "--mark-success-pattern", WORK],
                             env=airflow_env, cwd=REPO, capture_output=True, text=True, timeout=1800)
    log = failing.stdout + failing.stderr
    assert failing.returncode != 0, log[-5000:]
    states = task_states(home, "ucid_batch", day2.isoformat())
    assert states["validate_input"] == "success", states
    assert states["validate_gold"] == "failed", states
    assert states["publish"] == "upstream_failed", states
    assert "gold.clusters" in log and "no cluster over UCID_BATCH_MAX_CLUSTER_RECORDS records" in log
    # nothing of day 2 was written: no ucids row carries its run's time
    updated = {r.updated_at.replace(tzinfo=timezone.utc) for r in _rows(world, "SELECT updated_at FROM ucids")}
    assert midnight(day2) not in updated
    # the failed run is recorded too, by the failing task's callback, with the figures before it
    runs = sorted(spark.read.format("delta").load(str(lake / "gold" / "runs")).collect(), key=lambda r: r.snapshot)
    assert [r.status for r in runs][-2:] == ["succeeded", "failed at validate_gold"]
    _every_suite_passed_on_the_good_run(json.loads(runs[-2].stats))
    stats = json.loads(runs[-1].stats)
    assert "no cluster over UCID_BATCH_MAX_CLUSTER_RECORDS records" in stats["validate_gold"]["error"]
    assert set(stats) == {"ingest", "normalize", "validate_input", "resolve", "profiles", "segments", "validate_gold"}

    # 3. day 3, the usual settings again and nothing new landed (the live stream's events, landed
    # by the demo's speed layer, set aside: they would be new): ingest finds the good run's
    # inputs, every later stage is skipped (no Spark), and Cassandra gets no write
    day3 = day2 + timedelta(days=1)
    stream = Path(env["UCID_LANDING_DIR"]) / "stream"  # what the demo's speed layer landed since
    if stream.exists():
        stream.rename(stream.with_name("stream-set-aside"))

    def newest_write() -> int:
        return max(r[0] for cql in ("SELECT writetime(status) FROM ucids", "SELECT writetime(ucid) FROM identifiers")
                   for r in _rows(world, cql))

    newest = newest_write()
    del airflow_env["UCID_BATCH_MAX_CLUSTER_RECORDS"]
    started = time.monotonic()
    quiet = subprocess.run([AIRFLOW, "dags", "test", "ucid_batch", day3.isoformat()],
                           env=airflow_env, cwd=REPO, capture_output=True, text=True, timeout=1800)
    seconds = time.monotonic() - started
    assert task_states(home, "ucid_batch", day3.isoformat()) == dict.fromkeys(STAGES, "success"), \
        (quiet.stdout + quiet.stderr)[-5000:]
    print(f"\nDAG run with nothing new: {seconds:.1f} s (airflow dags test, whole command)")
    assert newest_write() == newest, "a run with nothing new wrote to Cassandra"
    last = max(spark.read.format("delta").load(str(lake / "gold" / "runs")).collect(), key=lambda r: r.snapshot)
    stats = json.loads(last.stats)
    assert last.status == "succeeded" and stats["ingest"]["result"]["crm"]["files_new"] == 0
    assert {s for s, f in stats.items() if "skipped" in (f["result"] or {})} == set(STAGES) - {"ingest", "record_run"}


def _every_suite_passed_on_the_good_run(stats: dict) -> None:
    """The good run's recorded validate figures: every suite of every layer ran and passed, on
    tables with rows (a single run merges nobody: ``gold.aliases`` may be empty)."""
    from batch.validate import suite_files

    suites = {}
    for stage in ("validate_input", "validate_gold", "validate_published"):
        result = stats[stage]["result"]
        assert result["failed"] == 0, (stage, result)
        suites.update(result["suites"])
    names = {p.parent.name + "." + p.stem for layer in ("bronze", "silver", "gold", "published")
             for p in suite_files(layer)}
    assert set(suites) == names
    assert all(s["failed"] == 0 for s in suites.values()), suites
    assert {n for n, s in suites.items() if s["rows"] == 0} <= {"gold.aliases", "published.aliases"}, suites
    assert sum(s["expectations"] for s in suites.values()) >= 80
