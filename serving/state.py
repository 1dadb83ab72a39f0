"""What one API process holds: settings, the identity policy, the consent vocabulary, the store and
the key cache."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from identity.consents import Vocabulary
from identity.rules import Policy
from identity.segments import Definitions
from infra.settings import CassandraSettings, ServingSettings
from infra.store.aio import ApiReads
from serving.errors import unavailable
from serving.keys import KeyCache


@dataclass
class AppState:
    """Per-process state, opened in the lifespan; ``store`` is ``None`` until Cassandra answers."""

    serving: ServingSettings
    cassandra: CassandraSettings
    policy: Policy
    key_cache: KeyCache
    store: ApiReads | None = None
    connect_error: str | None = None
    schema_version: int | None = None
    consents: Vocabulary | None = None  # conf/consents.yaml
    trigger_rules: tuple = ()  # serving.triggers.Rule of the speed layer's trigger file
    trigger_shards: tuple[int, ...] = ()  # partitions of the events topic
    suppression_key: bytes = b""  # UCID_PRIVACY_SUPPRESSION_KEY: the erasure's hashes
    segments: Definitions | None = None  # conf/segments.yaml (None: the file is absent)

    def require_store(self) -> ApiReads:
        """The store, or a 503 with retry advice while Cassandra is not connected."""
        if self.store is None:
            raise unavailable(f"Cassandra is not connected ({self.connect_error or 'connecting'})",
                              self.serving.retry_after_s)
        return self.store


def state_of(request: Request) -> AppState:
    return request.app.state.ucid
