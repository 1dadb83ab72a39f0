"""The match model in the batch: person rows from silver, Splink on Spark, the core's decision.

1. **Person rows**: every silver record of the sources the model compares
   (:func:`identity.match.person_sources`) becomes the model's columns through
   :func:`identity.match.person_row`, run inside ``mapInArrow``: the core's cleaning, the same as
   ``ucid resolve --local --model``, not a re-write in Spark SQL. A record of an event source
   (the stream) is a person row only when it carries a name
   (:func:`identity.match.keeps_person_row`). Silver holds what it needs: the profile
   attributes (by ucid name) and the valid, unblocked normalized identifiers. Records are keyed
   by (source, record id) and anchored where the batch anchors them (``anchors_frame``). One
   function (:func:`person_rows`) makes the rows for training (:func:`training_rows`), scoring
   (:func:`person_frame`) and the speed layer's blocking index (:func:`blocks_of`): each row
   carries its identifiers and its block keys (:func:`identity.match.block_keys`).
2. **Scoring**: every blocked pair, by Splink's Spark backend (:mod:`infra.match.spark_predict`).
3. **Decision on the driver**: the pairs that can matter -- at or above the review floor, or
   vetoed (:func:`infra.match.decision.kept`; about 100,000 for 20,000 customers) -- are
   collected and decided by :func:`infra.match.decision.decide_scored`, the local command's call:
   one decision for both.
4. **Frames** for :mod:`batch.resolve`: the model's edges (with their evidence) to cluster with
   the exact ones, the conflicts, the pairs left for review (``gold/match_review``), and the
   shared identifiers (e-mail, phone) records withhold from exact linking because the model
   finds them to be another person than the identifier's other holders
   (:func:`identity.match.withheld_identifiers`); :func:`withhold_records` applies them to the
   silver records before the exact links are built; and the person rows with their block keys
   for ``gold/match_blocks`` (:func:`blocks_of`, anchored as the run finally anchors them by
   :func:`anchored_blocks`), which the publish writes into the speed layer's blocking index.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from batch.tables import CHECKPOINT
from identity.match import ID_COLUMN, MatchSpec, model_attributes, person_sources, vetoed
from identity.sources import SourceDefinition
from infra.match.decision import Scoring, decide_scored
from infra.match.model import TrainedModel
from infra.match.predict import scored_rows

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

LEVELS = "array<struct<comparison:string,level:int,label:string,weight:double>>"
MATCH = f"struct<rule:string,model:string,probability:double,weight:double,levels:{LEVELS}>"
"""A model edge's evidence (:class:`identity.match.MatchEvidence`); null on an exact edge."""
EDGE_ROW = (
    "a_type string, a_value string, b_type string, b_value string, support long, "
    f"evidence array<struct<source:string,record_id:string>>, match {MATCH}"
)
CONFLICT_ROW = "x_type string, x_value string, y_type string, y_value string"
REVIEW_ROW = (
    "source_l string, record_id_l string, a_type_l string, a_value_l string, "
    "source_r string, record_id_r string, a_type_r string, a_value_r string, "
    "probability double, weight double, veto string, rule string, model string, "
    "levels array<struct<comparison:string,level:int,label:string,weight:double,value_l:string,value_r:string>>"
)
WITHHELD_ROW = "source string, record_id string, type string, value string"
IDS = "array<struct<type:string,value:string>>"
KEY_COLUMNS = ("source", "record_id", "a_type", "a_value", "ids")
BLOCK_COLUMNS = ("source", "record_id", "a_type", "a_value", "block_keys", "person")
BLOCK_ROW = ("source string, record_id string, a_type string, a_value string, block_keys array<string>, "
             "person map<string,string>")


class NothingToTrain(ValueError):
    """Fewer than two person rows in silver: no pair to learn from."""


@dataclass(slots=True)
class Matched:
    """The model's word on the lake, as frames for :func:`batch.resolve.resolve`."""

    edges: DataFrame  # EDGE_ROW + u, v: clustered with the exact edges
    conflicts: DataFrame  # CONFLICT_ROW: anchor pairs no model edge may join
    review: DataFrame  # REVIEW_ROW: the pairs in the review band, for a data steward
    withheld: DataFrame  # WITHHELD_ROW: (record, identifier) kept out of exact linking
    limits: dict[str, int]
    stats: dict[str, int] = field(default_factory=dict)
    people: DataFrame | None = None  # BLOCK_ROW: the person rows, for the speed layer's blocking index


