"""Scoring on DuckDB: every blocked pair of person rows at or above a match-probability floor.

Returns plain rows (ids, probability, weight, each comparison's level, label and weight, and the
compared values) so the caller decides with :func:`identity.match.decide` and builds edges with
:func:`identity.match.match_edges`; nothing here links. :func:`scored_rows` turns Splink's output
into those rows for the Spark backend too (:mod:`infra.match.spark_predict`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pyarrow as pa
from splink import DuckDBAPI, Linker

from identity.match import ID_COLUMN, Level
from infra.log import get_logger
from infra.match.model import TrainedModel

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Scored:
    """One scored pair of person rows (``left < right``)."""

    left: int
    right: int
    probability: float
    weight: float
    levels: tuple[Level, ...]
    values: tuple[tuple[str, str | None, str | None], ...]  # (column, left value, right value)


def level_labels(splink_model: dict) -> dict[str, dict[int, str]]:
    """Comparison -> gamma -> label. Splink numbers the null level -1 and the others from the
    last (the else level, 0) up to the first (the closest agreement)."""
    out: dict[str, dict[int, str]] = {}
    for comp in splink_model["comparisons"]:
        levels = [lvl for lvl in comp["comparison_levels"] if not lvl.get("is_null_level")]
        labels = {len(levels) - 1 - i: lvl.get("label_for_charts", "") for i, lvl in enumerate(levels)}
        labels[-1] = "missing on one side"
        out[comp["output_column_name"]] = labels
    return out


def prediction_settings(splink_settings: dict) -> dict:
    """Settings for scoring: keep each comparison's level, weights and compared values."""
    return {**splink_settings, "retain_matching_columns": True, "retain_intermediate_calculation_columns": True}


def scored_rows(data: dict[str, list], splink_settings: dict) -> list[Scored]:
    """Splink's prediction columns (``data``: column -> values, as ``pyarrow.Table.to_pydict``
    gives them, from either backend) as :class:`Scored` rows, sorted by (left, right). A
    comparison's weight is its level's match weight plus its term-frequency adjustment."""
    columns = [c["output_column_name"] for c in splink_settings["comparisons"]]
    labels = level_labels(splink_settings)
    n = len(data["match_probability"])
    zeros, nones = [0.0] * n, [None] * n
    per_column = [
        (col, data[f"gamma_{col}"], data.get(f"mw_{col}", zeros), data.get(f"mw_tf_adj_{col}", zeros),
         data.get(f"{col}_l", nones), data.get(f"{col}_r", nones))
        for col in columns
    ]
    out: list[Scored] = []
    for i in range(n):
        levels = []
        values = []
        for col, gammas, mws, tfs, lefts, rights in per_column:
            gamma = int(gammas[i])
            weight = (mws[i] or 0.0) + (tfs[i] or 0.0)
            levels.append(Level(col, gamma, labels[col].get(gamma, ""), round(weight, 4)))
            values.append((col, lefts[i], rights[i]))
        left, right = int(data[f"{ID_COLUMN}_l"][i]), int(data[f"{ID_COLUMN}_r"][i])
        if left > right:
            left, right = right, left
        out.append(Scored(left, right, float(data["match_probability"][i]), float(data["match_weight"][i]),
                          tuple(levels), tuple(values)))
    out.sort(key=lambda s: (s.left, s.right))
    return out


def tf_table(column: str, frequencies: dict[str, float]) -> pa.Table:
    """A model's term frequencies of ``column`` as Splink's lookup table (``column``, ``tf_column``)."""
    values = sorted(frequencies)
    return pa.table({column: pa.array(values, pa.string()),
                     f"tf_{column}": pa.array([frequencies[v] for v in values], pa.float64())})


def register_tf(linker: Linker, db_api: DuckDBAPI, model: TrainedModel, names: dict[str, str]) -> None:
    """Score with the model's term frequencies (``names``: column -> DuckDB table holding them),
    not with ones computed from the scored data (:mod:`infra.match.model`)."""
    for column, table_name in names.items():
        linker.table_management.register_term_frequency_lookup(db_api.register(table_name), column)


def _tf_tables(db_api: DuckDBAPI, model: TrainedModel, prefix: str) -> dict[str, str]:
    names = {}
    for column, frequencies in sorted((c, f) for c, f in model.tf.items() if f):
        name = f"{prefix}{column}"
        db_api.duckdb_con.register(f"{name}_arrow", tf_table(column, frequencies))
        db_api.duckdb_con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")
        db_api.duckdb_con.unregister(f"{name}_arrow")
        names[column] = name
    return names


def score(table: pa.Table, model: TrainedModel, floor: float, threads: int = 2) -> list[Scored]:
    """Scored pairs with match probability >= ``floor`` (0: every blocked pair), sorted by
    (left, right). Each pair's figures are computed row by row (with the model's term
    frequencies, when it has them), so the result does not depend on ``threads`` nor on the
    other rows of ``table``."""
    logging.getLogger("splink").setLevel(logging.ERROR)  # untrained levels show in the report
    splink_model = prediction_settings(model.splink)
    db_api = DuckDBAPI()
    db_api.duckdb_con.execute(f"SET threads TO {int(threads)}")
    linker = Linker(db_api.register(table), splink_model, log_level=None)
    register_tf(linker, db_api, model, _tf_tables(db_api, model, "ucid_tf_"))
    result = linker.inference.predict(threshold_match_probability=floor or None, warning_mode="never").as_pyarrow_table()
    out = scored_rows(result.to_pydict(), splink_model)
    log.info("match.scored", rows=table.num_rows, pairs=len(out), floor=floor)
    return out


class Scorer:
    """A warm DuckDB scoring small tables one after another (the speed layer: once per poll).

    The linker, its settings and the model's term-frequency tables are built once; each
    :meth:`score` replaces the rows of one DuckDB table and invalidates Splink's cache (the
    blocked pairs and the input with term frequencies are per call). One thread, not thread safe:
    one caller at a time. The scores are :func:`score`'s for the same pairs (a unit test)."""

    TABLE = "ucid_speed_rows"

    def __init__(self, model: TrainedModel, threads: int = 1) -> None:
        logging.getLogger("splink").setLevel(logging.ERROR)
        self.model = model
        self.settings = prediction_settings(model.splink)
        self.db_api = DuckDBAPI()
        self.con = self.db_api.duckdb_con
        self.con.execute(f"SET threads TO {int(threads)}")
        columns = [c for c in model.spec.columns()]
        empty = pa.table({ID_COLUMN: pa.array([], pa.int64()), **{c: pa.array([], pa.string()) for c in columns}})
        self._replace(empty)
        self.linker = Linker(self.db_api.register(self.TABLE), self.settings, log_level=None)
        self.tf_names = _tf_tables(self.db_api, model, "ucid_speed_tf_")

    def _replace(self, table: pa.Table) -> None:
        self.con.register("ucid_speed_arrow", table)
        self.con.execute(f"CREATE OR REPLACE TABLE {self.TABLE} AS SELECT * FROM ucid_speed_arrow")
        self.con.unregister("ucid_speed_arrow")

    def score(self, table: pa.Table) -> list[Scored]:
        """Every blocked pair of ``table`` (``unique_id`` + the spec's columns), sorted."""
        if table.num_rows < 2:
            return []
        self._replace(table)
        self.linker.table_management.invalidate_cache()
        register_tf(self.linker, self.db_api, self.model, self.tf_names)
        result = self.linker.inference.predict(warning_mode="never").as_pyarrow_table()
        return scored_rows(result.to_pydict(), self.settings)
