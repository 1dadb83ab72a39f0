"""Fixtures of the speed-layer integration tests: a clean keyspace, fresh topics, subprocesses.

The suite works in a keyspace of its own (``<base>_speed[_gwN]``, from ``suite_settings``), which
no other suite touches; each test truncates it and gets its own topic prefix (fresh topics) and
consumer group, so the tests run in any order, next to the other suites.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..conftest import suite_env, suite_settings, truncate_keyspace, with_world

REPO = Path(__file__).resolve().parents[3]
UCID = [sys.executable, "-m", "ucid.cli"]


@dataclass
class SpeedEnv:
    """One test's world: settings, env for subprocesses, topic prefix, landing dir, a Store."""

    settings: Any
    env: dict[str, str]
    prefix: str
    landing: Path
    store: Any
    session: Any

    def topic(self, name: str = "events") -> str:
        return self.prefix + name

    def ucid(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run a ``ucid`` command in this world; fails the test with its output on error."""
        done = subprocess.run([*UCID, *args], env=self.env, cwd=REPO, capture_output=True, text=True,
                              timeout=timeout)
        if check and done.returncode != 0:
            pytest.fail(f"ucid {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr[-4000:]}")
        return done

    def start(self, *args: str, log_name: str = "speed") -> subprocess.Popen:
        """Start ``ucid speed run ARGS`` in the background (its log in the landing dir's parent)."""
        log = open(self.landing.parent / f"{log_name}-{uuid.uuid4().hex[:6]}.log", "w")
        return subprocess.Popen([*UCID, "speed", "run", *args], env=self.env, cwd=REPO, stdout=log,
                                stderr=subprocess.STDOUT)

    def count(self, table: str) -> int:
        ks = self.settings.cassandra.keyspace
        return self.session.execute(f"SELECT count(*) FROM {ks}.{table}", timeout=60).one()[0]

    def rows(self, table: str, columns: str = "*") -> list[Any]:
        ks = self.settings.cassandra.keyspace
        return list(self.session.execute(f"SELECT {columns} FROM {ks}.{table}", timeout=60))


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout=timeout)


def wait_for(predicate, timeout: float, what: str, every: float = 0.05) -> float:
    """Poll ``predicate`` until true; returns the seconds it took, fails the test on timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(every)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def wait_applied(env: "SpeedEnv", target: int, what: str, stall_s: float = 120, limit_s: float = 900) -> float:
    """Wait until ``applied_events`` holds ``target`` rows. Fails when the count stops growing for
    ``stall_s`` (the consumer is stuck) or after ``limit_s``: a slow, busy machine is not a failure,
    a stalled consumer is. Returns the seconds it took."""
    started = last_change = time.monotonic()
    seen = -1
    while True:
        n = env.count("applied_events")
        now = time.monotonic()
        if n >= target:
            return now - started
        if n != seen:
            seen, last_change = n, now
        if now - last_change > stall_s:
            pytest.fail(f"{what}: stalled at {n}/{target} applied events for {stall_s:.0f}s")
        if now - started > limit_s:
            pytest.fail(f"{what}: only {n}/{target} applied events after {limit_s:.0f}s")
        time.sleep(0.5)


def create_topics(settings, prefix: str, partitions: dict[str, int] | None = None) -> None:
    """The topics of infra/topics.yaml under ``prefix`` (``partitions`` overrides counts)."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    from infra import topics

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers, client_id="ucid-speed-tests")
    try:
        k = settings.kafka  # replicated like the stack's own topics (3 and min.insync.replicas 2 on three nodes)
        configs = {"min.insync.replicas": str(k.min_isr)} if k.min_isr is not None else {}
        new = [NewTopic(prefix + t.name, (partitions or {}).get(t.name, t.partitions), k.replication_factor,
                        topic_configs=configs) for t in topics.specs()]
        admin.create_topics(new)
    finally:
        admin.close()


def delete_topics(settings, prefix: str) -> None:
    from kafka import KafkaAdminClient

    from infra import topics

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers, client_id="ucid-speed-tests")
    try:
        admin.delete_topics([prefix + t.name for t in topics.specs()])
    except Exception:  # noqa: BLE001 -- best-effort cleanup
        pass
    finally:
        admin.close()


@pytest.fixture(scope="session")
def speed_world(stack):
    """The speed suite's settings: its own keyspace ``<base>_speed[_gwN]`` (schema migrated)."""
    return suite_settings(stack, "speed")


@pytest.fixture
def speed_env(speed_world, tmp_path: Path, request) -> Iterator[SpeedEnv]:
    """The suite's keyspace truncated, fresh topics (``partitions`` marker overrides) under a
    prefix and consumer group of this test's own, a temp landing dir."""
    from infra.cql import cluster
    from infra.store import Store

    marker = request.node.get_closest_marker("partitions")
    counts = {"events": marker.args[0]} if marker else None
    prefix = f"{speed_world.kafka.topic_prefix}{uuid.uuid4().hex[:8]}."
    settings = with_world(speed_world, speed_world.cassandra.keyspace, prefix)
    create_topics(settings, prefix, counts)
    cl = cluster(settings.cassandra, request_timeout_s=60)
    session = cl.connect()
    truncate_keyspace(session, settings.cassandra.keyspace)
    landing = tmp_path / "landing"
    env = suite_env(settings, UCID_LANDING_DIR=str(landing), UCID_LOG_LEVEL="INFO", UCID_SPEED_PROGRESS_S="2",
                    PYTHONUNBUFFERED="1")
    yield SpeedEnv(settings, env, prefix, landing, Store(session, settings.cassandra), session)
    cl.shutdown()
    delete_topics(settings, prefix)


@pytest.fixture(scope="session")
def stream_file(tmp_path_factory) -> Path:
    """A small generated stream (200 customers, 3 days: ~900 events), made once per session. The
    landing files beside it (``landing/``) have the hard cases (store registrations, look-alikes),
    which only add rows there, never change the stream: the agreement test makes person events of
    them."""
    out = tmp_path_factory.mktemp("gen")
    subprocess.run([*UCID, "generate", "--customers", "200", "--seed", "11", "--days", "3", "--out",
                    str(out / "landing"), "--stream", str(out / "stream.jsonl"), "--hard-cases", "--quiet"],
                   cwd=REPO, check=True, capture_output=True, timeout=300)
    return out / "stream.jsonl"


def read_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "partitions(n): number of partitions of the test's events topic")
