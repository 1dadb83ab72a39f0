"""The fault suite (``make test-faults``): real processes of a three-node stack are SIGKILLed while
the speed layer consumes and the API serves, and the suite checks what survived.

Not part of the normal runs: ``tests/integration`` does not include it, and a bare ``pytest``
skips it unless ``UCID_FAULTS=1`` (the Makefile target sets it). It needs a stack of three nodes
(``UCID_STACK_NODES=3``): started here if it is not up (``ucid stack up --nodes 3``'s code),
left running at the end. Every test works in the keyspace ``ucid_faults`` (truncated first) and
topics of its own, and restarts the node it killed before it checks anything.

Each test appends its figures to ``HOME/faults/latest.json`` (the README quotes them).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
UCID = [sys.executable, "-m", "ucid.cli"]
KEYSPACE = "ucid_faults"


def pytest_collection_modifyitems(config, items) -> None:
    if os.environ.get("UCID_FAULTS") == "1":
        return
    skip = pytest.mark.skip(reason="the fault suite runs with `make test-faults` (UCID_FAULTS=1) on a 3-node stack")
    for item in items:
        if "tests/faults/" in str(item.fspath):
            item.add_marker(skip)


# -- the stack ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def base_settings():
    from infra import stack
    from infra.log import configure
    from infra.settings import get_settings

    configure("WARNING")
    settings = get_settings()
    if settings.stack_nodes < 3:
        pytest.fail(f"the fault suite needs a stack of 3 nodes (UCID_STACK_NODES=3), not {settings.stack_nodes}")
    stack.up(settings, report=lambda msg: print(f"[stack] {msg}"))
    return settings


def world(settings, prefix: str):
    """``settings`` in the suite's keyspace, with topics under ``prefix`` and a group of its own."""
    w = settings.model_copy()
    w.__dict__["cassandra"] = settings.cassandra.model_copy(update={"keyspace": KEYSPACE})
    w.__dict__["kafka"] = settings.kafka.model_copy(update={"topic_prefix": prefix})
    w.__dict__["speed"] = settings.speed.model_copy(update={"group_id": f"ucid-faults-{prefix.strip('.')}"})
    return w


