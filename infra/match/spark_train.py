"""Training on Spark: the steps of :func:`infra.match.train.estimate` on Splink's ``SparkAPI``.

The model must mean on Spark what it means on DuckDB, and its file must be the one
``ucid model train --local`` writes:

* Jaro-Winkler is DuckDB's (:func:`infra.match.spark_predict.register_similarity`), so a pair
  falls on the same level on both backends and EM counts the same agreements;
* u is counted over every sampled pair at once (:data:`U_CHUNKS`), where DuckDB may stop
  a comparison early: on the test's lake this is the one difference to the local model (the
  first name's levels, 0.057 of a match weight at most; lambda is equal);
* the trained Spark settings are turned back into DuckDB SQL
  (:func:`infra.match.splink_settings.trained_settings` with ``"duckdb"``): built again from
  the spec, lambda, m and u copied level by level. The file therefore scores with
  ``ucid resolve --local --model`` and, rebuilt for Spark the same way, in the batch;
* the training data's term frequencies are computed by the Spark linker with Splink's own SQL
  (:func:`infra.match.train.term_frequencies`, the local training's step) and kept in the
  sidecar, so the Spark-trained model scores a pair the same in the batch, the local command
  and the speed layer (:mod:`infra.match.model`).

Spark Connect works: nothing here reads ``sparkContext`` or an RDD (Splink persists rather than
checkpoints, :mod:`infra.match.spark_predict`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from identity.match import ID_COLUMN, MatchSpec
from infra.match.model import TrainedModel
from infra.match.splink_settings import splink_settings, trained_settings
from infra.match.train import Step, estimate, term_frequencies, trained_model

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

U_CHUNKS = 1
"""u from every sampled pair in one Spark job per comparison, not in DuckDB's 10 chunks with an
early stop (:func:`infra.match.train.estimate`): 7 jobs instead of up to 77, at seconds each."""


def train_on_spark(spark, people: DataFrame, spec: MatchSpec, records: int,
                   on_step: Step | None = None) -> TrainedModel:
    """Fit ``spec`` on ``people`` (``unique_id`` + the spec's columns, ``records`` rows) with
    Splink on Spark; the model's Splink JSON is DuckDB SQL, as a local training writes it.
    ``spec`` should already be restricted to the columns ``people`` fills."""
    from splink import Linker

    from infra.match.spark_predict import splink_on_spark

    with splink_on_spark(spark, people.select(ID_COLUMN, *spec.columns())) as (api, view):
        linker = Linker(api.register(view), splink_settings(spec, "spark"), log_level=None)
        spark_model = estimate(linker, spec, on_step, u_chunks=U_CHUNKS)
        tf = term_frequencies(linker, spark_model, on_step)  # inside: the view is dropped on leaving
    return trained_model(trained_settings(spark_model, spec, "duckdb"), spec, records, "spark", tf)
