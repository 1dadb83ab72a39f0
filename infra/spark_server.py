"""The local Spark Connect server: one long-lived Spark (with Delta) that every session shares.

A new Spark JVM pays its JIT warm-up on every run: the same batch pipeline on 300 customers took
172 s in a fresh JVM and 77 s on its third run in the same one (measured 2026-11-30). With
``UCID_SPARK_SERVER=true`` ``ucid stack up`` starts this server from the pyspark jars (the
``spark-submit`` that pyspark ships, the Delta and Splink jars of ``infra.fetch``), and the CLI,
the Airflow tasks, the notebooks and the tests connect to it (``sc://127.0.0.1:<connect_port>``)
instead of starting their own JVM. Its Python UDF workers run this interpreter with the repository on the
path. Session-level settings (shuffle partitions, time zone, AQE) are set per session
(:meth:`infra.settings.SparkSettings.session_conf`); the rest are the server's.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from infra import fetch, proc
from infra.settings import REPO_ROOT, Settings

MAIN = "org.apache.spark.sql.connect.service.SparkConnectServer"


def managed(settings: Settings) -> proc.Managed:
    return proc.Managed("spark", settings.run_dir, settings.logs / "spark.log")


def _spark_submit() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-submit"


def cluster_env(master: str) -> dict[str, str]:
    """What a ``local-cluster`` master needs besides: its workers build each executor's class
    path from SPARK_HOME/jars (pyspark's, set by its launcher) and ask for the Scala version of a
    source build unless SPARK_SCALA_VERSION names it (a pip-installed pyspark has no build dirs)."""
    if not master.strip().startswith("local-cluster"):
        return {}
    import pyspark

    return {"SPARK_SCALA_VERSION": "2.13", "SPARK_HOME": str(Path(pyspark.__file__).parent)}


def command(settings: Settings) -> list[str]:
    """The ``spark-submit`` line of the server (the launcher execs the JVM in place)."""
    spark = settings.spark
    warehouse = settings.data / "spark" / "warehouse"
    conf = {
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(spark.connect_port),
        "spark.default.parallelism": str(spark.partitions),
        "spark.ui.enabled": str(spark.ui).lower(),
        "spark.ui.showConsoleProgress": "false",
        "spark.log.level": "WARN",
        "spark.sql.warehouse.dir": str(warehouse),
        **spark.session_conf(),
        **spark.extra_conf,
    }
    jars = ",".join(str(j) for j in fetch.spark_jars(settings.cache))  # Delta's, then Splink's
    argv = [str(_spark_submit()), "--class", MAIN, "--name", "ucid-spark", "--master", spark.master,
            "--driver-memory", spark.driver_memory, "--jars", jars,
            "--driver-java-options", f"{managed(settings).marker} -Dderby.system.home={warehouse}"]
    for key, value in conf.items():
        argv += ["--conf", f"{key}={value}"]
    return [*argv, "spark-internal"]


def start(settings: Settings) -> subprocess.Popen:
    env = {"PYSPARK_PYTHON": sys.executable, "PYTHONPATH": str(REPO_ROOT), **cluster_env(settings.spark.master)}
    return proc.start(managed(settings), command(settings), env=env)


def ready(settings: Settings) -> bool:
    """True when the server accepts connections on its port."""
    try:
        with socket.create_connection(("127.0.0.1", settings.spark.connect_port), timeout=2):
            return True
    except OSError:
        return False


def wait_ready(settings: Settings, pid_alive, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive():
            raise RuntimeError("the Spark Connect server exited during start-up")
        if ready(settings):
            return
        time.sleep(1)
    raise TimeoutError(f"the Spark Connect server did not answer within {timeout_s:.0f} s")
