"""Typed settings, read from environment variables (and an optional ``.env`` file).

Every external system has its own settings class with its own prefix, so the local stack and a
real cluster are configured the same way: ``UCID_`` for paths, ``UCID_KAFKA_``,
``UCID_CASSANDRA_``, ``UCID_SPARK_``. The README documents every field; ``ucid settings`` prints
the values in force.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

Consistency = Literal["ONE", "TWO", "THREE", "QUORUM", "LOCAL_QUORUM", "EACH_QUORUM", "ALL", "LOCAL_ONE"]


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore")


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
    start_timeout_s: float = Field(120, description="how long `stack up` waits for the broker")

    @property
    def bootstrap_servers(self) -> str:
        return self.bootstrap or f"{self.host}:{self.port}"


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
    read_consistency: Consistency = Field("LOCAL_ONE", description="consistency level of reads")
    write_consistency: Consistency = Field("LOCAL_QUORUM", description="consistency of writes")
    protocol_version: int = Field(5, ge=3, le=6, description="CQL native protocol version")
    username: str | None = Field(None, description="user name, if the cluster needs auth")
    password: str | None = Field(None, description="password, if the cluster needs auth")
    start_timeout_s: float = Field(240, description="how long `stack up` waits for the node")

    @property
    def hosts(self) -> list[str]:
        return self.contact_points or [self.host]


class SparkSettings(BaseSettings):
    """Spark: local mode by default; set ``master`` to run the same jobs on a cluster."""

    model_config = _config("UCID_SPARK_")

    master: str = Field("local[2]", description="Spark master URL")
    driver_memory: str = Field("4g", description="driver memory (local mode: all of Spark)")
    shuffle_partitions: int = Field(8, ge=1, description="spark.sql.shuffle.partitions")
    ui: bool = Field(False, description="start the Spark UI")
    extra_conf: dict[str, str] = Field(default_factory=dict, description="more Spark conf (JSON)")


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

    @cached_property
    def kafka(self) -> KafkaSettings:
        return KafkaSettings()

    @cached_property
    def cassandra(self) -> CassandraSettings:
        return CassandraSettings()

    @cached_property
    def spark(self) -> SparkSettings:
        return SparkSettings()

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
        return self.lake_dir or self.home / "lake"

    @property
    def landing(self) -> Path:
        return self.landing_dir or self.home / "landing"

    @property
    def run_dir(self) -> Path:
        """pid files of the processes `stack up` started."""
        return self.home / "run"


def get_settings() -> Settings:
    """Read the settings in force now (no caching: tests and commands may change the env)."""
    return Settings()