@dataclass
class Faults:
    """One test's world on the three-node stack, and the means to break it."""

    settings: Any
    env: dict[str, str]
    tmp: Path
    session: Any
    cluster: Any
    children: list[subprocess.Popen] = field(default_factory=list)

    # -- ucid subprocesses
    def ucid(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([*UCID, *args], env=self.env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            pytest.fail(f"ucid {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr[-4000:]}")
        return done

    def start(self, *args: str, name: str) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "w")
        child = subprocess.Popen([*UCID, *args], env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        self.children.append(child)
        return child

    def log(self, name: str, lines: int = 30) -> str:
        path = self.tmp / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    # -- Cassandra
    def count(self, table: str, consistency: str = "LOCAL_QUORUM") -> int:
        from cassandra import ConsistencyLevel
        from cassandra.query import SimpleStatement

        stmt = SimpleStatement(f"SELECT count(*) FROM {KEYSPACE}.{table}",
                               consistency_level=ConsistencyLevel.name_to_value[consistency])
        return self.session.execute(stmt, timeout=60).one()[0]

    def rows(self, table: str, columns: str = "*", consistency: str = "LOCAL_QUORUM") -> list[Any]:
        from cassandra import ConsistencyLevel
        from cassandra.query import SimpleStatement

        stmt = SimpleStatement(f"SELECT {columns} FROM {KEYSPACE}.{table}", fetch_size=5000,
                               consistency_level=ConsistencyLevel.name_to_value[consistency])
        return list(self.session.execute(stmt, timeout=120))

    def wait_applied(self, target: int, what: str, stall_s: float = 120, limit_s: float = 900) -> float:
        started = last = time.monotonic()
        seen = -1
        while True:
            n = self.count("applied_events")
            now = time.monotonic()
            if n >= target:
                return now - started
            if n != seen:
                seen, last = n, now
            if now - last > stall_s:
                pytest.fail(f"{what}: stalled at {n}/{target} applied events for {stall_s:.0f}s\n{self.log('speed')}")
            if now - started > limit_s:
                pytest.fail(f"{what}: only {n}/{target} applied after {limit_s:.0f}s\n{self.log('speed')}")
            time.sleep(0.5)


def kill(managed) -> int:
    """SIGKILL the stack's process ``managed``; return its pid once it is gone."""
    from infra import proc

    pid = proc.running_pid(managed)
    assert pid is not None, f"{managed.name} is not running"
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while proc.running_pid(managed) is not None:
        proc._reap(pid)
        assert time.monotonic() < deadline, f"{managed.name} (pid {pid}) survived SIGKILL"
        time.sleep(0.1)
    return pid


def restart(settings, module, node: int, timeout_s: float = 300) -> float:
    """Start node ``node`` of ``module`` (cassandra / kafka) again; the seconds until it answers."""
    started = time.monotonic()
    child = module.start(settings, node)
    module.wait_ready(settings, lambda: child.poll() is None, timeout_s, node=node)
    return time.monotonic() - started


def nodetool(settings, node: int, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Cassandra's nodetool (in ``cassandra-all``) against node ``node``'s JMX port."""
    from infra import fetch
    from infra.cassandra import JVM17_FLAGS
    from infra.java import classpath, java_bin

    quiet = settings.data / "cassandra" / "logback.xml"  # node 0's: WARN, not the DEBUG of no config
    argv = [java_bin(), "-Xmx128m", *JVM17_FLAGS, f"-Dlogback.configurationFile={quiet}", "-cp", classpath(fetch.jars(settings.cache, "cassandra")),
            "org.apache.cassandra.tools.NodeTool", "-h", "127.0.0.1", "-p", str(settings.cassandra.node_jmx_port(node)),
            *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def faults(base_settings, tmp_path) -> Iterator[Faults]:
    from infra import stack, topics
    from infra.cql import cluster

    prefix = f"ucid-faults.{uuid.uuid4().hex[:8]}."
    settings = world(base_settings, prefix)
    stack.apply_schema(settings, report=lambda _m: None)  # keyspace, migrations, topics (replicated)
    topics.ensure(settings.kafka)
    cl = cluster(settings.cassandra, request_timeout_s=60)
    session = cl.connect()
    for table in [r.table_name for r in session.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (KEYSPACE,))]:
        if table != "schema_migrations":
            session.execute(f"TRUNCATE {KEYSPACE}.{table}", timeout=120)
    env = {**os.environ, "UCID_CASSANDRA_KEYSPACE": KEYSPACE, "UCID_KAFKA_TOPIC_PREFIX": prefix,
           "UCID_SPEED_GROUP_ID": settings.speed.group_id, "UCID_LANDING_DIR": str(tmp_path / "landing"),
           "UCID_LOG_LEVEL": "INFO", "UCID_SPEED_PROGRESS_S": "2", "PYTHONUNBUFFERED": "1"}
    f = Faults(settings, env, tmp_path, session, cl)
    yield f
    for child in f.children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
    cl.shutdown()


@pytest.fixture(scope="session")
def stream(tmp_path_factory) -> Path:
    """A generated stream: 200 customers, 3 days (~900 events), made once."""
    out = tmp_path_factory.mktemp("gen")
    subprocess.run([*UCID, "generate", "--customers", "200", "--seed", "11", "--days", "3", "--out",
                    str(out / "landing"), "--stream", str(out / "stream.jsonl"), "--quiet"],
                   cwd=REPO, check=True, capture_output=True, timeout=300)
    return out / "stream.jsonl"


def read_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def split(path: Path, at: int, tmp: Path) -> tuple[Path, Path]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    first, second = tmp / "first.jsonl", tmp / "second.jsonl"
    first.write_text("\n".join(lines[:at]) + "\n")
    second.write_text("\n".join(lines[at:]) + "\n")
    return first, second


def check_exactly_once(f: Faults, events: list[dict[str, Any]]) -> dict[str, int]:
    """Every event applied once (none lost), counted once in the profiles and the timeline,
    landed once (none applied twice). Returns the counts."""
    ids = [e["event_id"] for e in events]
    applied = f.rows("applied_events", "event_id, ucid")
    applied_ids = sorted(r.event_id for r in applied)
    missing = set(ids) - set(applied_ids)
    assert not missing, f"{len(missing)} events lost, e.g. {sorted(missing)[:5]}"
    assert applied_ids == sorted(ids), "applied_events differs from the events produced"
    identified = sum(1 for r in applied if r.ucid)
    counted = sum(r.event_count for r in f.rows("speed_profiles", "event_count"))
    assert counted == identified, f"profiles count {counted} events, {identified} identified were applied"
    timeline = f.count("events_by_ucid")
    assert timeline == identified, f"the timelines hold {timeline} rows, {identified} identified events applied"
    landed = [json.loads(line)["event_id"] for p in sorted((f.tmp / "landing" / "stream").rglob("*.jsonl"))
              for line in p.read_text().splitlines()]
    assert sorted(landed) == sorted(ids), (f"landing files hold {len(landed)} events "
                                           f"({len(set(landed))} distinct) for {len(ids)} produced")
    return {"produced": len(ids), "applied": len(applied_ids), "counted_in_profiles": counted,
            "identified": identified, "landed": len(landed)}


def record(name: str, settings, figures: dict[str, Any]) -> None:
    """Add one test's figures to HOME/faults/latest.json (and print them)."""
    path = settings.home / "faults" / "latest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = {**figures, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
    print(f"\n[faults] {name}: {json.dumps(figures, sort_keys=True)}")


# -- API lookups under load ----------------------------------------------------------------------


@dataclass
class Lookup:
    at: float  # monotonic start
    status: int  # 0 = no answer (connection error, timeout)
    seconds: float
    retry_after: str | None
    retried_ok: bool | None = None  # a 503: did the retry after Retry-After answer 200?


class Lookups:
    """Clients calling ``GET /v1/resolve`` on identifiers known to exist, at about ``rate`` per
    second, recording each call. A 503 is retried once after its Retry-After."""

    def __init__(self, base_url: str, key: str, identifiers: list[tuple[str, str]], rate: float = 40,
                 clients: int = 2) -> None:
        self.base_url, self.key, self.identifiers = base_url, key, identifiers
        self.pause = clients / rate
        self.clients = clients
        self.calls: list[Lookup] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Lookups:
        for i in range(self.clients):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)

    def _get(self, client, id_type: str, value: str):
        return client.get(f"{self.base_url}/v1/resolve", params={"type": id_type, "value": value},
                          headers={"X-API-Key": self.key})

    def _run(self, offset: int) -> None:
        import httpx

        i = offset
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                id_type, value = self.identifiers[i % len(self.identifiers)]
                i += self.clients
                started = time.monotonic()
                try:
                    r = self._get(client, id_type, value)
                    call = Lookup(started, r.status_code, time.monotonic() - started, r.headers.get("Retry-After"))
                except httpx.HTTPError:
                    call = Lookup(started, 0, time.monotonic() - started, None)
                if call.status == 503 and call.retry_after:
                    self._stop.wait(float(call.retry_after))
                    try:
                        call.retried_ok = self._get(client, id_type, value).status_code == 200
                    except httpx.HTTPError:
                        call.retried_ok = False
                self.calls.append(call)
                self._stop.wait(self.pause)

    def window(self, start: float, end: float) -> list[Lookup]:
        return [c for c in self.calls if start <= c.at < end]


def summary(calls: list[Lookup]) -> dict[str, Any]:
    import statistics

    ok = [c.seconds for c in calls if c.status == 200]
    retried = [c for c in calls if c.status == 503 and c.retry_after]
    return {
        "lookups": len(calls),
        "served": len(ok),
        "503_retry_after": len(retried),
        "503_retried_ok": sum(1 for c in retried if c.retried_ok),
        "failed": len(calls) - len(ok) - len(retried),
        "failed_statuses": sorted({c.status for c in calls if c.status != 200 and c not in retried}),
        "p50_ms": round(statistics.median(ok) * 1000, 1) if ok else None,
        "p99_ms": round(sorted(ok)[max(0, math.ceil(len(ok) * 0.99) - 1)] * 1000, 1) if ok else None,
        "max_ms": round(max(ok) * 1000, 1) if ok else None,
    }


@pytest.fixture
def api(faults) -> Iterator[tuple[str, str]]:
    """``ucid serve`` on a free port in the test's world, and an API key with the resolve scope."""
    import socket

    import httpx

    token = faults.ucid("keys", "create", "--name", "faults", "--scope", "resolve").stdout.strip().splitlines()[-1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    child = faults.start("serve", "--port", str(port), name="api")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if child.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the API did not come up:\n{faults.log('api')}")
        time.sleep(0.5)
    yield url, token
