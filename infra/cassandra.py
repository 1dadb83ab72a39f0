"""The local Apache Cassandra 5.0 node, from ``cassandra-all`` and its dependencies, on Java 17."""

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


def managed(settings: Settings) -> proc.Managed:
    return proc.Managed("cassandra", settings.run_dir, settings.logs / "cassandra.log")


def _home(settings: Settings) -> Path:
    return settings.data / "cassandra"


def _write_config(settings: Settings) -> Path:
    c = settings.cassandra
    home = _home(settings)
    home.mkdir(parents=True, exist_ok=True)
    config = {
        "cluster_name": "ucid",
        "num_tokens": 1,
        "initial_token": 0,
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
            "parameters": [{"seeds": f"{c.host}:{c.storage_port}"}],
        }],
        "listen_address": c.host,
        "rpc_address": c.host,
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
    path = home / "cassandra.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    (home / "logback.xml").write_text(_LOGBACK)
    return path


def start(settings: Settings) -> subprocess.Popen:
    config = _write_config(settings)
    home = _home(settings)
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
        f"-Dcassandra.jmx.local.port={c.jmx_port}",
        "-Dcassandra.skip_wait_for_gossip_to_settle=0",
        "-Dcassandra.initial_token=0",
        "-Dcassandra.ring_delay_ms=1000",
        managed(settings).marker,
        "-cp", classpath(lib),
        "org.apache.cassandra.service.CassandraDaemon",
    ]
    return proc.start(managed(settings), argv)


def ready(settings: Settings) -> bool:
    """True when the node answers a CQL query."""
    from cassandra import DriverException
    from cassandra.cluster import NoHostAvailable

    from infra.cql import cluster, quiet_driver

    with quiet_driver():
        cl = cluster(settings.cassandra, request_timeout_s=5)
        try:
            cl.connect().execute("SELECT release_version FROM system.local")
            return True
        except (NoHostAvailable, DriverException, OSError):
            return False
        finally:
            cl.shutdown()


def wait_ready(settings: Settings, pid_alive, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive():
            raise RuntimeError("Cassandra exited during start-up")
        if ready(settings):
            return
        time.sleep(2)
    raise TimeoutError(f"Cassandra did not answer within {timeout_s:.0f} s")
