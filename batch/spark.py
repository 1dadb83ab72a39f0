"""The one Spark session factory: Delta Lake configured from the cached jars, never re-resolved.

``delta-spark``'s own helper sets ``spark.jars.packages`` and resolves through Ivy at every start;
we fetch the Delta jars once (``infra.fetch``) and hand them to Spark as ``spark.jars``, with
Splink's similarity functions (the match model's scoring on Spark, :mod:`infra.match.spark_predict`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from infra import fetch
from infra.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def spark_session(settings: Settings, app_name: str = "ucid") -> SparkSession:
    """Build (or return the running) Spark session with Delta Lake enabled.

    Local mode by default (``UCID_SPARK_MASTER``); on a cluster the same code runs with another
    master URL. The session time zone is UTC so that event times mean the same on every machine.
    """
    from pyspark.sql import SparkSession

    spark_conf = settings.spark
    _checkpoint_copies(spark_conf.checkpoint_replicas)
    if spark_conf.remote_url:
        return _remote_session(settings)
    jars = fetch.spark_jars(settings.cache)
    warehouse = settings.lake / "_warehouse"
    builder = (
        SparkSession.builder.appName(app_name)
        .master(spark_conf.master)
        .config("spark.jars", ",".join(str(j) for j in jars))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.default.parallelism", str(spark_conf.partitions))
        .config("spark.driver.memory", spark_conf.driver_memory)
        .config("spark.ui.enabled", str(spark_conf.ui).lower())
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
    )
    for key, value in settings.spark.session_conf().items():
        builder = builder.config(key, value)
    for key, value in spark_conf.extra_conf.items():
        builder = builder.config(key, value)
    # the driver's Python must be the project's interpreter, also for workers in local mode
    os.environ.setdefault("PYSPARK_PYTHON", _python())
    from infra.spark_server import cluster_env

    for key, value in cluster_env(spark_conf.master).items():
        os.environ.setdefault(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session


def _checkpoint_copies(replicas: int) -> None:
    """Every ``localCheckpoint`` of the batch layer keeps ``replicas`` copies (memory and disk)."""
    from batch.tables import CHECKPOINT

    CHECKPOINT.clear()
    if replicas > 1:
        from pyspark import StorageLevel

        CHECKPOINT["storageLevel"] = StorageLevel(True, True, False, False, replicas)


def connect_main_guard() -> None:
    """Let ``pyspark.sql.connect`` import in any host process.

    On import it checks ``__main__``: one without ``__spec__`` and ``__file__`` (and no
    interactive prompt) is taken for a doctest run, and the process exits (``SystemExit 0``);
    one without a ``__spec__`` attribute at all raises. A Jupyter kernel's ``__main__`` (IPython's
    ``DummyMod``) and a pytest-xdist worker's (execnet) are both of these. Giving such a
    ``__main__`` a ``__spec__`` of None and a placeholder ``__file__`` changes nothing else.
    """
    import sys

    main = sys.modules.get("__main__")
    if main is None:
        return
    if not hasattr(main, "__spec__"):
        main.__spec__ = None
    if main.__spec__ is None and not hasattr(main, "__file__"):
        main.__file__ = f"<{type(main).__name__} of {sys.argv[0] if sys.argv else 'python'}>"


def _remote_session(settings: Settings) -> SparkSession:
    """A Spark Connect session on the server of ``remote_url``, configured like a local one."""
    connect_main_guard()
    from pyspark.sql import SparkSession

    session = SparkSession.builder.remote(settings.spark.remote_url).getOrCreate()
    for key, value in settings.spark.session_conf().items():
        session.conf.set(key, value)
    return session


def _python() -> str:
    import sys

    return sys.executable
