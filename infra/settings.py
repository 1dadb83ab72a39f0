"""Typed settings, read from environment variables (and an optional ``.env`` file).

One :class:`Settings` is built at each entry point (a CLI command, a DAG task, ``create_app``) and
passed down; nothing below reads the environment on its own. Every external system and every
layer has its own group with its own prefix, so the local stack and a real cluster are configured
the same way: ``UCID_`` for paths, ``UCID_KAFKA_``, ``UCID_CASSANDRA_``, ``UCID_SPARK_``,
``UCID_BATCH_``, ``UCID_SPEED_``, ``UCID_SERVING_``. The README documents every field;
``ucid settings`` prints every group in force.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

Consistency = Literal["ONE", "TWO", "THREE", "QUORUM", "LOCAL_QUORUM", "EACH_QUORUM", "ALL", "LOCAL_ONE"]


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore")


def node_address(host: str, node: int) -> str:
    """The loopback-style address of local node ``node`` (0-based): ``host`` with its last octet
    raised by ``node`` (127.0.0.1 -> 127.0.0.2, 127.0.0.3). Node 0 is ``host`` itself."""
    if node == 0:
        return host
    head, _, last = host.rpartition(".")
    if not head or not last.isdigit() or int(last) + node > 254:
        raise ValueError(f"cannot derive the address of node {node + 1} from host {host!r}: "
                         "give an IPv4 address whose last octet leaves room for every node")
    return f"{head}.{int(last) + node}"


class KafkaSettings(BaseSettings):
    """Kafka: the local KRaft broker, or any cluster named by ``bootstrap``."""

    model_config = _config("UCID_KAFKA_")

    host: str = Field("127.0.0.1", description="address the local broker binds to")
    port: int = Field(9092, description="broker (client) port of the local broker")
    controller_port: int = Field(9093, description="KRaft controller port of the local broker")
    heap: str = Field("512m", description="JVM heap of the local broker (-Xmx/-Xms)")
    bootstrap: str | None = Field(
        None, description="bootstrap servers of an existing cluster; unset = the local broker"
    )
    topic_prefix: str = Field("ucid.", description="prefix of every topic ucid creates")
    replication_factor: int = Field(1, ge=1, description="replication factor of created topics")
    min_insync_replicas: int | None = Field(
        None, ge=1, description="min.insync.replicas of created topics (and of the local brokers); unset = "
        "the broker's default of 1 for replication 1, else replication - 1 (2 of 3)"
    )
    nodes: int = Field(
        1, ge=1, le=9, description="local brokers `stack up` starts (set by UCID_STACK_NODES): broker i on "
        "`host` with its last octet + i, same ports, all of them KRaft controllers"
    )
    start_timeout_s: float = Field(120, description="how long `stack up` waits for the broker")

    def node_host(self, node: int) -> str:
        return node_address(self.host, node)

    @property
    def node_hosts(self) -> list[str]:
        return [self.node_host(i) for i in range(self.nodes)]

    @property
    def min_isr(self) -> int | None:
        """min.insync.replicas to set on topics; None = leave the broker's default (one node)."""
        if self.min_insync_replicas is not None:
            return self.min_insync_replicas
        return None if self.replication_factor == 1 else max(1, self.replication_factor - 1)

    @property
    def bootstrap_servers(self) -> str:
        return self.bootstrap or ",".join(f"{h}:{self.port}" for h in self.node_hosts)


