"""Kafka topics as code: ``infra/topics.yaml``, created idempotently."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from infra.settings import KafkaSettings

TOPICS_FILE = Path(__file__).resolve().parent / "topics.yaml"


class TopicSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9._-]*$")
    description: str = ""
    partitions: int = Field(ge=1)
    retention_ms: int = Field(ge=60_000)
    cleanup_policy: str = "delete"


def specs(path: Path = TOPICS_FILE) -> list[TopicSpec]:
    raw = yaml.safe_load(path.read_text())
    return [TopicSpec.model_validate(t) for t in raw["topics"]]


def topic_name(settings: KafkaSettings, name: str) -> str:
    """The full name of one of ucid's topics (with the configured prefix)."""
    return f"{settings.topic_prefix}{name}"


def ensure(settings: KafkaSettings, path: Path = TOPICS_FILE) -> list[str]:
    """Create missing topics and grow ones with too few partitions; return what changed."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, client_id="ucid-topics")
    try:
        existing = {t["name"]: len(t["partitions"]) for t in admin.describe_topics()}
        changed: list[str] = []
        missing: dict[str, dict] = {}
        for spec in specs(path):
            full = topic_name(settings, spec.name)
            if full not in existing:
                configs = {"retention.ms": str(spec.retention_ms), "cleanup.policy": spec.cleanup_policy}
                if settings.min_isr is not None:  # replicated: acks=all then waits for this many
                    configs["min.insync.replicas"] = str(settings.min_isr)
                missing[full] = {
                    "num_partitions": spec.partitions,
                    "replication_factor": settings.replication_factor,
                    "configs": configs,
                }
                changed.append(f"created {full}")
            elif existing[full] < spec.partitions:
                admin.create_partitions({full: spec.partitions})
                changed.append(f"grew {full} to {spec.partitions} partitions")
        if missing:
            admin.create_topics(missing, wait_for_metadata=True)
        return changed
    finally:
        admin.close()
