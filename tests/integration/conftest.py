"""Integration tests run against the real stack: Kafka, Cassandra, Spark + Delta.

The stack is started once per test session (``ucid stack up``'s code path) unless it is already
up, and stopped at the end only if this session started it. Tests use their own keyspace and topic
prefix, so they never touch the data of a stack a developer has running.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# isolate the tests' schema and topics from a developer's own data on the same servers
os.environ.setdefault("UCID_CASSANDRA_KEYSPACE", "ucid_it")
os.environ.setdefault("UCID_KAFKA_TOPIC_PREFIX", "ucid-it.")
# small test data: few shuffle partitions (and Delta snapshot tasks) make Spark much faster
os.environ.setdefault("UCID_SPARK_SHUFFLE_PARTITIONS", "2")

from infra import stack as stack_mod  # noqa: E402
from infra.log import configure  # noqa: E402
from infra.settings import Settings, get_settings  # noqa: E402


def worker_suffix() -> str:
    """``_gw0``, ``_gw1``... under pytest-xdist, ``""`` otherwise: each worker gets its own data."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return f"_{worker}" if worker else ""


def suite_settings(settings: Settings, suite: str) -> Settings:
    """The settings of one test suite: its own keyspace ``<base>_<suite>[_gwN]`` and topic prefix
    ``<base><suite>[_gwN].``, so suites (and xdist workers) never see each other's rows or
    messages. The schema is migrated and the topics created (both idempotent).
    Subprocesses of the suite get the same world through :func:`suite_env`."""
    base_ks = settings.cassandra.keyspace
    base_prefix = settings.kafka.topic_prefix
    world = settings.model_copy()
    world.__dict__["cassandra"] = settings.cassandra.model_copy(
        update={"keyspace": f"{base_ks}_{suite}{worker_suffix()}"})
    world.__dict__["kafka"] = settings.kafka.model_copy(
        update={"topic_prefix": f"{base_prefix}{suite}{worker_suffix().replace('_', '-')}."})
    stack_mod.apply_schema(world, report=lambda _msg: None)
    return world


def suite_env(world: Settings, **extra: str) -> dict[str, str]:
    """The environment of a ``ucid`` subprocess that must work in ``world``."""
    return {**os.environ, "UCID_CASSANDRA_KEYSPACE": world.cassandra.keyspace,
            "UCID_KAFKA_TOPIC_PREFIX": world.kafka.topic_prefix, **extra}


def _all_answering(settings: Settings) -> bool:
    return all(s.answering for s in stack_mod.status(settings))


@pytest.fixture(scope="session")
def settings() -> Settings:
    configure("WARNING")
    return get_settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[Settings]:
    """The running stack, with the tests' keyspace migrated and topics created."""
    started_here = not _all_answering(settings)
    stack_mod.up(settings, report=lambda msg: print(f"[stack] {msg}"))
    yield settings
    if started_here and not os.environ.get("UCID_KEEP_STACK"):
        stack_mod.down(settings, report=lambda msg: print(f"[stack] {msg}"))


@pytest.fixture(scope="session")
def spark(settings: Settings):
    """One Spark session for the whole run (UI off, few shuffle partitions)."""
    from batch.spark import spark_session

    session = spark_session(settings, app_name="ucid-tests")
    yield session
    session.stop()


@pytest.fixture
def tmp_lake(tmp_path: Path) -> Iterator[Path]:
    """A temp dir per test for Delta tables."""
    path = tmp_path / "lake"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)
