"""The local stack: Kafka and Cassandra from Maven Central jars, plus schema and topics (and,
with ``UCID_SPARK_SERVER``, a Spark Connect server: :mod:`infra.spark_server`).

``up`` fetches what is missing (once), starts what is not running, waits until each server really
answers, then applies the CQL migrations and creates the topics (both idempotent). ``down`` stops
exactly the processes ``up`` started. With ``UCID_KAFKA_BOOTSTRAP`` / ``UCID_CASSANDRA_CONTACT_POINTS``
set, ucid uses those clusters and starts no local server for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from infra import cassandra, fetch, kafka, proc, schema, spark_server, topics
from infra.cql import cluster as cql_cluster
from infra.settings import Settings

Report = Callable[[str], None]


class StackError(RuntimeError):
    """A server did not come up, or the schema could not be applied."""


@dataclass(frozen=True)
class Server:
    name: str
    module: ModuleType
    timeout_s: float
    external: bool


def servers(settings: Settings) -> list[Server]:
    return [
        Server("kafka", kafka, settings.kafka.start_timeout_s, settings.kafka.bootstrap is not None),
        Server("cassandra", cassandra, settings.cassandra.start_timeout_s,
               settings.cassandra.contact_points is not None),
        *([Server("spark", spark_server, settings.spark.start_timeout_s, settings.spark.remote is not None)]
          if settings.spark.server else []),
    ]


def fetch_all(settings: Settings, report: Report) -> None:
    for component in fetch.COMPONENTS:
        if fetch.is_fetched(settings.cache, component):
            report(f"{component} jars cached")
        else:
            report(f"fetching {component} jars from Maven Central")
            fetch.ensure(settings.cache, component)


def _start(settings: Settings, server: Server, report: Report) -> None:
    managed = server.module.managed(settings)
    if proc.running_pid(managed) is not None:
        if server.module.ready(settings):
            report(f"{server.name} already up (pid {proc.running_pid(managed)})")
            return
        report(f"{server.name} running but not answering yet; waiting")
        alive = lambda: proc.running_pid(managed) is not None  # noqa: E731
    else:
        report(f"starting {server.name}")
        child = server.module.start(settings)
        alive = lambda: child.poll() is None  # noqa: E731
    try:
        server.module.wait_ready(settings, alive, server.timeout_s)
    except (RuntimeError, TimeoutError) as exc:
        raise StackError(
            f"{server.name} did not come up: {exc}. Its log: {managed.log_file}\n"
            f"--- last lines ---\n{proc.tail(managed.log_file, 25)}"
        ) from exc
    report(f"{server.name} up (pid {proc.running_pid(managed)})")


def apply_schema(settings: Settings, report: Report) -> None:
    cl = cql_cluster(settings.cassandra)
    try:
        session = cl.connect()
        applied = schema.apply(session, settings.cassandra)
        version = schema.current_version(session, settings.cassandra.keyspace)
    finally:
        cl.shutdown()
    what = ", ".join(m.path.name for m in applied) if applied else "nothing new"
    report(f"schema of keyspace {settings.cassandra.keyspace} at version {version} (applied {what})")
    changed = topics.ensure(settings.kafka)
    report(f"topics: {', '.join(changed) if changed else 'all present'}")


def up(settings: Settings, report: Report) -> None:
    """Bring the stack up (idempotent: parts already up are left alone)."""
    for path in (settings.cache, settings.data, settings.logs, settings.run_dir):
        path.mkdir(parents=True, exist_ok=True)
    fetch_all(settings, report)
    for server in servers(settings):
        if server.external:
            report(f"{server.name}: using the external cluster from settings")
            continue
        _start(settings, server, report)
    apply_schema(settings, report)


def down(settings: Settings, report: Report) -> None:
    """Stop the servers ``up`` started (Cassandra first: it flushes on SIGTERM), the Spark server
    too when one runs, whatever ``UCID_SPARK_SERVER`` says now."""
    every = servers(settings)
    if not settings.spark.server and proc.running_pid(spark_server.managed(settings)) is not None:
        every.append(Server("spark", spark_server, settings.spark.start_timeout_s, False))
    for server in reversed(every):
        if server.module.managed(settings) and proc.stop(server.module.managed(settings), timeout_s=90):
            report(f"{server.name} stopped")
        else:
            report(f"{server.name} was not running")


@dataclass(frozen=True)
class Status:
    name: str
    pid: int | None
    answering: bool
    log_file: str
    external: bool


def status(settings: Settings) -> list[Status]:
    result = []
    for server in servers(settings):
        managed = server.module.managed(settings)
        result.append(Status(
            name=server.name,
            pid=None if server.external else proc.running_pid(managed),
            answering=server.module.ready(settings),
            log_file=str(managed.log_file),
            external=server.external,
        ))
    return result
