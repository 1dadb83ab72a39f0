"""The local stack: Kafka and Cassandra from Maven Central jars, plus schema and topics (and,
with ``UCID_SPARK_SERVER``, a Spark Connect server: :mod:`infra.spark_server`).

``up`` fetches what is missing (once), starts what is not running, waits until each server really
answers, then applies the CQL migrations and creates the topics (both idempotent). ``down`` stops
exactly the processes ``up`` started. With ``UCID_KAFKA_BOOTSTRAP`` / ``UCID_CASSANDRA_CONTACT_POINTS``
set, ucid uses those clusters and starts no local server for them.

With ``UCID_STACK_NODES`` (``--nodes``) above 1 there is one server per node: the Kafka brokers
are started together (their controller quorum needs a majority before any answers), then the
first Cassandra node, then the other Cassandra nodes together (no node streams data at start:
see :mod:`infra.cassandra`).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
    node: int | None = None  # which local node of a multi-node stack; None: the one server

    def managed(self, settings: Settings) -> proc.Managed:
        return self.module.managed(settings) if self.node is None else self.module.managed(settings, self.node)

    def start(self, settings: Settings) -> subprocess.Popen:
        return self.module.start(settings) if self.node is None else self.module.start(settings, self.node)

    def ready(self, settings: Settings) -> bool:
        return self.module.ready(settings) if self.node is None else self.module.ready(settings, self.node)

    def wait_ready(self, settings: Settings, alive, timeout_s: float) -> None:
        if self.node is None:
            self.module.wait_ready(settings, alive, timeout_s)
        else:
            self.module.wait_ready(settings, alive, timeout_s, node=self.node)


def _nodes(name: str, module: ModuleType, count: int, timeout_s: float, external: bool) -> list[Server]:
    if count == 1 or external:
        return [Server(name, module, timeout_s, external)]
    return [Server(module.name(i), module, timeout_s, external, i) for i in range(count)]


def groups(settings: Settings) -> list[list[Server]]:
    """The servers in start order, as groups started together and then waited for."""
    brokers = _nodes("kafka", kafka, settings.kafka.nodes, settings.kafka.start_timeout_s,
                     settings.kafka.bootstrap is not None)
    nodes = _nodes("cassandra", cassandra, settings.cassandra.nodes, settings.cassandra.start_timeout_s,
                   settings.cassandra.contact_points is not None)
    spark = ([[Server("spark", spark_server, settings.spark.start_timeout_s, settings.spark.remote is not None)]]
             if settings.spark.server else [])
    return [brokers, nodes[:1], *([nodes[1:]] if nodes[1:] else []), *spark]


def servers(settings: Settings) -> list[Server]:
    return [server for group in groups(settings) for server in group]


def fetch_all(settings: Settings, report: Report) -> None:
    for component in fetch.COMPONENTS:
        if fetch.is_fetched(settings.cache, component):
            report(f"{component} jars cached")
        else:
            report(f"fetching {component} jars from Maven Central")
            fetch.ensure(settings.cache, component)


def _launch(settings: Settings, server: Server, report: Report) -> Callable[[], bool] | None:
    """Start the server unless it runs; return how to ask whether it is alive (None: up already)."""
    managed = server.managed(settings)
    if proc.running_pid(managed) is not None:
        if server.ready(settings):
            report(f"{server.name} already up (pid {proc.running_pid(managed)})")
            return None
        report(f"{server.name} running but not answering yet; waiting")
        return lambda: proc.running_pid(managed) is not None
    report(f"starting {server.name}")
    child = server.start(settings)
    return lambda: child.poll() is None


def _start(settings: Settings, server: Server, report: Report) -> None:
    alive = _launch(settings, server, report)
    if alive is not None:
        _wait(settings, server, alive, report)


def _wait(settings: Settings, server: Server, alive: Callable[[], bool], report: Report) -> None:
    managed = server.managed(settings)
    try:
        server.wait_ready(settings, alive, server.timeout_s)
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
    for group in groups(settings):
        if len(group) == 1:
            if group[0].external:
                report(f"{group[0].name}: using the external cluster from settings")
                continue
            _start(settings, group[0], report)
            continue
        waiting = [(server, _launch(settings, server, report)) for server in group]
        for server, alive in waiting:
            if alive is not None:
                _wait(settings, server, alive, report)
    apply_schema(settings, report)


def _other_nodes(settings: Settings) -> list[Server]:
    """Nodes of a multi-node stack that run but the settings in force do not name (a stack
    brought up with ``--nodes 3`` seen by a command without it)."""
    known = {server.name for server in servers(settings)}
    return [Server(module.name(i), module, 0, False, i) for module in (kafka, cassandra) for i in range(1, 9)
            if module.name(i) not in known and proc.running_pid(module.managed(settings, i)) is not None]


def down(settings: Settings, report: Report) -> None:
    """Stop the servers ``up`` started (Cassandra first: it flushes on SIGTERM), the Spark server
    too when one runs, whatever ``UCID_SPARK_SERVER`` says now, and every node of a multi-node
    stack that runs, whatever ``UCID_STACK_NODES`` says now. The nodes of one group stop
    together: a Kafka broker left alone with a lost controller quorum would hang its shutdown."""
    every = servers(settings) + _other_nodes(settings)
    if not settings.spark.server and proc.running_pid(spark_server.managed(settings)) is not None:
        every.append(Server("spark", spark_server, settings.spark.start_timeout_s, False))
    for module in (spark_server, cassandra, kafka):
        group = [server for server in every if server.module is module]
        if group:
            _stop_group(settings, group, report)


def _stop_group(settings: Settings, group: list[Server], report: Report) -> None:
    def stop(server: Server) -> bool:
        return proc.stop(server.managed(settings), timeout_s=90)

    if len(group) == 1:
        stopped = [stop(group[0])]
    else:
        with ThreadPoolExecutor(len(group)) as pool:
            stopped = list(pool.map(stop, group))
    for server, was in zip(group, stopped, strict=True):
        report(f"{server.name} stopped" if was else f"{server.name} was not running")


@dataclass(frozen=True)
class Status:
    name: str
    pid: int | None
    answering: bool
    log_file: str
    external: bool


def status(settings: Settings) -> list[Status]:
    result = []
    for server in servers(settings) + _other_nodes(settings):
        managed = server.managed(settings)
        result.append(Status(
            name=server.name,
            pid=None if server.external else proc.running_pid(managed),
            answering=server.ready(settings),
            log_file=str(managed.log_file),
            external=server.external,
        ))
    return result