class CassandraSettings(BaseSettings):
    """Cassandra: the local single node, or any cluster named by ``contact_points``."""

    model_config = _config("UCID_CASSANDRA_")

    host: str = Field("127.0.0.1", description="address the local node binds to")
    port: int = Field(9042, description="CQL native port")
    storage_port: int = Field(7000, description="inter-node port of the local node")
    jmx_port: int = Field(7199, description="JMX port of the local node (loopback only)")
    heap: str = Field("1G", description="JVM heap of the local node (-Xmx/-Xms)")
    contact_points: list[str] | None = Field(
        None, description="contact points of an existing cluster (JSON list); unset = local node"
    )
    keyspace: str = Field("ucid", pattern=r"^[a-z][a-z0-9_]{0,47}$", description="keyspace name")
    replication: dict[str, str | int] = Field(
        default_factory=lambda: {"class": "SimpleStrategy", "replication_factor": 1},
        description="keyspace replication map (JSON), e.g. NetworkTopologyStrategy per data center",
    )
    read_consistency: Consistency = Field(
        "LOCAL_ONE", description="consistency level of reads; unset = LOCAL_ONE with replication 1, LOCAL_QUORUM "
        "when the keyspace keeps more replicas (reads then see every LOCAL_QUORUM write, also with a node down)"
    )
    write_consistency: Consistency = Field("LOCAL_QUORUM", description="consistency of writes")
    protocol_version: int = Field(5, ge=3, le=6, description="CQL native protocol version")
    username: str | None = Field(None, description="user name, if the cluster needs auth")
    password: str | None = Field(None, description="password, if the cluster needs auth")
    nodes: int = Field(
        1, ge=1, le=9, description="local nodes `stack up` starts (set by UCID_STACK_NODES): node i on `host` "
        "with its last octet + i, same ports but JMX (jmx_port + i, JMX binds the loopback)"
    )
    start_timeout_s: float = Field(240, description="how long `stack up` waits for the node")

    @model_validator(mode="after")
    def _quorum_reads_when_replicated(self) -> CassandraSettings:
        # LOCAL_ONE on replicas written at LOCAL_QUORUM may read a replica the write has not
        # reached: the speed layer would not see its own identifiers. Only the default changes.
        if "read_consistency" not in self.model_fields_set and self.max_replicas > 1:
            self.read_consistency = "LOCAL_QUORUM"
        return self

    @property
    def max_replicas(self) -> int:
        """The largest replication factor of the keyspace's replication map (per data center)."""
        counts = [int(m.group()) for k, v in self.replication.items() if k != "class"
                  for m in [re.match(r"\d+", str(v))] if m]
        return max(counts, default=1)

    def node_host(self, node: int) -> str:
        return node_address(self.host, node)

    def node_jmx_port(self, node: int) -> int:
        return self.jmx_port + node

    @property
    def hosts(self) -> list[str]:
        """The driver's contact points: ``contact_points``, else every local node."""
        return self.contact_points or [self.node_host(i) for i in range(self.nodes)]