def person_rows(records: DataFrame, sources: list[SourceDefinition], spec: MatchSpec) -> DataFrame:
    """One row per person record of the compared sources: ``source``, ``record_id``, the record's
    identifiers (``ids``, strongest first), the spec's columns, cleaned by
    :func:`identity.match.person_row` (the local command's cleaning), and ``block_keys``
    (:func:`identity.match.block_keys`: the speed layer's index keys). A record of an event
    source without a name is no person row (:func:`identity.match.keeps_person_row`). Training,
    scoring and the blocking index all read these rows."""
    from pyspark.sql import functions as F

    columns = spec.columns()
    compared = person_sources(sources, spec)
    allowed = {s.name: model_attributes(s.attributes, columns) for s in compared}
    kinds = {s.name: s.kind for s in compared}
    rows = records.where(F.col("source").isin(sorted(allowed))).select("source", "record_id", "attributes", "ids")
    schema = ", ".join(["source string", "record_id string", f"ids {IDS}", *(f"`{c}` string" for c in columns),
                        "block_keys array<string>"])
    return rows.mapInArrow(_person_rows_fn(allowed, kinds, columns, spec), schema)


def person_frame(records: DataFrame, anchors: DataFrame, sources: list[SourceDefinition],
                 spec: MatchSpec) -> DataFrame:
    """:func:`person_rows` with each record's anchor (``a_type``, ``a_value``) and a
    ``unique_id`` for Splink."""
    from pyspark.sql import functions as F

    return (person_rows(records, sources, spec)
            .join(anchors.select("source", "record_id", "a_type", "a_value"), ["source", "record_id"])
            .withColumn(ID_COLUMN, F.monotonically_increasing_id()))


def training_rows(records: DataFrame, sources: list[SourceDefinition],
                  spec: MatchSpec) -> tuple[DataFrame, MatchSpec, int]:
    """The person rows to train on, the spec restricted to the columns they fill (as the local
    command restricts it) and their count. ``unique_id`` numbers the rows in the order of
    (source, record id, values), so the same lake gives the same ids however it is partitioned
    (Splink's seeded samples hash the ids)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    columns = spec.columns()
    order = Window.orderBy("source", "record_id", *columns)
    rows = (person_rows(records, sources, spec)
            .withColumn(ID_COLUMN, (F.row_number().over(order) - 1).cast("long"))
            .select(ID_COLUMN, *columns).localCheckpoint(**CHECKPOINT))
    counts = rows.agg(F.count(F.lit(1)).alias("_rows"), *[F.count(F.col(f"`{c}`")).alias(c) for c in columns]).first()
    restricted = spec.restricted_to([c for c in columns if counts[c]])
    people = rows.select(ID_COLUMN, *restricted.columns())
    return people, restricted, counts["_rows"]


def train(spark, records: DataFrame, sources: list[SourceDefinition], spec: MatchSpec,
          on_step=lambda step: None) -> TrainedModel:
    """Train ``spec`` on the lake's person rows with Splink on Spark
    (:func:`infra.match.spark_train.train_on_spark`): the training steps, seed and model file
    of ``ucid model train --local``. Raises :class:`identity.match.MatchSpecError` if the rows
    fill too few of the spec's columns, :class:`NothingToTrain` if there are fewer than two rows."""
    from infra.match.spark_train import train_on_spark

    on_step("reading person rows from silver")
    people, restricted, n = training_rows(records, sources, spec)
    if n < 2:
        raise NothingToTrain(f"{n} person rows in silver/records: nothing to train on")
    on_step(f"{n:,} person rows")
    return train_on_spark(spark, people, restricted, n, on_step)


def _person_rows_fn(allowed: dict[str, list[str]], kinds: dict[str, str], columns: list[str], spec: MatchSpec):
    def fn(batches):
        import pyarrow as pa

        from identity.match import block_keys, keeps_person_row, person_row

        types = {"ids": pa.list_(pa.struct([("type", pa.string()), ("value", pa.string())])),
                 "block_keys": pa.list_(pa.string())}
        for batch in batches:
            out: dict[str, list] = {"source": [], "record_id": [], "ids": [], **{c: [] for c in columns},
                                    "block_keys": []}
            for r in batch.to_pylist():
                names = allowed[r["source"]]
                attrs = dict(r["attributes"] or ())
                values = {a: attrs.get(a) for a in names}
                ids = tuple((i["type"], i["value"]) for i in r["ids"] or ())
                row = person_row(values, ids, columns)
                if not keeps_person_row(kinds[r["source"]], row):
                    continue  # an event without a name (a page view): not a person row
                out["source"].append(r["source"])
                out["record_id"].append(r["record_id"])
                out["ids"].append([{"type": t, "value": v} for t, v in ids])
                for c in columns:
                    out[c].append(row[c])
                out["block_keys"].append(block_keys(row, spec))
            yield pa.RecordBatch.from_pydict({k: pa.array(v, types.get(k, pa.string())) for k, v in out.items()})

    return fn


