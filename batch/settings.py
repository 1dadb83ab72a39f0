"""Typed settings of the batch layer (prefix ``UCID_BATCH_``), documented in the README."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class BatchSettings(BaseSettings):
    """How the batch pipeline runs; paths come from :class:`ucid.settings.Settings`."""

    model_config = SettingsConfigDict(env_prefix="UCID_BATCH_", env_file=".env", extra="ignore")

    local_cc_max_edges: int = Field(
        200_000,
        ge=0,
        description="graphs with at most this many edges get connected components on the driver "
        "(scipy); larger ones run the distributed large-star/small-star algorithm; 0 = always Spark",
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
    max_quarantine_rate: float = Field(
        0.05, ge=0, le=1, description="validation fails if more than this share of a load is quarantined"
    )
    max_cluster_records: int = Field(
        1000, ge=1, description="validation fails if one UCID holds more records than this"
    )
