"""What the analysts' notebooks (``notebooks/``) share: a Spark session on a lake, and reading a table.

``open_lake()`` reads the lake of the settings in force (``UCID_LAKE_DIR``, default
``.ucid/lake``); ``open_lake(path)`` any other lake, e.g. the small one the notebook test builds.
"""

from __future__ import annotations

from pathlib import Path

from batch.tables import Lake


def open_lake(lake_dir: str | Path | None = None, app_name: str = "ucid-notebook"):
    """``(spark, lake)``: the one Spark session (:func:`batch.spark.spark_session`) and the
    table paths of the lake at ``lake_dir`` (None: the settings' lake)."""
    from batch.spark import spark_session
    from infra.settings import get_settings

    settings = get_settings()
    if lake_dir is not None:
        settings = settings.model_copy(update={"lake_dir": Path(lake_dir)})
    lake = Lake(settings.lake)
    if not Path(lake.gold("profiles")).exists():
        raise FileNotFoundError(f"no gold tables under {lake.root}: run `ucid batch run` first (or pass lake_dir)")
    return spark_session(settings, app_name=app_name), lake


def read(spark, path: str):
    """The Delta table at ``path`` as a Spark DataFrame."""
    return spark.read.format("delta").load(path)