class SparkSettings(BaseSettings):
    """Spark: local mode by default; set ``master`` to run the same jobs on a cluster."""

    model_config = _config("UCID_SPARK_")

    master: str = Field("local[2]", description="Spark master URL")
    driver_memory: str = Field("4g", description="driver memory (local mode: all of Spark)")
    shuffle_partitions: int | None = Field(
        None, ge=1, description="spark.sql.shuffle.partitions (also the default parallelism and Delta's "
        "snapshot partitions); unset = the cores of a local master, else 200"
    )
    ui: bool = Field(False, description="start the Spark UI")
    adaptive: bool | None = Field(
        None, description="spark.sql.adaptive.enabled (AQE); unset = off for a local master, on elsewhere"
    )
    extra_conf: dict[str, str] = Field(default_factory=dict, description="more Spark conf (JSON)")
    checkpoint_replicas: int = Field(
        1, ge=1, le=3, description="copies of each local checkpoint the batch takes (in different executors): "
        "1 = Spark's default, lost with its executor (the job fails); 2 = an executor may die"
    )
    remote: str | None = Field(
        None, description="a Spark Connect server (sc://host:port): every session is its client and "
        "shares its warm JVM; unset = the local server if `server`, else an in-process Spark of `master`",
    )
    server: bool = Field(
        False, description="`ucid stack up` starts a local Spark Connect server (of `master`, "
        "`driver_memory`, with Delta) that every session then uses",
    )
    connect_port: int = Field(15002, description="port of the local Spark Connect server (loopback)")
    start_timeout_s: float = Field(180, description="how long `stack up` waits for the Spark server")

    def session_conf(self) -> dict[str, str]:
        """The Spark settings a session may change at run time (the rest belong to the JVM: the
        local session builder's, or the Spark Connect server's)."""
        # Delta rebuilds a table's snapshot with snapshotPartitions tasks (default 50): far too
        # many for a small local lake, where it dominated every read; it follows the shuffle setting
        return {
            "spark.sql.shuffle.partitions": str(self.partitions),
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.sources.partitionOverwriteMode": "dynamic",
            "spark.databricks.delta.schema.autoMerge.enabled": "false",
            "spark.sql.adaptive.enabled": str(self.adaptive_enabled).lower(),
            "spark.databricks.delta.snapshotPartitions": str(self.partitions),
            # a table's file listing (VACUUM's above all) runs as one Spark job of this many tasks,
            # 10000 by default: 20-35 s per VACUUM of a small table on 2 cores, 3 s with this
            "spark.sql.sources.parallelPartitionDiscovery.parallelism": str(self.partitions),
        }

    @property
    def remote_url(self) -> str | None:
        """The Spark Connect server sessions use: ``remote``, else the local one if ``server``."""
        if self.remote:
            return self.remote
        return f"sc://127.0.0.1:{self.connect_port}" if self.server else None

    def _local_cores(self) -> int | None:
        """The cores of a ``local`` / ``local[N]`` / ``local[*]`` master, or of a
        ``local-cluster[executors,cores,memory]`` one (separate executor JVMs, one machine still);
        ``None`` for a cluster."""
        many = re.fullmatch(r"local-cluster\[\s*(\d+)\s*,\s*(\d+)\s*,\s*\d+\s*\]", self.master.strip())
        if many is not None:
            return int(many.group(1)) * int(many.group(2))
        local = re.fullmatch(r"local(?:\[(\d+|\*)(?:,\s*\d+)?\])?", self.master.strip())
        if local is None:
            return None
        cores = local.group(1)
        if cores == "*":
            return os.cpu_count() or 1
        return int(cores) if cores else 1  # plain "local" is one core

    @property
    def partitions(self) -> int:
        """``shuffle_partitions``, else one per core of a ``local[N]`` / ``local[*]`` master (on
        one machine every extra task of a small job is pure overhead: measured, 8 -> 2 halved the
        pipeline's task time), else Spark's default of 200 (AQE coalesces them on a cluster)."""
        if self.shuffle_partitions is not None:
            return self.shuffle_partitions
        cores = self._local_cores()
        return 200 if cores is None else cores

    @property
    def adaptive_enabled(self) -> bool:
        """``adaptive``, else off for a local master: with one partition per core AQE has nothing
        to coalesce, and re-planning each shuffle stage as a job of its own costs (measured on
        ingest..profiles of 1,000 customers: 255 Spark jobs with it, 146 without, 118 s -> 108 s);
        on a cluster (200 partitions, skewed joins) it pays."""
        if self.adaptive is not None:
            return self.adaptive
        return self._local_cores() is None


class BatchSettings(BaseSettings):
    """How the batch pipeline runs; paths come from :class:`infra.settings.Settings`."""

    model_config = _config("UCID_BATCH_")

    local_cc_max_edges: int = Field(
        200_000,
        ge=0,
        description="graphs with at most this many edges get connected components on the driver "
        "(scipy); larger ones run distributed (see cc_chunk_edges); 0 = always Spark",
    )
    cc_chunk_edges: int = Field(
        2_000_000,
        ge=0,
        description="distributed connected components: each Spark task first labels a chunk of this "
        "many edges with scipy (about 100 MB of a Python worker per million edges), then "
        "large-star/small-star rounds solve what crosses chunks; 0 = star rounds on the whole graph",
    )
    cc_max_iterations: int = Field(60, ge=1, description="give up (error) after this many CC rounds")
    speed_state: bool = Field(
        True, description="take the speed layer's real-time UCIDs (Cassandra rows with layer 'speed') as "
        "part of the previous state, so both layers answer with the same UCID; needs Cassandra"
    )
    publish_lag_s: int = Field(
        60, ge=0, description="publish timestamp = snapshot minus this lag (>= the speed layer's flush)"
    )
    publish_concurrency: int = Field(64, ge=1, description="in-flight Cassandra writes per writer task")
    publish_all: bool = Field(
        False, description="publish every row, not only those that changed since the last complete publish "
        "into the keyspace (which the lake and the keyspace both record)"
    )
    ingest_threads: int = Field(
        4, ge=1, description="sources ingested at once (each its own Spark jobs): a source's file listing, "
        "job planning and Delta commit overlap another's work"
    )
    max_quarantine_rate: float = Field(
        0.05, ge=0, le=1, description="validation fails if more than this share of a load is quarantined"
    )
    max_cluster_records: int = Field(
        1000, ge=1, description="validation fails if one UCID holds more records than this"
    )
    validate_in_memory_rows: int = Field(
        500_000, ge=0,
        description="a lake table or view of at most this many rows is validated in the driver: its "
        "columns the suite names are collected once (Arrow) and Great Expectations checks them with "
        "pandas; larger ones are validated on Spark; 0 = always Spark",
    )


