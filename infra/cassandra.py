"""The local Apache Cassandra 5.0 node(s), from ``cassandra-all`` and its dependencies, on Java 17.

One node by default. With ``UCID_STACK_NODES`` above 1, node ``i`` (0-based) listens on
``host`` with its last octet + i (127.0.0.1, .2, .3), the same CQL and storage ports, JMX on
``jmx_port + i``, its own data under ``DATA/cassandra<i+1>`` (node 0 keeps ``DATA/cassandra``),
evenly spaced tokens (node 0 keeps token 0) and every node a seed: a new empty cluster, so no
node bootstraps (streams) at start.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import yaml

from infra import fetch, proc
from infra.java import classpath, java_bin
from infra.settings import Settings

# JPMS flags from Cassandra's conf/jvm17-server.options: Cassandra reaches into JDK internals.
JVM17_FLAGS = [
    "-Djdk.attach.allowAttachSelf=true",
    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports", "java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports", "java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports", "java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports", "java.sql/java.sql=ALL-UNNAMED",
    "--add-exports", "java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports", "jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-exports", "jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports", "jdk.attach/sun.tools.attach=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens", "jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens", "java.base/java.io=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens", "jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang=ALL-UNNAMED",
    "--add-opens", "java.base/java.util=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
]

_LOGBACK = """\
<configuration scan="false">
  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.cassandra" level="INFO"/>
  <root level="WARN"><appender-ref ref="OUT"/></root>
</configuration>
"""


def name(node: int = 0) -> str:
    """``cassandra`` for node 0 (the one-node stack's name), ``cassandra2``, ``cassandra3``..."""
    return "cassandra" if node == 0 else f"cassandra{node + 1}"


def managed(settings: Settings, node: int = 0) -> proc.Managed:
    return proc.Managed(name(node), settings.run_dir, settings.logs / f"{name(node)}.log")


def _home(settings: Settings, node: int = 0) -> Path:
    return settings.data / name(node)


def token(node: int, nodes: int) -> int:
    """Node ``node``'s Murmur3 token: evenly spaced around the ring, node 0 at 0."""
    return (node * 2**64 // nodes + 2**63) % 2**64 - 2**63


def _write_config(settings: Settings, node: int = 0) -> Path:
    c = settings.cassandra
    home = _home(settings, node)
    home.mkdir(parents=True, exist_ok=True)
    host = c.node_host(node)
    seeds = ",".join(f"{c.node_host(i)}:{c.storage_port}" for i in range(c.nodes))
    config = {
        "cluster_name": "ucid",
        "num_tokens": 1,
        "initial_token": token(node, c.nodes),
        "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
        "data_file_directories": [str(home / "data")],
        "commitlog_directory": str(home / "commitlog"),
        "saved_caches_directory": str(home / "saved_caches"),
        "hints_directory": str(home / "hints"),
        "cdc_raw_directory": str(home / "cdc_raw"),
        "commitlog_sync": "periodic",
        "commitlog_sync_period": "10000ms",
        "seed_provider": [{
            "class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
            "parameters": [{"seeds": seeds}],
        }],
        "listen_address": host,
        "rpc_address": host,
        "storage_port": c.storage_port,
        "native_transport_port": c.port,
        "start_native_transport": True,
        "endpoint_snitch": "SimpleSnitch",
        "authenticator": "AllowAllAuthenticator",
        "authorizer": "AllowAllAuthorizer",
        "concurrent_reads": 16,
        "concurrent_writes": 16,
        "concurrent_counter_writes": 16,
        "compaction_throughput": "64MiB/s",
        "auto_snapshot": False,
        "read_request_timeout": "5000ms",
        "write_request_timeout": "5000ms",
        "cas_contention_timeout": "2000ms",
    }
    if c.nodes > 1:
        # a new empty cluster: no node streams at start (and none waits for the others to do so)
        config["auto_bootstrap"] = False
        # hints for a node that is down replay when it returns (the default 3 h window)
        config["hinted_handoff_enabled"] = True
    path = home / "cassandra.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    (home / "logback.xml").write_text(_LOGBACK)
    return path


def start(settings: Settings, node: int = 0) -> subprocess.Popen:
    config = _write_config(settings, node)
    home = _home(settings, node)
    c = settings.cassandra
    lib = fetch.jars(settings.cache, "cassandra")
    jamm = next((j for j in lib if j.name.startswith("jamm-")), None)
    argv = [
        java_bin(), f"-Xms{c.heap}", f"-Xmx{c.heap}", "-Xss512k",
        "-XX:+UseG1GC", "-XX:+ParallelRefProcEnabled", "-XX:MaxTenuringThreshold=1",
        "-XX:G1HeapRegionSize=16m", "-XX:MaxGCPauseMillis=300",
        "-XX:+HeapDumpOnOutOfMemoryError", f"-XX:HeapDumpPath={home}",
        *JVM17_FLAGS,
        *([f"-javaagent:{jamm}"] if jamm else []),
        "-Djava.net.preferIPv4Stack=true",
        f"-Dcassandra.config=file://{config}",
        f"-Dcassandra.storagedir={home}",
        f"-Dcassandra.logdir={settings.logs}",
        f"-Dlogback.configurationFile={home / 'logback.xml'}",
        f"-Dcassandra.jmx.local.port={c.node_jmx_port(node)}",
        "-Dcassandra.skip_wait_for_gossip_to_settle=0",
        f"-Dcassandra.initial_token={token(node, c.nodes)}",
        "-Dcassandra.ring_delay_ms=1000",
        *(["-Dcassandra.consistent.rangemovement=false"] if c.nodes > 1 else []),
        managed(settings, node).marker,
        "-cp", classpath(lib),
        "org.apache.cassandra.service.CassandraDaemon",
    ]
    return proc.start(managed(settings, node), argv)


def ready(settings: Settings, node: int | None = None) -> bool:
    """True when the cluster (``node`` None), or that one node, answers a CQL query."""
    from cassandra import DriverException
    from cassandra.cluster import NoHostAvailable

    from infra.cql import cluster, quiet_driver

    with quiet_driver():
        cl = cluster(settings.cassandra, request_timeout_s=5,
                     only_host=None if node is None else settings.cassandra.node_host(node))
        try:
            cl.connect().execute("SELECT release_version FROM system.local")
            return True
        except (NoHostAvailable, DriverException, OSError):
            return False
        finally:
            cl.shutdown()


def wait_ready(settings: Settings, pid_alive, timeout_s: float, node: int | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive():
            raise RuntimeError("Cassandra exited during start-up")
        if ready(settings, node):
            return
        time.sleep(2)
    raise TimeoutError(f"Cassandra did not answer within {timeout_s:.0f} s")
