"""The local stack: independent clients see it; down/up keeps the data; up is idempotent.

No test here stops the shared stack the other suites use: down/up runs on a small stack of the
test's own (own home and data, own ports, small heaps; the jar cache shared).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import cassandra, kafka, proc, spark_server
from infra.cql import cluster
from infra.topics import specs, topic_name

pytestmark = pytest.mark.integration

VENV_BIN = Path(sys.executable).parent


def test_cqlsh_lists_keyspace_and_tables(stack):
    cqlsh = VENV_BIN / "cqlsh"
    out = subprocess.run(
        [str(cqlsh), stack.cassandra.host, str(stack.cassandra.port), "-e",
         f"DESCRIBE KEYSPACE {stack.cassandra.keyspace}"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    for table in ("identifiers", "identifiers_by_ucid", "ucids", "ucid_aliases", "profiles",
                  "events_by_ucid", "identity_changes", "links_by_ucid", "audit_by_ucid", "schema_migrations"):
        assert f"CREATE TABLE {stack.cassandra.keyspace}.{table} (" in out.stdout


def test_kcat_lists_topics(stack):
    kcat = shutil.which("kcat")
    if kcat is None:  # the speed tests need it too: a missing kcat is a broken set-up, not a skip
        pytest.fail("kcat is missing: `make setup` installs it (infra/system-packages.sh, Debian package kcat)")
    out = subprocess.run([kcat, "-L", "-b", stack.kafka.bootstrap_servers], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for spec in specs():
        assert f'topic "{topic_name(stack.kafka, spec.name)}" with {spec.partitions} partitions' in out.stdout


def test_up_again_is_harmless(stack):
    from infra.stack import up

    messages: list[str] = []
    managed = [kafka.managed(stack), cassandra.managed(stack)]
    if stack.spark.server:  # the tests' Spark Connect server (infra/run-tests.sh turns it on)
        managed.append(spark_server.managed(stack))
    pids = {m.name: proc.running_pid(m) for m in managed}
    assert all(pids.values()), pids
    up(stack, messages.append)
    for m in managed:
        assert any(f"{m.name} already up" in msg for msg in messages), (m.name, messages)
    assert any("applied nothing new" in m for m in messages)
    assert {m.name: proc.running_pid(m) for m in managed} == pids


def _produce(settings, topic: str, value: bytes) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    producer.send(topic, value).get(timeout=30)
    producer.flush()
    producer.close()


def _consume_all(settings, topic: str) -> list[bytes]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=settings.kafka.bootstrap_servers,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=5000)
    values = [m.value for m in consumer]
    consumer.close()
    return values


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it is not running)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.fixture
def own_stack(settings, tmp_path) -> Iterator:
    """A small stack of this test's own, never the shared one: its own home (data, logs, pid
    files) in a temp dir, the shared jar cache, its own ports, small heaps. Stopped afterwards."""
    from infra.settings import Settings
    from infra.stack import down

    home = tmp_path / "home"
    own = Settings(home=home, cache_dir=settings.cache, data_dir=home / "data", log_dir=home / "logs",
                   lake_dir=home / "lake", landing_dir=home / "landing", conf_dir=settings.conf_dir)
    kafka_port, controller_port, cql_port, storage_port, jmx_port = _free_ports(5)
    own.__dict__["kafka"] = settings.kafka.model_copy(update={
        "host": "127.0.0.1", "port": kafka_port, "controller_port": controller_port, "heap": "256m",
        "bootstrap": None, "start_timeout_s": 300})
    own.__dict__["cassandra"] = settings.cassandra.model_copy(update={
        "host": "127.0.0.1", "port": cql_port, "storage_port": storage_port, "jmx_port": jmx_port,
        "heap": "512M", "contact_points": None, "start_timeout_s": 400})
    # no Spark server of its own: a second one would cost a JVM (and need a port of its own)
    own.__dict__["spark"] = settings.spark.model_copy(update={"server": False, "remote": None})
    try:
        yield own
    finally:
        down(own, lambda _m: None)
        shutil.rmtree(home / "data", ignore_errors=True)  # commit logs and segments: not worth keeping


def test_down_stops_everything_and_up_brings_back_the_same_data(own_stack, settings):
    from infra.stack import down, up

    shared = {m.name: proc.running_pid(m) for m in (kafka.managed(settings), cassandra.managed(settings))}
    stack = own_stack
    up(stack, lambda _m: None)
    marker = uuid.uuid4().hex
    ks = stack.cassandra.keyspace
    from infra.store import Store, ts

    with Store.connect(stack.cassandra) as store:
        now_ts = ts(int(time.time() * 1000))
        store.atomic([("mint", (marker, now_ts, now_ts))])
    topic = topic_name(stack.kafka, "identity-changes")
    _produce(stack, topic, marker.encode())

    pids = [proc.running_pid(m) for m in (kafka.managed(stack), cassandra.managed(stack))]
    down(stack, lambda _m: None)
    for pid in pids:
        assert pid is None or not _alive(pid), f"pid {pid} still running"
    assert all(proc.running_pid(m) is None for m in (kafka.managed(stack), cassandra.managed(stack)))
    assert not kafka.ready(stack) and not cassandra.ready(stack)

    started = time.monotonic()
    up(stack, lambda _m: None)
    assert time.monotonic() - started < 300

    cl = cluster(stack.cassandra)
    row = cl.connect().execute(f"SELECT status FROM {ks}.ucids WHERE ucid = %s", (marker,)).one()
    cl.shutdown()
    assert row is not None and row.status == "live"
    assert marker.encode() in _consume_all(stack, topic)
    assert {m.name: proc.running_pid(m) for m in (kafka.managed(settings), cassandra.managed(settings))} == shared, \
        "the shared stack's servers were touched"


def test_kafka_storage_formats_with_a_cluster_id_that_starts_with_a_dash(settings, tmp_path):
    """A `cluster.id` written before ids were drawn without a leading "-" still formats (CI once
    failed on one: the storage tool read `-t -xyz` as a missing value)."""
    from infra.settings import Settings

    home = tmp_path / "home"
    own = Settings(home=home, cache_dir=settings.cache, data_dir=home / "data", log_dir=home / "logs",
                   conf_dir=settings.conf_dir)
    cluster_id = "-" + kafka.new_cluster_id()[1:]
    (own.data / "kafka").mkdir(parents=True)
    (own.data / "kafka" / "cluster.id").write_text(cluster_id)
    assert kafka.format_storage(own) is True
    meta = (own.data / "kafka" / "logs" / "meta.properties").read_text()
    assert f"cluster.id={cluster_id}" in meta
    assert kafka.format_storage(own) is False  # formatted once
