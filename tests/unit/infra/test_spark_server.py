"""The Spark Connect server's command line: Delta on, loopback port, the stack's marker."""

from __future__ import annotations

from pathlib import Path

from infra import spark_server
from infra.settings import Settings


def _settings(tmp_path: Path, monkeypatch) -> Settings:
    monkeypatch.setattr(spark_server.fetch, "jars", lambda cache, component: [Path("/jars/delta-spark.jar")])
    monkeypatch.setattr(spark_server.fetch, "splink_jar", lambda: Path("/jars/splink-udf.jar"))
    for key, value in {"SERVER": "true", "CONNECT_PORT": "15123", "MASTER": "local[2]",
                       "EXTRA_CONF": '{"spark.x": "1"}'}.items():
        monkeypatch.setenv(f"UCID_SPARK_{key}", value)
    return Settings(home=tmp_path, _env_file=None)


def test_command_runs_the_connect_server_with_delta_on_loopback(tmp_path, monkeypatch):
    settings = _settings(tmp_path, monkeypatch)
    argv = spark_server.command(settings)
    assert argv[0].endswith("pyspark/bin/spark-submit") and argv[-1] == "spark-internal"
    assert argv[argv.index("--class") + 1] == spark_server.MAIN
    assert argv[argv.index("--master") + 1] == "local[2]"
    assert argv[argv.index("--jars") + 1] == "/jars/delta-spark.jar,/jars/splink-udf.jar"
    confs = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--conf")
    assert confs["spark.connect.grpc.binding.address"] == "127.0.0.1"
    assert confs["spark.connect.grpc.binding.port"] == "15123"
    assert confs["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert confs["spark.sql.shuffle.partitions"] == "2" and confs["spark.x"] == "1"
    assert spark_server.managed(settings).marker in argv[argv.index("--driver-java-options") + 1]


def test_not_ready_when_nothing_listens(tmp_path, monkeypatch):
    settings = _settings(tmp_path, monkeypatch)
    assert spark_server.ready(settings) is False


def test_the_splink_jar_ships_in_the_splink_wheel():
    from infra import fetch

    jar = fetch.splink_jar()
    assert jar.is_file() and jar.name.startswith("scala-udf-similarity-") and jar.name.endswith("_spark4.x.jar")
