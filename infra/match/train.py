"""Training on DuckDB: lambda from the deterministic rules, u by random sampling, m by EM.

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
from infra.match.model import TrainedModel
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
    step = on_step or (lambda _: None)
    logging.getLogger("splink").setLevel(logging.ERROR)  # untrained levels show in the report
    linker = _linker(table, splink_settings(spec))
    t = spec.training
    step("lambda from the deterministic rules")
    linker.training.estimate_probability_two_random_records_match(
        [block_on(*rule) for rule in t.deterministic_rules], recall=t.deterministic_recall
    )
    step("u by random sampling")
    linker.training.estimate_u_using_random_sampling(max_pairs=t.u_max_pairs, seed=spec.seed)
    for rule in t.em_blocking_rules:
        step(f"m by EM, blocked on {' + '.join(rule)}")
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule))
    splink_model = linker.misc.save_model_to_json()
    step("term frequencies of the training data")
    tf = {}
    for column in tf_columns(splink_model):
        data = linker.table_management.compute_tf_table(column).as_pyarrow_table().to_pydict()
        tf[column] = dict(sorted(zip(data[column], (float(f) for f in data[f"tf_{column}"]), strict=True)))
    report = training_report(splink_model, table.num_rows)
    log.info("match.trained", records=table.num_rows, comparisons=len(spec.comparisons),
             lam=report["probability_two_random_records_match"])
    return TrainedModel(splink_model, spec, report, tf)


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