def keep_condition(spec: MatchSpec) -> str:
    """Spark SQL for :func:`infra.match.decision.kept` on Splink's columns: at or above the
    review floor, a veto column at level 0, or one value of a shared identifier column on both
    sides. Only a pre-filter: the driver applies ``kept``."""
    parts = [f"match_probability >= {spec.review_threshold!r}"]
    parts += [f"gamma_{column} = 0" for column in spec.vetoes]  # spec columns are plain identifiers
    parts += [f"{column}_l = {column}_r" for column in spec.shared]
    return " OR ".join(parts)


def match(spark, records: DataFrame, anchors: DataFrame, sources: list[SourceDefinition], policy,
          model: TrainedModel, say=lambda msg: None) -> Matched:
    """Score the lake's person rows with ``model`` and decide every pair; see the module
    docstring. Raises :class:`identity.match.MatchSpecError` if the model's limits lift a type
    the rules leave unlimited."""
    from infra.match.spark_predict import predictions

    spec = model.spec
    spec.check_limits(policy.limits(), policy.linking())
    started = time.perf_counter()
    people = person_frame(records, anchors, sources, spec).localCheckpoint(**CHECKPOINT)
    n_people = people.count()
    say(f"model {model.version}: scoring {n_people:,} person rows on Spark")
    with predictions(spark, people.select(ID_COLUMN, *spec.columns()), model) as scored:
        blocked = scored.count()
        data = _with_keys(scored.where(keep_condition(spec)), people).toArrow().to_pydict()
    keys, anchor_of, ids_of = {}, {}, {}
    for side in ("l", "r"):
        for i, s, r, t, v, ids in zip(data[f"{ID_COLUMN}_{side}"], data[f"source_{side}"],
                                      data[f"record_id_{side}"], data[f"a_type_{side}"], data[f"a_value_{side}"],
                                      data[f"ids_{side}"], strict=True):
            keys[i], anchor_of[i] = (s, r), (t, v)
            ids_of[i] = tuple((x["type"], x["value"]) for x in ids or ())
    trust = {s.name: s.priority for s in sources}
    scoring = decide_scored(scored_rows(data, model.splink), keys, anchor_of, model, n_people, blocked,
                            ids_of, trust)
    scoring.limits = spec.limits_for(policy.limits())
    stats = {**scoring.stats, "match_ms": int((time.perf_counter() - started) * 1000)}
    say(f"model {model.version}: {blocked:,} blocked pairs, {stats['pairs_linked']:,} linked "
        f"({stats['model_edges']:,} edges), {stats['pairs_review']:,} for review, "
        f"{stats['records_withholding']:,} records withholding a shared identifier")
    return Matched(edges_of(spark, scoring), conflicts_of(spark, scoring), review_of(spark, scoring, spec),
                   withheld_of(spark, scoring), scoring.limits, stats, blocks_of(people, spec))


def blocks_of(people: DataFrame, spec: MatchSpec) -> DataFrame:
    """The person rows as ``gold/match_blocks`` (``BLOCK_ROW``): record, anchor, block keys
    (:func:`identity.match.block_keys`) and the model's input values; the publish writes them,
    with each record's UCID, into the speed layer's blocking index (``match_blocks``). The
    anchor is the one the model scored with; :func:`anchored_blocks` puts the run's final one
    in (a record withholding a shared identifier is anchored on another)."""
    from pyspark.sql import functions as F

    person = F.map_filter(F.create_map(*[x for c in spec.columns() for x in (F.lit(c), F.col(c))]),
                          lambda k, v: v.isNotNull())
    return people.select("source", "record_id", "a_type", "a_value", "block_keys", person.alias("person"))


def anchored_blocks(blocks: DataFrame, anchors: DataFrame) -> DataFrame:
    """``blocks`` (``BLOCK_ROW``) with each record's anchor as the run finally anchors it
    (``anchors``: after :func:`withhold_records`): the speed layer finds a candidate's live UCID
    through its anchor, and a withheld shared e-mail or phone may belong to another customer."""
    return (blocks.drop("a_type", "a_value")
            .join(anchors.select("source", "record_id", "a_type", "a_value"), ["source", "record_id"])
            .select(*BLOCK_COLUMNS))


