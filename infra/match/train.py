"""Training: lambda from the deterministic rules, u by random sampling, m by EM.

:func:`estimate` runs the steps on a linker of either backend: DuckDB here (:func:`train`),
Spark in :mod:`infra.match.spark_train`.

Deterministic for a given seed and input: u is sampled with Splink's seeded sampler, EM samples
by a hash of the record ids (Splink 5), and the settings carry a fixed ``linker_uid``; a unit
test trains twice and compares the model files. Splink's own log lines are silenced; progress
is reported through ``on_step``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import pyarrow as pa
from splink import DuckDBAPI, Linker, block_on

from identity.match import MatchSpec
from infra.log import get_logger
from infra.match.model import TermFrequencies, TrainedModel
from infra.match.splink_settings import splink_settings

log = get_logger(__name__)

Step = Callable[[str], None]


def _linker(table: pa.Table, settings) -> Linker:
    db_api = DuckDBAPI()
    # one thread: parallel sums in EM differ in the last bits from run to run, and the model
    # file must be the same for the same data and seed (about as fast on 2 cores)
    db_api.duckdb_con.execute("SET threads TO 1")
    return Linker(db_api.register(table), settings, log_level=None)


def train(table: pa.Table, spec: MatchSpec, on_step: Step | None = None) -> TrainedModel:
    """Fit ``spec`` on ``table`` (``unique_id`` + the spec's columns) and return the model.

    ``spec`` should already be :meth:`~identity.match.MatchSpec.restricted_to` the columns the
    table fills. The report holds the record count, lambda and each comparison level's m, u and
    match weight (log2 of m/u), what `ucid model train` prints.
    """
    linker = _linker(table, splink_settings(spec))
    splink_model = estimate(linker, spec, on_step)
    return trained_model(splink_model, spec, table.num_rows, "duckdb", term_frequencies(linker, splink_model, on_step))


def estimate(linker: Linker, spec: MatchSpec, on_step: Step | None = None, u_chunks: int | None = None) -> dict:
    """The training steps on ``linker`` (any backend): lambda from the deterministic rules with
    their assumed recall, u by random sampling with the spec's seed, m by EM on each of the
    spec's EM blocking rules. Returns the linker's model as Splink JSON, in its backend's SQL.

    ``u_chunks``: Splink's ``num_chunks`` for u (default 10: the sampled pairs are compared in
    chunks, and a comparison stops early once each of its levels was seen 100 times). Spark
    passes 1: every sampled pair in one job (a job costs seconds there, a chunk milliseconds
    on DuckDB), which can move a u that DuckDB stops early on a little."""
    step = on_step or (lambda _: None)
    logging.getLogger("splink").setLevel(logging.ERROR)  # untrained levels show in the report
    t = spec.training
    step("lambda from the deterministic rules")
    linker.training.estimate_probability_two_random_records_match(
        [block_on(*rule) for rule in t.deterministic_rules], recall=t.deterministic_recall
    )
    step("u by random sampling")
    chunks = {} if u_chunks is None else {"num_chunks": u_chunks}
    linker.training.estimate_u_using_random_sampling(max_pairs=t.u_max_pairs, seed=spec.seed, **chunks)
    for rule in t.em_blocking_rules:
        step(f"m by EM, blocked on {' + '.join(rule)}")
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule))
    return linker.misc.save_model_to_json()


def term_frequencies(linker: Linker, splink_model: dict, on_step: Step | None = None) -> TermFrequencies:
    """The training data's term frequencies of each column with a term-frequency adjustment
    (:func:`tf_columns`), computed by ``linker`` (any backend: Splink's own SQL, a count over the
    column's non-null values, so DuckDB and Spark give the same doubles). Kept in the model
    file, every backend scores with them (:mod:`infra.match.model`)."""
    (on_step or (lambda _: None))("term frequencies of the training data")
    tf: TermFrequencies = {}
    for column in tf_columns(splink_model):
        data = linker.table_management.compute_tf_table(column).as_pyarrow_table().to_pydict()
        tf[column] = dict(sorted(zip(data[column], (float(f) for f in data[f"tf_{column}"]), strict=True)))
    return tf


def trained_model(splink_model: dict, spec: MatchSpec, records: int, backend: str,
                  tf: TermFrequencies | None = None) -> TrainedModel:
    """The model of a training on ``backend`` (``duckdb`` or ``spark``) over ``records`` person
    rows; ``splink_model`` must be DuckDB SQL (the model file's dialect), ``tf`` the training
    data's term frequencies (:func:`term_frequencies`). The report says where it was trained
    and on how many rows."""
    report = {**training_report(splink_model, records), "backend": backend}
    log.info("match.trained", records=records, backend=backend, comparisons=len(spec.comparisons),
             lam=report["probability_two_random_records_match"])
    return TrainedModel(splink_model, spec, report, dict(tf or {}))


def tf_columns(splink_model: dict) -> list[str]:
    """The input columns of the model's term-frequency adjustments."""
    out = []
    for comp in splink_model["comparisons"]:
        for level in comp["comparison_levels"]:
            column = level.get("tf_adjustment_column")
            if column and column not in out:
                out.append(column)
    return out


def training_report(splink_model: dict, records: int) -> dict:
    """Per comparison level: label, m, u and match weight; ``None`` where a value is missing."""
    comparisons = []
    for comp in splink_model["comparisons"]:
        levels = []
        for lvl in comp["comparison_levels"]:
            if lvl.get("is_null_level"):
                continue
            m, u = lvl.get("m_probability"), lvl.get("u_probability")
            weight = math.log2(m / u) if m and u else None
            levels.append({"label": lvl.get("label_for_charts", ""), "m": m, "u": u, "match_weight": weight})
        comparisons.append({"comparison": comp["output_column_name"], "levels": levels})
    return {
        "records": records,
        "probability_two_random_records_match": splink_model["probability_two_random_records_match"],
        "comparisons": comparisons,
    }
