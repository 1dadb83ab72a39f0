"""Connecting to Cassandra with the configured contact points, auth and consistency."""

from __future__ import annotations

import logging
from collections import namedtuple
from collections.abc import Iterator
from contextlib import contextmanager

from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy, WhiteListRoundRobinPolicy
from cassandra.query import named_tuple_factory

from infra.settings import CassandraSettings


_ROW_CLASSES: dict[tuple[str, ...], type] = {}


def row_factory(colnames: list[str], rows: list) -> list:
    """The driver's ``named_tuple_factory``, with each column list's ``Row`` class made once:
    the driver's makes a new namedtuple class for every result, which costs more than reading a
    small result. Column lists the driver would have to rename fall back to its factory."""
    key = tuple(colnames)
    row_class = _ROW_CLASSES.get(key)
    if row_class is None:
        try:
            row_class = namedtuple("Row", key)
        except ValueError:
            return named_tuple_factory(colnames, rows)
        if len(_ROW_CLASSES) >= 1024:
            _ROW_CLASSES.clear()
        _ROW_CLASSES[key] = row_class
    return [row_class(*row) for row in rows]


def cluster(settings: CassandraSettings, request_timeout_s: float = 10, only_host: str | None = None) -> Cluster:
    """A driver ``Cluster`` for the settings (not yet connected): every contact point, requests
    token-aware (to a replica); ``only_host``: that node alone (probing one node of several)."""
    policy = (WhiteListRoundRobinPolicy([only_host]) if only_host
              else TokenAwarePolicy(DCAwareRoundRobinPolicy()))
    profile = ExecutionProfile(
        load_balancing_policy=policy,
        consistency_level=ConsistencyLevel.name_to_value[settings.read_consistency],
        request_timeout=request_timeout_s,
        row_factory=row_factory,
    )
    auth = (
        PlainTextAuthProvider(settings.username, settings.password or "")
        if settings.username
        else None
    )
    return Cluster(
        [only_host] if only_host else settings.hosts,
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