def _with_keys(pairs: DataFrame, people: DataFrame) -> DataFrame:
    """``pairs`` with each side's record and anchor (``source_l``, ..., ``a_value_r``)."""
    from pyspark.sql import functions as F

    for side in ("l", "r"):
        keys = people.select(F.col(ID_COLUMN).alias(f"{ID_COLUMN}_{side}"),
                             *[F.col(c).alias(f"{c}_{side}") for c in KEY_COLUMNS])
        pairs = pairs.join(keys, f"{ID_COLUMN}_{side}")
    return pairs


def _levels(levels) -> list[tuple]:
    return [(lvl.comparison, lvl.level, lvl.label, lvl.weight) for lvl in levels]


def edges_of(spark, scoring: Scoring) -> DataFrame:
    """The model's edges as rows of ``EDGE_ROW`` with the node ids ``u``, ``v`` of
    :func:`batch.resolve.edges_frame`."""
    from pyspark.sql import functions as F

    rows = [
        (e.a[0], e.a[1], e.b[0], e.b[1], e.support, [tuple(r) for r in e.evidence],
         (e.match.rule, e.match.model, e.match.probability, e.match.weight, _levels(e.match.levels)))
        for e in scoring.edges
    ]
    return (spark.createDataFrame(rows, EDGE_ROW)
            .withColumn("u", F.xxhash64("a_type", "a_value"))
            .withColumn("v", F.xxhash64("b_type", "b_value")))


def withheld_of(spark, scoring: Scoring) -> DataFrame:
    """The (record, identifier) pairs kept out of exact linking, sorted."""
    rows = sorted((*key, *ident) for key, idents in scoring.withheld.items() for ident in idents)
    return spark.createDataFrame(rows, WITHHELD_ROW)


def withhold_records(records: DataFrame, withheld: DataFrame) -> DataFrame:
    """Silver ``records`` without the withheld identifiers (:func:`withheld_of`), each such
    record anchored on its strongest remaining identifier or its own node, as
    :func:`identity.records.withhold` does locally (``ids`` are ordered strongest first)."""
    from pyspark.sql import functions as F

    from identity.types import RECORD_TYPE

    drop = (withheld.groupBy("source", "record_id")
            .agg(F.collect_list(F.struct(F.col("type"), F.col("value"))).alias("_withheld")))
    joined = records.join(F.broadcast(drop), ["source", "record_id"], "left")
    hit = F.col("_withheld").isNotNull()
    kept = F.filter("ids", lambda x: ~F.array_contains(F.col("_withheld"), x))
    joined = joined.withColumn("_ids", F.when(hit, kept).otherwise(F.col("ids")))
    some = F.size("_ids") > 0
    return joined.select(*[
        F.when(hit, F.when(some, F.col("_ids")[0]["type"]).otherwise(F.lit(RECORD_TYPE))).otherwise(
            F.col("anchor_type")).alias("anchor_type") if c == "anchor_type"
        else F.when(hit, F.when(some, F.col("_ids")[0]["value"]).otherwise(
            F.concat(F.col("source"), F.lit(":"), F.col("record_id")))).otherwise(
            F.col("anchor_value")).alias("anchor_value") if c == "anchor_value"
        else F.col("_ids").alias("ids") if c == "ids"
        else F.col(c)
        for c in records.columns
    ])


def conflicts_of(spark, scoring: Scoring) -> DataFrame:
    return spark.createDataFrame([(x[0], x[1], y[0], y[1]) for x, y in scoring.conflicts], CONFLICT_ROW)


def review_of(spark, scoring: Scoring, spec: MatchSpec) -> DataFrame:
    """The review band: both records and anchors, probability, weight, the veto column that
    held a linkable pair back (if one did), and each comparison with both values."""
    rows = []
    for pair, s in sorted(scoring.review, key=lambda ps: (ps[0].left, ps[0].right)):
        values = {c: (lv, rv) for c, lv, rv in s.values}
        ev = pair.evidence
        levels = [(lvl.comparison, lvl.level, lvl.label, lvl.weight, *values.get(lvl.comparison, (None, None)))
                  for lvl in ev.levels]
        rows.append((*pair.left, *pair.left_anchor, *pair.right, *pair.right_anchor, ev.probability, ev.weight,
                     vetoed(ev.levels, spec), ev.rule, ev.model, levels))
    return spark.createDataFrame(rows, REVIEW_ROW)

