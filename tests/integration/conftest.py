"""Integration tests run against the real stack: Kafka, Cassandra, Spark + Delta.

The stack is started once per test run (``ucid stack up``'s code path) unless it is already up,
and stopped at the end only if this run started it (``UCID_KEEP_STACK=1`` keeps it). Under
pytest-xdist the first worker that needs it starts it (the others wait on a lock) and the
controller stops it once every worker is done; no test stops it.

Tests use their own keyspace and topic prefix, so they never touch the data of a stack a developer
has running; each suite (and each xdist worker) has its own again (:func:`suite_settings`), so
the suites run in any order (``-p randomly``) and in parallel (``-n 2``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# isolate the tests' schema and topics from a developer's own data on the same servers
os.environ.setdefault("UCID_CASSANDRA_KEYSPACE", "ucid_it")
os.environ.setdefault("UCID_KAFKA_TOPIC_PREFIX", "ucid-it.")
# pyspark.sql.connect (imported by great_expectations, and by every Spark Connect session) takes
# an xdist worker's __main__ (execnet) for a doctest run and exits: batch.spark.connect_main_guard
from batch.spark import connect_main_guard  # noqa: E402

connect_main_guard()

from infra import stack as stack_mod  # noqa: E402
from infra.log import configure  # noqa: E402
from infra.settings import Settings, SpeedSettings, get_settings  # noqa: E402


def worker_suffix() -> str:
    """``_gw0``, ``_gw1``... under pytest-xdist, ``""`` otherwise: each worker gets its own data."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return f"_{worker}" if worker else ""


def suite_keyspace(settings: Settings, suite: str) -> str:
    """``<base>_<suite>[_gwN]``: the keyspace of one suite (see :func:`suite_settings`)."""
    return f"{settings.cassandra.keyspace}_{suite}{worker_suffix()}"


def with_world(settings: Settings, keyspace: str, topic_prefix: str) -> Settings:
    """``settings`` with another keyspace and topic prefix, and a consumer group of that world's
    own (two worlds' speed consumers never join one group and rebalance each other)."""
    world = settings.model_copy()
    world.__dict__["cassandra"] = settings.cassandra.model_copy(update={"keyspace": keyspace})
    world.__dict__["kafka"] = settings.kafka.model_copy(update={"topic_prefix": topic_prefix})
    world.__dict__["speed"] = settings.speed.model_copy(
        update={"group_id": f"{SpeedSettings().group_id}-{topic_prefix.rstrip('.')}"})
    return world


def suite_settings(settings: Settings, suite: str) -> Settings:
    """The settings of one test suite: its own keyspace ``<base>_<suite>[_gwN]``, topic prefix
    ``<base><suite>[-gwN].`` and speed consumer group, so suites (and xdist workers) never see
    each other's rows or messages. The schema is migrated and the topics created (both idempotent).
    Subprocesses of the suite get the same world through :func:`suite_env`."""
    world = with_world(settings, suite_keyspace(settings, suite),
                       f"{settings.kafka.topic_prefix}{suite}{worker_suffix().replace('_', '-')}.")
    stack_mod.apply_schema(world, report=lambda _msg: None)
    return world


def suite_env(world: Settings, **extra: str) -> dict[str, str]:
    """The environment of a ``ucid`` subprocess that must work in ``world``."""
    return {**os.environ, "UCID_CASSANDRA_KEYSPACE": world.cassandra.keyspace,
            "UCID_KAFKA_TOPIC_PREFIX": world.kafka.topic_prefix,
            "UCID_SPEED_GROUP_ID": world.speed.group_id, **extra}


def truncate_keyspace(session, keyspace: str) -> None:
    """Empty every table of ``keyspace`` but ``schema_migrations`` (an empty one is skipped:
    a TRUNCATE costs a flush on every node), so a rerun on a stack kept up starts clean."""
    tables = [r.table_name for r in session.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,))]
    for table in tables:
        if table != "schema_migrations" and session.execute(f"SELECT * FROM {keyspace}.{table} LIMIT 1").one():
            session.execute(f"TRUNCATE {keyspace}.{table}", timeout=120)


# -- the shared stack: started once per run, also under xdist -------------------------------------