class SpeedSettings(BaseSettings):
    """How ``ucid speed run`` consumes, stitches and writes; see README "Speed layer"."""

    model_config = _config("UCID_SPEED_")

    group_id: str = Field("ucid-speed", description="Kafka consumer group of `ucid speed run`")
    topic: str = Field("events", description="topic name in infra/topics.yaml (the prefix is added)")
    dlq_topic: str = Field("events.dlq", description="dead-letter topic (prefix added)")
    triggers_topic: str = Field("triggers", description="trigger events topic (prefix added)")
    changes_topic: str = Field("identity-changes", description="merges topic (prefix added)")
    segments_topic: str = Field("segment-changes", description="segment membership changes topic (prefix added)")
    segments_now: int | None = Field(
        None, ge=0, description="evaluate traits and segments at this fixed time (epoch seconds) instead of each "
        "poll's processing time: replays and the agreement test (the batch's `--now`)")
    max_batch: int = Field(2000, ge=1, description="max records per poll (one batch, one commit): the work is "
                           "done per poll, in a few rounds of requests whatever its size")
    poll_timeout_ms: int = Field(100, ge=1, description="poll timeout")
    partition_fetch_bytes: int = Field(
        262_144, ge=1024,
        description="max bytes fetched per partition at a time: small enough that one poll spans "
        "several partitions (a poll's partitions are stitched and written together)",
    )
    session_timeout_ms: int = Field(
        10_000, ge=6_000, description="a crashed member's partitions move to the others after this"
    )
    metadata_max_age_ms: int = Field(
        30_000, ge=1_000,
        description="how often the consumer refreshes topic metadata: new partitions are consumed within this",
    )
    max_poll_interval_ms: int = Field(
        60_000, ge=10_000,
        description="longest a batch may take between two polls; also how long a rebalance waits for "
        "members to rejoin",
    )
    lock_ttl_s: int = Field(5, ge=1, description="lease of an identity lock; a crashed holder's expires")
    stitch_timeout_s: float = Field(30.0, gt=0, description="how long one event may wait for identity locks")
    recent_events: int = Field(20, ge=1, description="bounded recent-events timeline per profile shard")
    cache_size: int = Field(500_000, ge=0, description="identifiers kept in the in-process cache")
    lease_buckets: int = Field(16, ge=0, description="identity leases are taken per bucket of names, one "
                               "lightweight transaction each (fewer: cheaper polls; more: processes wait on "
                               "each other less); 0 = one lease per identifier and UCID")
    metrics_port: int = Field(0, ge=0, description="Prometheus /metrics port; 0 = off")
    progress_s: float = Field(10.0, gt=0, description="seconds between progress log lines")
    schema_file: Path | None = Field(None, description="event JSON Schema; unset = CONF_DIR/events/event.schema.json")
    triggers_file: Path | None = Field(None, description="trigger rules; unset = CONF_DIR/events/triggers.yaml")
    concurrency: int = Field(32, ge=1, description="concurrent Cassandra requests per batch")
    max_event_bytes: int = Field(
        65_536, ge=1024,
        description="largest event (message bytes) applied; a larger one is dead-lettered before it is decoded",
    )
    max_attribute_bytes: int = Field(
        8_192, ge=64,
        description="largest attribute value (UTF-8 bytes of a string) of an event; a larger one "
        "dead-letters the event, so no profile or timeline serves it back",
    )

    def schema_path(self, conf_dir: Path) -> Path:
        """The event JSON Schema in force: ``schema_file``, else the one in ``conf_dir``."""
        return self.schema_file or conf_dir / "events/event.schema.json"

    def triggers_path(self, conf_dir: Path) -> Path:
        """The trigger rules in force: ``triggers_file``, else the ones in ``conf_dir``."""
        return self.triggers_file or conf_dir / "events/triggers.yaml"


