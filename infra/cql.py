"""Connecting to Cassandra with the configured contact points, auth and consistency."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

from infra.settings import CassandraSettings


def cluster(settings: CassandraSettings, request_timeout_s: float = 10) -> Cluster:
    """A driver ``Cluster`` for the settings (not yet connected)."""
    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
        consistency_level=ConsistencyLevel.name_to_value[settings.read_consistency],
        request_timeout=request_timeout_s,
    )
    auth = (
        PlainTextAuthProvider(settings.username, settings.password or "")
        if settings.username
        else None
    )
    return Cluster(
        settings.hosts,
        port=settings.port,
        auth_provider=auth,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        protocol_version=settings.protocol_version,
        connect_timeout=5,
    )


def write_consistency(settings: CassandraSettings) -> int:
    return ConsistencyLevel.name_to_value[settings.write_consistency]


@contextmanager
def quiet_driver() -> Iterator[None]:
    """Silence the driver's connection-error tracebacks while probing a node that may be down."""
    logger = logging.getLogger("cassandra")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