RUN_ENV = "UCID_TESTS_RUN"  # the run's id, set by the controller before xdist starts its workers


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def _started_flag(settings: Settings) -> Path | None:
    """Exists while a stack started by this test run is up (the run id is in its name); None when
    the run has no id: xdist workers whose controller did not load this conftest (``pytest tests
    -n 2``), which then leave a stack they start running."""
    run = os.environ.get(RUN_ENV)
    return settings.run_dir / f"tests-started-{run}" if run else None


@contextmanager
def _stack_lock(settings: Settings) -> Iterator[None]:
    """One process at a time starts the stack and migrates the base keyspace (xdist workers)."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.run_dir / "tests-stack.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def pytest_configure(config) -> None:
    if not _is_worker(config):
        os.environ.setdefault(RUN_ENV, uuid.uuid4().hex[:12])


@pytest.hookimpl(trylast=True)  # after the session fixtures' teardown
def pytest_sessionfinish(session) -> None:
    """The controller (or the one process of a serial run) stops the stack this run started."""
    if _is_worker(session.config):
        return
    settings = get_settings()
    flag = _started_flag(settings)
    if flag is not None and flag.exists():
        flag.unlink()
        if not os.environ.get("UCID_KEEP_STACK"):
            stack_mod.down(settings, report=lambda msg: print(f"[stack] {msg}"))


# -- scheduling under pytest-xdist ------------------------------------------------------------------

# Files that take longest (minutes on a 2-core box), longest first: without -p randomly they start
# first, so neither worker is left with a long file at the end (``--no-loadscope-reorder`` keeps
# this order; xdist's default would sort the files by their number of tests).
LONGEST_FIRST = (
    "test_erasure.py",
    "test_demo.py",
    "test_notebooks.py",
    "batch/test_pipeline.py",
    "serving",
    "speed/test_batch_agreement.py",
    "speed/test_recovery.py",
    "test_stack.py",
    "speed/test_concurrency.py",
    "speed/test_consents.py",
    "speed/test_burst.py",
)


# files that share a session fixture too costly to build twice: one unit (one worker), named by
# the first (the two-run lake: :func:`two_run_lake`)
SHARED_UNITS = {"batch/test_validate.py": "test_notebooks.py"}


def _unit(nodeid: str) -> str:
    """The unit of work of a test under ``--dist loadfile``: its file, except that the serving
    suite is one unit (its session fixtures load one data set into one keyspace: one worker,
    loaded once), and so are the files of :data:`SHARED_UNITS`."""
    file = nodeid.split("::", 1)[0]
    head, sep, rest = file.partition("tests/integration/")
    if sep and rest.startswith("serving/"):
        return f"{head}{sep}serving"
    return f"{head}{sep}{SHARED_UNITS[rest]}" if sep and rest in SHARED_UNITS else file


def _rank(nodeid: str) -> int:
    rel = _unit(nodeid).partition("tests/integration/")[2]
    return LONGEST_FIRST.index(rel) if rel in LONGEST_FIRST else len(LONGEST_FIRST)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` with the serving suite as one unit (xdist's ``loadgroup`` would do,
    but it does not group on pytest 9: pytest-xdist issue #1386)."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SuiteScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    return SuiteScheduling(config, log)


def pytest_collection_modifyitems(config, items) -> None:
    """Unless pytest-randomly shuffles, the longest files first (a stable sort: the order within
    a file and among the others is kept)."""
    if not (config.pluginmanager.hasplugin("randomly") and config.getoption("randomly_reorganize", False)):
        items.sort(key=lambda item: _rank(item.nodeid))


def _all_answering(settings: Settings) -> bool:
    return all(s.answering for s in stack_mod.status(settings))


@pytest.fixture(scope="session")
def settings() -> Settings:
    configure("WARNING")
    return get_settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Settings:
    """The running stack, with the tests' base keyspace migrated and topics created. Started
    here if it is not up; :func:`pytest_sessionfinish` stops it at the end of the run."""
    with _stack_lock(settings):
        started_here = not _all_answering(settings)
        stack_mod.up(settings, report=lambda msg: print(f"[stack] {msg}"))
        flag = _started_flag(settings)
        if started_here and flag is not None:
            flag.touch()
        elif started_here:
            print("[stack] started by an xdist worker of a run without an id: left running")
    return settings


@pytest.fixture(scope="session")
def spark(stack: Settings):
    """One Spark session for the whole run (UI off, few shuffle partitions): a client of the
    stack's Spark Connect server when ``UCID_SPARK_SERVER`` is on (``make test``), else in
    process."""
    from batch.spark import spark_session

    session = spark_session(stack, app_name="ucid-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def airflow_db(tmp_path_factory) -> Path:
    """An Airflow metadata database (SQLite) after ``airflow db migrate``, made once per run and
    shared by the xdist workers (a lock in the run's common temp root): the DAG test and the
    demo each start from a copy instead of migrating again (~40 s each on this box)."""
    import subprocess

    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    done = root / "airflow-db" / "airflow.db"
    done.parent.mkdir(parents=True, exist_ok=True)
    with open(done.parent / "lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            if not done.exists():
                home = done.parent / "home"
                home.mkdir(exist_ok=True)
                env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                       "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db"}
                airflow = str(Path(sys.executable).with_name("airflow"))
                migrate = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True,
                                         timeout=900)
                assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
                shutil.copyfile(home / "airflow.db", done.with_suffix(".tmp"))
                done.with_suffix(".tmp").rename(done)
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return done


@pytest.fixture
def tmp_lake(tmp_path: Path) -> Iterator[Path]:
    """A temp dir per test for Delta tables."""
    path = tmp_path / "lake"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


# -- the two-run lake: the notebooks' and the DQ tests' (one xdist unit, built once) ---------------

TWO_RUN_CUSTOMERS, TWO_RUN_SEED = 1000, 5
TWO_RUN_SPLIT_DAY = "2026-01-16"  # landing days before it go to the first run
TWO_RUN_FIRST_NOW = 1_768_521_600  # 2026-01-16
TWO_RUN_NOW = 1_769_904_000  # 2026-02-01, after every generated event


def _copy_days(generated: Path, landing: Path, first_run: bool) -> None:
    """Copy the landing day folders of one run (``<source>/<YYYY-MM-DD>/``)."""
    for day in sorted(generated.glob("*/2026-*")):
        if (day.name < TWO_RUN_SPLIT_DAY) == first_run:
            shutil.copytree(day, landing / day.parent.name / day.name)


@pytest.fixture(scope="session")
def two_run_lake(tmp_path_factory, spark, settings):
    """A lake built by two recorded batch runs (ingest .. profiles, no publish, the lake alone):
    1000 generated customers, the first half of the month, then the rest (so the second run merges
    customers the first kept apart), with a landing file of broken rows in the second (so
    quarantine is not empty). The context of the second run (``run_id`` ``nb-<now>``).

    Its readers (``test_notebooks.py``, ``batch/test_validate.py``) are one xdist unit
    (:func:`_unit`), so it is built once; they copy it before they change it."""
    import json

    from batch import run
    from ucid.generate import GenerateConfig, generate_dataset

    base = tmp_path_factory.mktemp("two-run-lake")
    generated, landing = base / "generated", base / "landing"
    generate_dataset(GenerateConfig(customers=TWO_RUN_CUSTOMERS, seed=TWO_RUN_SEED, out=generated))
    lake_settings = settings.model_copy(update={"lake_dir": base / "lake", "landing_dir": landing})
    ctx = None
    for first_run, now in ((True, TWO_RUN_FIRST_NOW), (False, TWO_RUN_NOW)):
        _copy_days(generated, landing, first_run)
        if not first_run:  # one good row, one that is not JSON, one without its cookie
            good = {"event_id": "WEB-NB-1", "event_time": "2026-01-20T10:00:00Z", "cookie_id": "ck-nb-1",
                    "event_type": "page_view", "page": "/", "session_id": "s-nb-1"}
            (landing / "web" / "2026-01-20" / "part-99999.jsonl").write_text(
                json.dumps(good) + "\n" + '{"event_id": "WEB-NB-2", "event_time": \n'
                + json.dumps({**good, "event_id": "WEB-NB-3", "cookie_id": None}) + "\n")
        ctx = run.context(lake_settings, now=now, run_id=f"nb-{now}", report=lambda m: None)
        ctx._spark = spark
        ctx.batch = ctx.batch.model_copy(update={"speed_state": False})  # the lake alone
        for stage in ("ingest", "normalize", "resolve", "profiles", "segments"):
            run.run_stage(ctx, stage)
        run.record_run(ctx, "succeeded")
    return ctx