BATCH_ITEM_BYTES = 4096
"""Most bytes one identifier of a valid batch body can take: 320 characters (type and value at
their maximum), each JSON-escaped as a surrogate pair (12 bytes), plus the punctuation."""


class ServingSettings(BaseSettings):
    """How the API listens, how much it accepts per call, and how it reads Cassandra."""

    model_config = _config("UCID_SERVING_")

    host: str = Field("127.0.0.1", description="address uvicorn binds to")
    port: int = Field(8000, ge=1, le=65535, description="port uvicorn listens on")
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes")
    batch_max: int = Field(100, ge=1, le=1000, description="most identifiers in one batch resolve call")
    events_page_max: int = Field(200, ge=1, le=1000, description="most events in one timeline page")
    events_page_default: int = Field(20, ge=1, le=1000, description="timeline page size when not asked")
    max_body_bytes: int = Field(
        1_048_576, ge=65_536,
        description="largest request body read: a larger Content-Length is answered 413 before the body "
        "is read, a chunked body is cut off with a 413 at this size; keep it above the largest valid "
        "batch (BATCH_MAX identifiers of 320 characters, JSON-escaped: ~4 KiB each)",
    )
    read_consistency: Consistency | None = Field(
        None, description="consistency of the API's reads; unset = UCID_CASSANDRA_READ_CONSISTENCY"
    )
    request_timeout_s: float = Field(2.0, gt=0, description="Cassandra request timeout of one read")
    key_cache_ttl_s: float = Field(
        30.0, ge=0, description="how long a checked API key is trusted in-process (a revocation "
        "takes at most this long to apply)"
    )
    retry_after_s: int = Field(2, ge=1, description="Retry-After advised when Cassandra is unavailable")
    reconnect_interval_s: float = Field(5.0, gt=0, description="pause between connection attempts")
    log_requests: bool = Field(False, description="log one line per request (the access log)")
    coalesce_max: int = Field(
        32, ge=1, le=1000, description="most identifier reads of one type that arrive in the same "
        "event-loop turn and are fetched in one Cassandra read (IN); 1 = every read on its own"
    )

    @model_validator(mode="after")
    def _body_holds_a_full_batch(self) -> ServingSettings:
        # a body limit below the largest valid batch would refuse requests the schema allows
        need = self.batch_max * BATCH_ITEM_BYTES + 1024
        if self.max_body_bytes < need:
            raise ValueError(f"max_body_bytes {self.max_body_bytes} is below the largest valid batch "
                             f"({self.batch_max} identifiers: {need} bytes); raise it or lower batch_max")
        return self

class MatchSettings(BaseSettings):
    """The probabilistic match model (``ucid model train``, ``ucid resolve --model``, the batch)."""

    model_config = _config("UCID_MATCH_")

    spec_file: Path | None = Field(None, description="match model spec; unset = CONF_DIR/match.yaml")
    threads: int = Field(2, ge=1, description="DuckDB threads for scoring (training always uses 1: reproducible)")
    model_file: Path | None = Field(
        None, description="trained model (`ucid model train`) the batch `resolve` links with, besides the exact "
        "rules; unset = exact rules only"
    )

    def spec_path(self, conf_dir: Path) -> Path:
        return self.spec_file or conf_dir / "match.yaml"


class PrivacySettings(BaseSettings):
    """Erasure and its suppression list (docs/privacy.md)."""

    model_config = _config("UCID_PRIVACY_")

    suppression_key: SecretStr = Field(
        SecretStr("ucid-local-suppression-key"),
        description="HMAC key of the suppression list's hashes (identity/suppression.py): the same in "
        "every layer, never changed while the list is in use; set a secret of your own in production "
        "(the default only makes the hashes salted, not secret)",
    )
    vacuum_retention_hours: int = Field(
        168, ge=0, description="Delta VACUUM retention of an erasure's lake step: erased rows leave the "
        "files (and time travel) once this many hours passed since their DELETE; below 168 only with "
        "`--vacuum-now`, which turns Delta's retention check off for that VACUUM",
    )

    def key(self) -> bytes:
        return self.suppression_key.get_secret_value().encode()


