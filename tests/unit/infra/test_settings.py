"""Settings are typed, prefixed environment variables."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from infra.settings import Settings


def test_defaults_point_at_the_local_stack(monkeypatch):
    for var in ("UCID_KAFKA_BOOTSTRAP", "UCID_CASSANDRA_CONTACT_POINTS", "UCID_HOME"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert s.cassandra.hosts == ["127.0.0.1"]
    assert s.cache == s.home / "cache"


def test_environment_overrides_each_block(monkeypatch, tmp_path):
    monkeypatch.setenv("UCID_HOME", str(tmp_path))
    monkeypatch.setenv("UCID_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    monkeypatch.setenv("UCID_CASSANDRA_CONTACT_POINTS", '["c1", "c2"]')
    monkeypatch.setenv("UCID_CASSANDRA_REPLICATION", '{"class": "NetworkTopologyStrategy", "dc1": 3}')
    monkeypatch.setenv("UCID_SPARK_MASTER", "spark://m:7077")
    s = Settings()
    assert s.data == tmp_path / "data"
    assert s.kafka.bootstrap_servers == "k1:9092,k2:9092"
    assert s.cassandra.hosts == ["c1", "c2"]
    assert s.cassandra.replication["dc1"] == 3
    assert s.spark.master == "spark://m:7077"


def test_bad_values_are_rejected_with_the_field_named(monkeypatch):
    monkeypatch.setenv("UCID_CASSANDRA_READ_CONSISTENCY", "MOST")
    with pytest.raises(ValidationError, match="read_consistency"):
        Settings().cassandra


def test_a_relative_lake_or_landing_is_made_absolute(monkeypatch, tmp_path) -> None:
    """The batch matches the landing files it lists with the paths Spark read them from, and a
    Spark server may run elsewhere: relative directories are taken from the current one."""
    from infra.settings import Settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UCID_LANDING_DIR", "in/landing")
    monkeypatch.setenv("UCID_LAKE_DIR", "out/lake")
    settings = Settings()
    assert settings.landing == tmp_path / "in" / "landing" and settings.lake == tmp_path / "out" / "lake"
