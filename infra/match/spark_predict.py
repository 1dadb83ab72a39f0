"""Scoring on Spark: Splink's Spark backend over a frame of person rows.

The model is trained on DuckDB and must mean the same on Spark:

* its settings are rebuilt for Spark SQL with the trained parameters
  (:func:`infra.match.splink_settings.trained_settings`): the saved JSON is DuckDB SQL;
* Jaro-Winkler is DuckDB's (:func:`infra.match.similarity.jaro_winkler`, a pandas UDF registered
  as ``jaro_winkler`` over the function of Splink's jar, whose Jaro differs);
* Damerau-Levenshtein is the jar's (on the classpath: :func:`infra.fetch.spark_jars`), which
  agreed with DuckDB's on all of 80,000 sampled value pairs, as did the date differences on
  ``YYYY-MM-DD`` values.

Splink runs with ``break_lineage_method="persist"``: its default (parquet files in the
checkpoint directory) reads the directory through ``sparkContext``, which a Spark Connect session
has not. :func:`release` un-persists and drops what Splink left in the session.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

import pandas as pd  # pandas UDF type hints are resolved in this module

from infra.match.model import TrainedModel
from infra.match.predict import prediction_settings
from infra.match.splink_settings import trained_settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

SPLINK_PREFIX = "__splink__"
VIEW_PREFIX = "ucid_person_rows_"


def register_similarity(spark) -> None:
    """Register DuckDB's Jaro-Winkler as the session's ``jaro_winkler`` (replacing the jar's)."""
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("double")
    def jaro_winkler(left: pd.Series, right: pd.Series) -> pd.Series:
        from infra.match.similarity import jaro_winkler as jw

        return pd.Series([jw(a, b) for a, b in zip(left, right, strict=True)], dtype="float64")

    spark.udf.register("jaro_winkler", jaro_winkler)


def predict(spark, people: DataFrame, model: TrainedModel) -> DataFrame:
    """Every blocked pair of ``people`` (``unique_id`` + the spec's columns) scored by ``model``:
    Splink's prediction frame (``unique_id_l`` / ``_r``, ``match_probability``, ``match_weight``,
    each comparison's ``gamma_`` / ``mw_`` / ``mw_tf_adj_`` column and compared values), which
    :func:`infra.match.predict.scored_rows` reads like DuckDB's. Lazy on the persisted
    intermediate tables; call :func:`release` when done with it."""
    from splink import Linker, SparkAPI

    logging.getLogger("splink").setLevel(logging.ERROR)  # untrained levels show in the report
    view = VIEW_PREFIX + uuid.uuid4().hex[:12]
    people.createOrReplaceTempView(view)
    api = SparkAPI(spark_session=spark, break_lineage_method="persist")
    register_similarity(spark)  # after SparkAPI, which registers the jar's functions
    settings = prediction_settings(trained_settings(model.splink, model.spec, "spark"))
    linker = Linker(api.register(view), settings, log_level=None)
    return linker.inference.predict(warning_mode="never").as_spark_dataframe()


def release(spark) -> None:
    """Un-persist and drop the temporary views Splink and :func:`predict` left in the session
    (a long-lived Spark Connect server would otherwise keep every run's blocked pairs)."""
    for table in spark.catalog.listTables():
        if table.isTemporary and table.name.startswith((SPLINK_PREFIX, VIEW_PREFIX)):
            spark.table(table.name).unpersist()
            spark.catalog.dropTempView(table.name)
