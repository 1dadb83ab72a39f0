"""Typed settings of the speed layer (environment variables ``UCID_SPEED_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ucid.settings import REPO_ROOT


class SpeedSettings(BaseSettings):
    """How ``ucid speed run`` consumes, stitches and writes; see README "Speed layer"."""

    model_config = SettingsConfigDict(env_prefix="UCID_SPEED_", env_file=".env", extra="ignore")

    group_id: str = Field("ucid-speed", description="Kafka consumer group of `ucid speed run`")
    topic: str = Field("events", description="topic name in infra/topics.yaml (the prefix is added)")
    dlq_topic: str = Field("events.dlq", description="dead-letter topic (prefix added)")
    triggers_topic: str = Field("triggers", description="trigger events topic (prefix added)")
    changes_topic: str = Field("identity-changes", description="merges topic (prefix added)")
    max_batch: int = Field(500, ge=1, description="max records per poll (one batch, one commit)")
    poll_timeout_ms: int = Field(100, ge=1, description="poll timeout")
    partition_fetch_bytes: int = Field(
        32_768, ge=1024,
        description="max bytes fetched per partition at a time: small enough that one poll spans "
        "several partitions, which are then processed in parallel (a partition is in offset order)",
    )
    session_timeout_ms: int = Field(
        10_000, ge=6_000, description="a crashed member's partitions move to the others after this"
    )
    lock_ttl_s: int = Field(5, ge=1, description="lease of an identity lock; a crashed holder's expires")
    stitch_timeout_s: float = Field(30.0, gt=0, description="how long one event may wait for identity locks")
    recent_events: int = Field(20, ge=1, description="bounded recent-events timeline per profile shard")
    cache_size: int = Field(500_000, ge=0, description="identifiers kept in the in-process cache")
    metrics_port: int = Field(0, ge=0, description="Prometheus /metrics port; 0 = off")
    progress_s: float = Field(10.0, gt=0, description="seconds between progress log lines")
    schema_file: Path = Field(REPO_ROOT / "conf/events/event.schema.json", description="event JSON Schema")
    triggers_file: Path = Field(REPO_ROOT / "conf/events/triggers.yaml", description="trigger rules")
    concurrency: int = Field(32, ge=1, description="concurrent Cassandra requests per batch")
