"""Schema-as-code files are well formed (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import schema, topics


def test_migrations_are_numbered_without_gaps_and_split_into_statements():
    found = schema.migrations()
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    statements = found[0].statements("ks_x")
    assert all("{keyspace}" not in s for s in statements)
    assert any(s.startswith("CREATE TABLE IF NOT EXISTS ks_x.identifiers (") for s in statements)


def test_a_gap_in_migration_versions_is_an_error(tmp_path: Path):
    (tmp_path / "001_a.cql").write_text("CREATE TABLE {keyspace}.a (k int PRIMARY KEY);")
    (tmp_path / "003_c.cql").write_text("CREATE TABLE {keyspace}.c (k int PRIMARY KEY);")
    with pytest.raises(schema.MigrationError, match="without gaps"):
        schema.migrations(tmp_path)


def test_badly_named_migration_is_an_error(tmp_path: Path):
    (tmp_path / "1-a.cql").write_text("")
    with pytest.raises(schema.MigrationError, match="NNN_name.cql"):
        schema.migrations(tmp_path)


def test_replication_map_renders_as_cql():
    cql = schema.replication_cql({"class": "NetworkTopologyStrategy", "dc1": 3})
    assert cql == "{'class': 'NetworkTopologyStrategy', 'dc1': '3'}"


def test_topics_file_is_valid_and_names_are_prefixed():
    from infra.settings import KafkaSettings

    names = [t.name for t in topics.specs()]
    assert {"events", "events.dlq", "triggers", "identity-changes"} <= set(names)
    assert topics.topic_name(KafkaSettings(topic_prefix="x."), "events") == "x.events"
