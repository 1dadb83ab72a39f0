"""Spark partitions: one per core of a local master unless set, Spark's 200 elsewhere."""

from __future__ import annotations

import os

import pytest

from infra.settings import SparkSettings


@pytest.mark.parametrize(
    ("master", "expected"),
    [("local[2]", 2), ("local[4]", 4), ("local[3,2]", 3), ("local", 1), ("local[*]", os.cpu_count() or 1),
     ("spark://host:7077", 200), ("yarn", 200), ("local-cluster[3,1,1024]", 3)],
)
def test_partitions_follow_the_master(master, expected):
    assert SparkSettings(master=master, _env_file=None).partitions == expected


def test_an_explicit_setting_wins(monkeypatch):
    monkeypatch.setenv("UCID_SPARK_SHUFFLE_PARTITIONS", "16")
    assert SparkSettings(master="local[2]", _env_file=None).partitions == 16
    with pytest.raises(ValueError):
        SparkSettings(shuffle_partitions=0, _env_file=None)


@pytest.mark.parametrize(("master", "expected"), [("local[2]", False), ("local", False), ("local[*]", False),
                                                  ("spark://host:7077", True), ("yarn", True)])
def test_adaptive_execution_is_off_locally_and_on_for_a_cluster(master, expected):
    assert SparkSettings(master=master, _env_file=None).adaptive_enabled is expected


def test_adaptive_execution_can_be_set(monkeypatch):
    monkeypatch.setenv("UCID_SPARK_ADAPTIVE", "true")
    assert SparkSettings(master="local[2]", _env_file=None).adaptive_enabled is True


def test_sessions_are_local_unless_a_server_is_named_or_started(monkeypatch):
    assert SparkSettings(_env_file=None).remote_url is None
    assert SparkSettings(server=True, connect_port=15099, _env_file=None).remote_url == "sc://127.0.0.1:15099"
    monkeypatch.setenv("UCID_SPARK_REMOTE", "sc://spark.example:15002")
    assert SparkSettings(server=True, _env_file=None).remote_url == "sc://spark.example:15002"


def test_session_conf_carries_what_a_connect_session_must_set_itself():
    conf = SparkSettings(master="local[3]", _env_file=None).session_conf()
    assert conf["spark.sql.shuffle.partitions"] == "3"
    assert conf["spark.databricks.delta.snapshotPartitions"] == "3"
    assert conf["spark.sql.sources.parallelPartitionDiscovery.parallelism"] == "3"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.sql.adaptive.enabled"] == "false"
