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
has not. :func:`predictions` releases what Splink persisted and drops its temporary views: a
long-lived session (the Spark Connect server) would otherwise keep every run's blocked pairs.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pandas as pd  # pandas UDF type hints are resolved in this module

from infra.match.model import TrainedModel
from infra.match.predict import prediction_settings, tf_table
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
        from infra.match.similarity import cached_jaro_winkler as jw

        return pd.Series([jw(a, b) for a, b in zip(left, right, strict=True)], dtype="float64")

    spark.udf.register("jaro_winkler", jaro_winkler)


def _spark_api(spark):
    """Splink's ``SparkAPI`` remembering the frames it may persist, for :func:`predictions` to
    release. Splink persists a table's frame right after ``_repartition_if_needed`` and may
    repartition it once more before naming it (the blocked pairs), so neither its temporary
    views nor a cascade from the input view reach every cached frame (measured: one stayed)."""
    from splink import SparkAPI

    class TrackedSparkAPI(SparkAPI):
        def __init__(self, **kwargs) -> None:
            self.frames: list = []
            super().__init__(**kwargs)

        def _repartition_if_needed(self, spark_df, templated_name):
            out = super()._repartition_if_needed(spark_df, templated_name)
            self.frames.append(out)
            return out

    return TrackedSparkAPI(spark_session=spark, break_lineage_method="persist")


@contextmanager
def splink_on_spark(spark, people: DataFrame) -> Iterator[tuple]:
    """``(api, name)``: Splink's ``SparkAPI`` (:func:`_spark_api`) with DuckDB's Jaro-Winkler
    registered and ``people`` as the temporary view ``name``, for a ``Linker`` (scoring or
    training). On leaving, what Splink persisted is released and its temporary views dropped."""
    logging.getLogger("splink").setLevel(logging.ERROR)  # untrained levels show in the report
    view = VIEW_PREFIX + uuid.uuid4().hex[:12]
    people.createOrReplaceTempView(view)
    api = _spark_api(spark)
    try:
        register_similarity(spark)  # after SparkAPI, which registers the jar's functions
        yield api, view
    finally:
        for frame in api.frames:
            if frame.is_cached:
                frame.unpersist()
        for table in spark.catalog.listTables():
            if table.isTemporary and table.name.startswith((SPLINK_PREFIX, view)):
                spark.catalog.dropTempView(table.name)


@contextmanager
def predictions(spark, people: DataFrame, model: TrainedModel) -> Iterator[DataFrame]:
    """Every blocked pair of ``people`` (``unique_id`` + the spec's columns) scored by ``model``:
    Splink's prediction frame (``unique_id_l`` / ``_r``, ``match_probability``, ``match_weight``,
    each comparison's ``gamma_`` / ``mw_`` / ``mw_tf_adj_`` column and compared values), which
    :func:`infra.match.predict.scored_rows` reads like DuckDB's. Valid inside the ``with``
    block; on leaving it, what Splink persisted is released and its temporary views dropped."""
    from splink import Linker

    with splink_on_spark(spark, people) as (api, view):
        settings = prediction_settings(trained_settings(model.splink, model.spec, "spark"))
        linker = Linker(api.register(view), settings, log_level=None)
        for column, frequencies in sorted((c, f) for c, f in model.tf.items() if f):  # the model's, as on DuckDB
            tf_view = f"{view}_tf_{column}"
            spark.createDataFrame(tf_table(column, frequencies).to_pandas()).createOrReplaceTempView(tf_view)
            linker.table_management.register_term_frequency_lookup(api.register(tf_view), column)
        yield linker.inference.predict(warning_mode="never").as_spark_dataframe()
