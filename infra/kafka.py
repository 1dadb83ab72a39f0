"""The local Apache Kafka broker(s): KRaft mode, each a combined broker + controller, from the jars.

One broker by default (a standalone controller quorum). With ``UCID_STACK_NODES`` above 1,
broker ``i`` (node id i+1) listens on ``host`` with its last octet + i, the same ports, its
data under ``DATA/kafka<i+1>`` (broker 0 keeps ``DATA/kafka``); the controller quorum is every
broker (static voters: a majority must be up to elect a leader, so ``stack up`` starts them all
before waiting), internal topics are replicated to 3 with ``min.insync.replicas`` 2.
"""

from __future__ import annotations

import base64
import socket
import subprocess
import time
import uuid
from pathlib import Path

from infra import fetch, proc
from infra.java import classpath, java_bin
from infra.settings import Settings

_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def name(node: int = 0) -> str:
    """``kafka`` for broker 0 (the one-node stack's name), ``kafka2``, ``kafka3``..."""
    return "kafka" if node == 0 else f"kafka{node + 1}"


def managed(settings: Settings, node: int = 0) -> proc.Managed:
    return proc.Managed(name(node), settings.run_dir, settings.logs / f"{name(node)}.log")


def _home(settings: Settings, node: int = 0) -> Path:
    return settings.data / name(node)


def _write_config(settings: Settings, node: int = 0) -> Path:
    k = settings.kafka
    home = _home(settings, node)
    home.mkdir(parents=True, exist_ok=True)
    host = k.node_host(node)
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node + 1),
        "controller.quorum.bootstrap.servers": f"{host}:{k.controller_port}",
        "listeners": f"PLAINTEXT://{host}:{k.port},CONTROLLER://{host}:{k.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{k.port},CONTROLLER://{host}:{k.controller_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(home / "logs"),
        "num.partitions": "3",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.flush.interval.ms": "1000",
        # the log cleaner's dedupe buffer (compacted topics: the consumer offsets) is allocated
        # whole at start; Kafka's 128 MiB did not fit a 256 MiB heap every time (OutOfMemoryError
        # at a restart in test_stack)
        "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
    }
    if k.nodes > 1:
        replicas = str(min(3, k.nodes))
        min_isr = str(k.min_isr or 1)
        del props["controller.quorum.bootstrap.servers"]
        props.update({
            "controller.quorum.voters": ",".join(
                f"{i + 1}@{k.node_host(i)}:{k.controller_port}" for i in range(k.nodes)),
            "default.replication.factor": replicas,
            "min.insync.replicas": min_isr,
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_isr,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min_isr,
            # a broker that returns catches up and takes its partitions' leadership back
            "auto.leader.rebalance.enable": "true",
            "unclean.leader.election.enable": "false",
        })
    config = home / "server.properties"
    config.write_text("".join(f"{key}={value}\n" for key, value in props.items()))
    (home / "log4j2.properties").write_text(_LOG4J2)
    return config


def _java(settings: Settings, main: str, *args: str, heap: str | None = None, node: int = 0) -> list[str]:
    home = _home(settings, node)
    lib = fetch.jars(settings.cache, "kafka")
    opts = [f"-Xmx{heap}", f"-Xms{heap}"] if heap else ["-Xmx256m"]
    return [
        java_bin(), *opts, "-XX:+UseG1GC", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={settings.logs}",
        managed(settings, node).marker,
        "-cp", classpath(lib), main, *args,
    ]


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, url-safe base64 without padding.

    Like Kafka's own `Uuid.randomUuid`, never one that starts with "-" (1 in 64 would), which a
    command line would read as an option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def format_storage(settings: Settings, node: int = 0) -> bool:
    """Format the KRaft log dir once (a new cluster: standalone for one node, the static voters
    of ``controller.quorum.voters`` for several); False if already formatted."""
    config = _write_config(settings, node)
    if (_home(settings, node) / "logs" / "meta.properties").exists():
        return False
    cluster_id_file = _home(settings) / "cluster.id"  # broker 0's: one id for every broker
    if not cluster_id_file.exists():
        cluster_id_file.write_text(new_cluster_id())
    # `--cluster-id=ID`, not `-t ID`: an id read from an older file may still start with "-",
    # which the tool's argument parser would take for an option
    quorum = ["--standalone"] if settings.kafka.nodes == 1 else []
    argv = _java(settings, "kafka.tools.StorageTool", "format", *quorum,
                 f"--cluster-id={cluster_id_file.read_text().strip()}", "-c", str(config), node=node)
    argv.remove(managed(settings, node).marker)
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"formatting Kafka storage failed:\n{result.stdout}\n{result.stderr}")
    return True


def start(settings: Settings, node: int = 0) -> subprocess.Popen:
    format_storage(settings, node)
    config = _home(settings, node) / "server.properties"
    return proc.start(managed(settings, node),
                      _java(settings, "kafka.Kafka", str(config), heap=settings.kafka.heap, node=node))


def ready(settings: Settings, node: int | None = None) -> bool:
    """True when the broker answers a metadata request (``node``: that local broker; None: the
    first bootstrap address). No listener there: False at once (kafka-python would retry its
    bootstrap for about 30 s, logging each refused connection)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaConfigurationError, KafkaError

    bootstrap = (settings.kafka.bootstrap_servers if node is None
                 else f"{settings.kafka.node_host(node)}:{settings.kafka.port}")
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=2):
            pass
    except (OSError, ValueError):
        return False
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=3000,
            client_id="ucid-stack-probe",
        )
    except KafkaConfigurationError:
        raise
    except (KafkaError, OSError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def wait_ready(settings: Settings, pid_alive, timeout_s: float, node: int | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive():
            raise RuntimeError("Kafka exited during start-up")
        if ready(settings, node):
            return
        time.sleep(1)
    raise TimeoutError(f"Kafka did not answer within {timeout_s:.0f} s")
