"""Typed settings of the serving layer (environment prefix ``UCID_SERVING_``).

Cassandra connection settings (contact points, auth, keyspace) stay in ``UCID_CASSANDRA_``; this
block holds what only the API needs. ``ucid settings`` does not list it; ``ucid serve --help`` does.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ucid.settings import Consistency


class ServingSettings(BaseSettings):
    """How the API listens, how much it accepts per call, and how it reads Cassandra."""

    model_config = SettingsConfigDict(env_prefix="UCID_SERVING_", env_file=".env", extra="ignore")

    host: str = Field("127.0.0.1", description="address uvicorn binds to")
    port: int = Field(8000, ge=1, le=65535, description="port uvicorn listens on")
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes")
    batch_max: int = Field(100, ge=1, le=1000, description="most identifiers in one batch resolve call")
    events_page_max: int = Field(200, ge=1, le=1000, description="most events in one timeline page")
    events_page_default: int = Field(20, ge=1, le=1000, description="timeline page size when not asked")
    read_consistency: Consistency | None = Field(
        None, description="consistency of the API's reads; unset = UCID_CASSANDRA_READ_CONSISTENCY"
    )
    request_timeout_s: float = Field(2.0, gt=0, description="Cassandra request timeout of one read")
    alias_max_hops: int = Field(5, ge=1, le=50, description="alias hops before a chain counts as broken")
    key_cache_ttl_s: float = Field(
        30.0, ge=0, description="how long a checked API key is trusted in-process (a revocation "
        "takes at most this long to apply)"
    )
    retry_after_s: int = Field(2, ge=1, description="Retry-After advised when Cassandra is unavailable")
    reconnect_interval_s: float = Field(5.0, gt=0, description="pause between connection attempts")
    log_requests: bool = Field(False, description="log one line per request (the access log)")


def get_serving_settings() -> ServingSettings:
    """The serving settings in force now (read from the environment on every call)."""
    return ServingSettings()