class Settings(BaseSettings):
    """Where ucid keeps its files, plus one settings block per external system."""

    model_config = _config("UCID_")

    home: Path = Field(REPO_ROOT / ".ucid", description="root of everything ucid writes locally")
    cache_dir: Path | None = Field(None, description="downloaded jars; default HOME/cache")
    data_dir: Path | None = Field(None, description="server data (Kafka, Cassandra); default HOME/data")
    log_dir: Path | None = Field(None, description="server and job logs; default HOME/logs")
    lake_dir: Path | None = Field(None, description="Delta Lake tables; default HOME/lake")
    landing_dir: Path | None = Field(
        None, description="landing zone the batch layer ingests (source folders); default HOME/landing"
    )
    conf_dir: Path = Field(REPO_ROOT / "conf", description="rules and source definitions")
    log_format: Literal["console", "json"] = Field("console", description="structured log output")
    log_level: str = Field("INFO", description="log level")
    stack_nodes: int = Field(
        1, ge=1, le=9, description="nodes of the local stack (`ucid stack up --nodes N`): N Cassandra nodes and N "
        "Kafka brokers on loopback addresses; with more than one, the defaults change to what a cluster needs "
        "(see NODE_DEFAULTS): replication 3, LOCAL_QUORUM, min.insync.replicas 2, Spark as local-cluster"
    )

    def _for_nodes(self, group: BaseSettings) -> BaseSettings:
        """``group`` with the defaults of a ``stack_nodes``-node stack for every field the
        environment did not set (one node: ``group`` as it is)."""
        if self.stack_nodes == 1:
            return group
        defaults = NODE_DEFAULTS[type(group).__name__](self.stack_nodes)
        update = {k: v for k, v in defaults.items() if k not in group.model_fields_set}
        return group.model_copy(update=update)

    @cached_property
    def kafka(self) -> KafkaSettings:
        return self._for_nodes(KafkaSettings())

    @cached_property
    def cassandra(self) -> CassandraSettings:
        return self._for_nodes(CassandraSettings())

    @cached_property
    def spark(self) -> SparkSettings:
        return self._for_nodes(SparkSettings())

    @cached_property
    def batch(self) -> BatchSettings:
        return BatchSettings()

    @cached_property
    def speed(self) -> SpeedSettings:
        return SpeedSettings()

    @cached_property
    def serving(self) -> ServingSettings:
        return ServingSettings()

    @cached_property
    def match(self) -> MatchSettings:
        return MatchSettings()

    @cached_property
    def privacy(self) -> PrivacySettings:
        return PrivacySettings()

    @property
    def cache(self) -> Path:
        return self.cache_dir or self.home / "cache"

    @property
    def data(self) -> Path:
        return self.data_dir or self.home / "data"

    @property
    def logs(self) -> Path:
        return self.log_dir or self.home / "logs"

    @property
    def lake(self) -> Path:
        """Absolute: a Spark server or worker may run in another directory than the client."""
        return (self.lake_dir or self.home / "lake").absolute()

    @property
    def landing(self) -> Path:
        """Absolute, like :attr:`lake`: the files listed here are matched with the paths Spark
        read them from (a relative landing once matched none, and ingested 0 rows per file)."""
        return (self.landing_dir or self.home / "landing").absolute()

    @property
    def run_dir(self) -> Path:
        """pid files of the processes `stack up` started."""
        return self.home / "run"


NODE_DEFAULTS = {
    # a multi-node stack: quorum reads and writes survive one node of three down
    "CassandraSettings": lambda n: {
        "nodes": n, "heap": "640m",
        "replication": {"class": "NetworkTopologyStrategy", "datacenter1": min(3, n)},
        "read_consistency": "LOCAL_QUORUM", "write_consistency": "LOCAL_QUORUM",
    },
    # acks=all producers then need 2 of 3 replicas in sync: one broker may die
    "KafkaSettings": lambda n: {"nodes": n, "heap": "384m", "replication_factor": min(3, n)},
    # separate executor JVMs (2 of 1 core, 1 GiB each), so code that only works in one JVM fails here
    "SparkSettings": lambda n: {"master": "local-cluster[2,1,1024]", "server": True, "driver_memory": "2g",
                                "checkpoint_replicas": 2},
}
"""The defaults that change when ``UCID_STACK_NODES`` is above 1 (a field set in the environment wins)."""


def get_settings() -> Settings:
    """Read the settings in force now (no caching: tests and commands may change the env)."""
    return Settings()
