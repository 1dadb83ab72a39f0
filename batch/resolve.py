"""Identity resolution on Spark: silver records -> clusters -> stable UCIDs, as gold tables.

The same semantics as :func:`identity.resolve.resolve` (the local reference), distributed:

1. **anchors**: each record's strongest identifier (duplicate rows of one record id: the
   strongest of their anchors), records without identifiers anchor on their own node;
2. **edges**: links collapsed per identifier pair with their support and the first
   ``EVIDENCE_SAMPLE`` evidence records, exactly as :func:`identity.cluster.build_edges`; with a
   match model in force, its edges between record anchors and its conflicts (:mod:`batch.match`),
   which the core clusters after the exact edges, under the model's limits; a record the model
   finds to be another person than the other holders of a shared e-mail or phone does not link
   through it (re-anchored first, :func:`batch.match.withhold_records`);
3. **raw connected components** (:mod:`batch.components`), then the identity core's
   :func:`identity.cluster.cluster_edges` run per component in a grouped pandas UDF -- limits,
   blocked values and priorities are the core's own code;
4. **UCIDs** as :func:`identity.ucids.assign_ucids` decides them: the heir of every previous
   UCID is a global min over its identifiers (a Spark aggregation), a cluster heir of several
   keeps the earliest-minted, the others become aliases; a
   cluster heir of none mints from its smallest identifier (:func:`identity.ucids.mint_ucid`,
   salted on the rare collision with an issued id); splits and retirements are found by joins.

Everything per identifier stays in Spark; only the rare merges and splits (to explain them)
come to the driver.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd  # noqa: F401 - pandas UDF type hints are resolved in this module

from batch.components import components_local, components_spark
from batch.match import BLOCK_ROW, LEVELS, MATCH, REVIEW_ROW, anchored_blocks
from batch.silver import cached_policy, rules_source
from batch.tables import CHECKPOINT, Lake, exists
from identity.cluster import EVIDENCE_SAMPLE, Edge
from identity.explain import explain
from identity.ucids import mint_unique

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

Report = Callable[[str], None]

CLUSTER_OUT = (
    "kind string, n_type string, n_value string, k_type string, k_value string, b_type string, "
    "b_value string, kb_type string, kb_value string, support long, "
    "evidence array<struct<source:string,record_id:string>>, reason string, rule string, "
    f"m_model string, m_probability double, m_weight double, m_levels {LEVELS}"
)
"""The clustering's rows; ``rule`` is the edge's (``crm_id~email``, ``model:person``) and the
``m_`` columns a model edge's evidence (:class:`identity.match.MatchEvidence`), null otherwise."""
RECORD_TYPE = "_record"
# at most about this many edges go to one pandas call of the clustering (see cluster_frame)
CLUSTER_BUCKET_EDGES = 200_000
EVENTS_SCHEMA = "kind string, old_ids array<string>, new_id string, rule string, evidence string"

Event = tuple  # (kind, old ids, new id, rule, evidence JSON): a change event found on the driver


@dataclass(slots=True)
class ResolveResult:
    stats: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Previous:
    """The state resolution starts from, checkpointed: ``state`` (id_type, id_value, ucid,
    first_seen) and ``ucids`` (ucid, minted_at, status, merged_into)."""

    state: DataFrame
    ucids: DataFrame


@dataclass(frozen=True, slots=True)
class Assigned:
    """Step 4's frames: ``heirs`` (each previous UCID's heir identifier and cluster), ``kept``
    (clusters heir of at least one UCID, with their claims), ``to_mint`` (the other clusters, with
    their new UCID) and ``ucid_for`` (every cluster key -> its UCID)."""

    heirs: DataFrame
    kept: DataFrame
    to_mint: DataFrame
    ucid_for: DataFrame


def _cluster_fn(rules_path: str, region: str | None, match_limits: dict[str, int] | None = None):
    """The pandas function of :func:`cluster_frame`: one call per bucket of components (one per
    component would cost Spark a Python round trip each: 27 of a 5,000-customer resolve's 53 s),
    each component clustered on its own by the identity core. The rules travel as text (read
    here, on the driver)."""
    rules = rules_source(rules_path)

    def fn(pdf):
        import pandas as pd

        from identity.cluster import Edge, cluster_edges

        policy = cached_policy(rules, region)
        # component -> (edges, nodes, conflicts), in one pass over the bucket's rows
        parts: dict[int, tuple[list, set, list]] = {}
        for component, a_type, a_value, b_type, b_value, support, evidence, conflict, *match in zip(
            pdf.component, pdf.a_type, pdf.a_value, pdf.b_type, pdf.b_value, pdf.support, pdf.evidence,
            pdf.conflict, pdf.m_rule, pdf.m_model, pdf.m_probability, pdf.m_weight, pdf.m_levels, strict=True
        ):
            part = parts.get(component)
            if part is None:
                part = parts[component] = ([], set(), [])
            edges, nodes, conflicts = part
            a, b = (a_type, a_value), (b_type, b_value)
            if conflict:
                conflicts.append((a, b))
                continue
            ev = tuple((e["source"], e["record_id"]) for e in evidence)
            edges.append(Edge(a, b, ev, int(support), _evidence(*match)))
            nodes.add(a)
            nodes.add(b)

        none = (None,) * 4  # the m_ columns of an exact edge

        def ev(e: Edge):
            return [{"source": s, "record_id": r} for s, r in e.evidence]

        def m(e: Edge):
            if e.match is None:
                return none
            x = e.match
            levels = [{"comparison": lv.comparison, "level": lv.level, "label": lv.label, "weight": lv.weight}
                      for lv in x.levels]
            return (x.model, x.probability, x.weight, levels)

        rows = []
        for edges, nodes, conflicts in parts.values():
            # a conflict only matters between nodes of this component (a hash collision may group more)
            conflicts = [(x, y) for x, y in conflicts if x in nodes and y in nodes]
            clustering = cluster_edges(sorted(nodes), edges, policy, match_limits, conflicts)
            key = clustering.cluster_of
            rows.extend(("m", n[0], n[1], k[0], k[1], None, None, None, None, None, None, None, None, *none)
                        for n, k in key.items())
            for e in clustering.accepted:
                k = key[e.a]
                rows.append(("a", e.a[0], e.a[1], k[0], k[1], e.b[0], e.b[1], k[0], k[1], e.support, ev(e), None,
                             e.rule, *m(e)))
            for r in clustering.refused:
                e = r.edge
                ka, kb = key[e.a], key[e.b]
                rows.append(("r", e.a[0], e.a[1], ka[0], ka[1], e.b[0], e.b[1], kb[0], kb[1], e.support, ev(e),
                             r.reason, e.rule, *m(e)))
        return pd.DataFrame(rows, columns=[
            "kind", "n_type", "n_value", "k_type", "k_value", "b_type", "b_value", "kb_type", "kb_value",
            "support", "evidence", "reason", "rule", "m_model", "m_probability", "m_weight", "m_levels"])

    return fn


def _evidence(rule, model, probability, weight, levels):
    """A model edge's :class:`identity.match.MatchEvidence` from its ``m_`` columns; ``None``
    for an exact edge."""
    if not isinstance(model, str):
        return None
    from identity.match import Level, MatchEvidence

    return MatchEvidence(rule, model, float(probability), float(weight), tuple(
        Level(lv["comparison"], int(lv["level"]), lv["label"], float(lv["weight"])) for lv in levels))


def _mint_udf():
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("string")
    def mint(t: pd.Series, v: pd.Series) -> pd.Series:
        from identity.ucids import mint_ucid

        return pd.Series([mint_ucid((a, b), 0) for a, b in zip(t, v, strict=True)])

    return mint


def _priority_map(policy):
    from pyspark.sql import functions as F

    parts = []
    for name, t in sorted(policy.types.items()):
        parts += [F.lit(name), F.lit(t.priority)]
    return F.create_map(*parts)


def previous_state(spark, lake: Lake):
    """``(identity_state, ucids)`` of the last run, or empty frames on the first run."""
    if exists(spark, lake.gold("identity_state")) and exists(spark, lake.gold("ucids")):
        return (spark.read.format("delta").load(lake.gold("identity_state"))
                .select("id_type", "id_value", "ucid", "first_seen"),
                spark.read.format("delta").load(lake.gold("ucids"))
                .select("ucid", "minted_at", "status", "merged_into"))
    return (
        spark.createDataFrame([], "id_type string, id_value string, ucid string, first_seen long"),
        spark.createDataFrame([], "ucid string, minted_at long, status string, merged_into string"),
    )


def _edge_json(rows) -> str:
    return json.dumps([
        {"a": [r["a_type"], r["a_value"]], "b": [r["b_type"], r["b_value"]],
         "rule": r["rule"], "support": r["support"],
         "records": [[e["source"], e["record_id"]] for e in r["evidence"]]}
        for r in rows
    ], separators=(",", ":"))


def edges_frame(records):
    """One row per identifier pair ``a < b`` with ``support`` (links seen) and ``evidence`` (the
    first ``EVIDENCE_SAMPLE`` records), as :func:`identity.cluster.build_edges`; plus the 64-bit
    node ids ``u``, ``v`` used by the connected-components step, and ``match`` (null: the
    model's edges, :func:`batch.match.edges_of`, carry their evidence there)."""
    from pyspark.sql import functions as F

    from batch.silver import links as links_of

    links = links_of(records)
    a_first = F.struct("a_type", "a_value") < F.struct("b_type", "b_value")
    oriented = links.select(
        F.when(a_first, F.col("a_type")).otherwise(F.col("b_type")).alias("a_type"),
        F.when(a_first, F.col("a_value")).otherwise(F.col("b_value")).alias("a_value"),
        F.when(a_first, F.col("b_type")).otherwise(F.col("a_type")).alias("b_type"),
        F.when(a_first, F.col("b_value")).otherwise(F.col("a_value")).alias("b_value"),
        F.struct("source", "record_id").alias("ev"),
    )
    return (
        oriented.groupBy("a_type", "a_value", "b_type", "b_value")
        .agg(F.count("*").alias("support"),
             F.slice(F.array_sort(F.collect_set("ev")), 1, EVIDENCE_SAMPLE).alias("evidence"))
        .withColumn("match", F.lit(None).cast(MATCH))
        .withColumn("u", F.xxhash64("a_type", "a_value"))
        .withColumn("v", F.xxhash64("b_type", "b_value"))
    )


def resolve(spark, lake: Lake, policy, rules_path: str, region: str | None, now: int, run_id: str,
            local_cc_max_edges: int, max_rounds: int = 60, report: Report | None = None,
            speed=None, model=None, sources=None, cc_chunk_edges: int = 2_000_000) -> ResolveResult:
    """Resolve every silver record; write the gold identity tables. See the module docstring.

    ``speed``: the speed layer's real-time assignments (:func:`batch.speed_state.read`), taken
    as part of the previous state so that UCIDs given in real time are kept. ``model``: a
    trained match model (:class:`infra.match.model.TrainedModel`) whose edges join the exact
    ones (:mod:`batch.match`; ``sources`` are the source definitions); its review band is
    written to ``gold/match_review``."""
    from pyspark.sql import functions as F

    say = report or (lambda msg: None)
    stats: dict[str, int] = {}
    records = spark.read.format("delta").load(lake.silver("records"))

    # 1. anchors, 2. edges (exact, then the model's)
    anchors = anchors_frame(records, _priority_map(policy)).localCheckpoint(**CHECKPOINT)
    matched = None
    if model is not None:
        from batch.match import match, withhold_records

        matched = match(spark, records, anchors, sources, policy, model, say)
        stats.update(matched.stats)
        if matched.stats.get("records_withholding"):
            # records the model found to be another person than the other holders of a shared
            # e-mail or phone do not link through it: re-anchored, their exact links rebuilt
            records = withhold_records(records, matched.withheld).localCheckpoint(**CHECKPOINT)
            anchors = anchors_frame(records, _priority_map(policy)).localCheckpoint(**CHECKPOINT)
    edges = edges_frame(records)
    if matched is not None:
        edges = edges.unionByName(matched.edges)
    edges = edges.localCheckpoint(**CHECKPOINT)
    n_edges = edges.count()
    stats["edges"] = n_edges

    # 3. raw components, then the identity core per component
    comps, stats["cc_rounds"] = _components(spark, edges, n_edges, local_cc_max_edges, max_rounds, say,
                                            cc_chunk_edges)
    clustered = cluster_frame(edges, comps.localCheckpoint(**CHECKPOINT), rules_path, region,
                              matched.limits if matched else None,
                              matched.conflicts if matched else None, n_edges=n_edges,
                              partitions=int(spark.conf.get("spark.sql.shuffle.partitions"))).localCheckpoint(**CHECKPOINT)
    members = members_frame(clustered, anchors).localCheckpoint(**CHECKPOINT)
    stats["identifiers"] = members.where(F.col("id_type") != RECORD_TYPE).count()
    stats["clusters"] = members.select("k_type", "k_value").distinct().count()

    # 4. UCIDs: heirs of previous UCIDs, survivors, mints; the change events
    prev = _previous(spark, lake, speed)
    ids = _assign(spark, members, prev, now)
    stats["ucids_minted"] = ids.to_mint.count()
    merges, redirect = _merge_events(spark, clustered, ids.kept)
    splits = _split_events(members, prev.state, ids.heirs, ids.ucid_for, clustered)
    retirements, retired_now = _retire_events(prev, ids.heirs)
    events = merges + splits + retirements

    # 5. new state, written
    new_state = state_frame(members, ids.ucid_for, prev.state, now)
    snapshots = {
        "identity_state": new_state,
        "ucids": ucids_frame(spark, prev.ucids, ids, redirect, retired_now, now),
        "assignments": assignments_frame(anchors, new_state),
        "links": links_frame(clustered, ids.ucid_for),
        "refused_links": refused_links_frame(clustered, ids.ucid_for),
    }
    if matched is not None:
        snapshots["match_review"] = matched.review.withColumn("run_id", F.lit(run_id))
        # the blocking index finds a candidate's live UCID through its anchor: the run's final
        # one (a record withholding a shared e-mail or phone is anchored on another identifier)
        snapshots["match_blocks"] = anchored_blocks(matched.people, anchors)
    elif exists(spark, lake.gold("match_review")):  # no model now: no pairs are in review
        snapshots["match_review"] = spark.createDataFrame([], REVIEW_ROW).withColumn("run_id", F.lit(run_id))
    if matched is None and exists(spark, lake.gold("match_blocks")):  # no model now: nothing to index
        snapshots["match_blocks"] = spark.createDataFrame([], BLOCK_ROW)
    _write_gold(spark, lake, run_id, snapshots,
                changes_frame(spark, members, prev.state, ids.to_mint, events, now, run_id))

    stats.update(_closing_stats(spark, lake, anchors, clustered, events))
    return ResolveResult(stats)


def anchors_frame(records, prio):
    """One row per ``(source, record_id)`` with its strongest anchor (``a_type``, ``a_value``) and
    ``rows`` (its duplicate rows): as ``identity.resolve._anchor_key``, identifiers before the
    record's own node, then by priority (``prio``: type -> priority), type, value."""
    from pyspark.sql import functions as F

    rank = F.struct(
        (F.col("anchor_type") == RECORD_TYPE).cast("int").alias("r"),
        F.when(F.col("anchor_type") == RECORD_TYPE, F.lit(0)).otherwise(prio[F.col("anchor_type")]).alias("p"),
        F.col("anchor_type").alias("t"), F.col("anchor_value").alias("v"),
    )
    return (
        records.groupBy("source", "record_id").agg(F.min(rank).alias("k"), F.count("*").alias("rows"))
        .select("source", "record_id", F.col("k.t").alias("a_type"), F.col("k.v").alias("a_value"), "rows")
    )


def _components(spark, edges, n_edges: int, local_cc_max_edges: int, max_rounds: int, say: Report,
                cc_chunk_edges: int = 0):
    """``(node -> component frame, rounds)``: on the driver (scipy, 0 rounds) up to
    ``local_cc_max_edges`` edges, else distributed, reporting each round."""
    if n_edges <= local_cc_max_edges:
        say(f"connected components of {n_edges:,} edges on the driver (scipy)")
        return components_local(spark, edges), 0
    rounds = []
    comps = components_spark(
        edges, max_rounds, on_round=lambda n, m: (rounds.append(n), say(f"CC round {n}: {m:,} edges")),
        chunk_edges=cc_chunk_edges)
    return comps, len(rounds)


def cluster_frame(edges, comps, rules_path: str, region: str | None, match_limits: dict[str, int] | None = None,
                  conflicts=None, *, n_edges: int, partitions: int):
    """The identity core's clustering of every component, as rows of ``CLUSTER_OUT``: ``m`` (a
    node and its cluster key), ``a`` (an accepted edge), ``r`` (a refused edge and why).

    ``match_limits`` and ``conflicts`` (``x_type``, ``x_value``, ``y_type``, ``y_value``: anchor
    pairs the model found to be different people) go to :func:`identity.cluster.cluster_edges`;
    a conflict joins its component's group as a row flagged ``conflict`` when both its anchors
    are in that component (otherwise no model edge can join them anyway).

    Components go to the Python workers in buckets: at least ``partitions`` of them (one task
    each) and at most about ``CLUSTER_BUCKET_EDGES`` edges in one (a bucket is one pandas frame
    in a worker's memory)."""
    from pyspark.sql import functions as F

    grouped = edges.join(comps.withColumnRenamed("node", "u"), "u").select(
        "component", "a_type", "a_value", "b_type", "b_value", "support", "evidence", F.lit(False).alias("conflict"),
        F.col("match.rule").alias("m_rule"), F.col("match.model").alias("m_model"),
        F.col("match.probability").alias("m_probability"), F.col("match.weight").alias("m_weight"),
        F.col("match.levels").alias("m_levels"))
    if conflicts is not None:
        comp_x = comps.select(F.col("node").alias("x"), F.col("component"))
        comp_y = comps.select(F.col("node").alias("y"), F.col("component").alias("component_y"))
        in_one = (
            conflicts.withColumn("x", F.xxhash64("x_type", "x_value")).withColumn("y", F.xxhash64("y_type", "y_value"))
            .join(comp_x, "x").join(comp_y, "y").where(F.col("component") == F.col("component_y"))
        )
        grouped = grouped.unionByName(in_one.select(
            "component", F.col("x_type").alias("a_type"), F.col("x_value").alias("a_value"),
            F.col("y_type").alias("b_type"), F.col("y_value").alias("b_value"), F.lit(0).cast("long").alias("support"),
            F.array().cast("array<struct<source:string,record_id:string>>").alias("evidence"),
            F.lit(True).alias("conflict"), *[F.lit(None).cast(t).alias(c) for c, t in (
                ("m_rule", "string"), ("m_model", "string"), ("m_probability", "double"), ("m_weight", "double"),
                ("m_levels", LEVELS))]))
    # whole components in buckets, one pandas call per bucket
    buckets = max(partitions, -(-n_edges // CLUSTER_BUCKET_EDGES))
    return (grouped.withColumn("bucket", F.pmod(F.xxhash64("component"), F.lit(buckets)))
            .groupBy("bucket").applyInPandas(_cluster_fn(rules_path, region, match_limits), CLUSTER_OUT))


def members_frame(clustered, anchors):
    """Every identifier with its cluster key (``id_type``, ``id_value``, ``k_type``, ``k_value``):
    the clustered nodes, plus each anchor without links as a cluster of its own."""
    from pyspark.sql import functions as F

    linked = clustered.where("kind = 'm'").select(
        F.col("n_type").alias("id_type"), F.col("n_value").alias("id_value"),
        F.col("k_type"), F.col("k_value"))
    isolated = (
        anchors.select(F.col("a_type").alias("id_type"), F.col("a_value").alias("id_value")).distinct()
        .join(linked.select("id_type", "id_value"), ["id_type", "id_value"], "left_anti")
        .select("id_type", "id_value", F.col("id_type").alias("k_type"), F.col("id_value").alias("k_value"))
    )
    return linked.unionByName(isolated)


def _previous(spark, lake: Lake, speed) -> Previous:
    """The last run's state, plus the speed layer's real-time assignments when given."""
    prev_state, prev_ucids = previous_state(spark, lake)
    if speed is not None:  # (identifiers, ucids) the speed layer assigned in real time
        from batch.speed_state import merge_into

        prev_state, prev_ucids = merge_into(prev_state, prev_ucids, *speed)
    return Previous(prev_state.localCheckpoint(**CHECKPOINT), prev_ucids.localCheckpoint(**CHECKPOINT))


def _assign(spark, members, prev: Previous, now: int) -> Assigned:
    """Step 4: each cluster keeps the earliest-minted UCID it is heir of, or mints one."""
    heirs = heirs_frame(members, prev, now).localCheckpoint(**CHECKPOINT)
    claims = claims_frame(heirs)
    keys = members.select("k_type", "k_value").distinct()
    kept = keys.join(claims, ["k_type", "k_value"], "inner").localCheckpoint(**CHECKPOINT)
    to_mint = _mint(spark, keys.join(claims, ["k_type", "k_value"], "left_anti"), prev.ucids)
    ucid_for = kept.select("k_type", "k_value", "ucid").unionByName(to_mint.select("k_type", "k_value", "ucid"))
    return Assigned(heirs, kept, to_mint, ucid_for.localCheckpoint(**CHECKPOINT))


def heirs_frame(members, prev: Previous, now: int):
    """Each previous UCID still holding a present identifier, with its heir: the earliest-seen
    such identifier (``h_type``, ``h_value``; tie: the smallest) and its cluster key, and
    ``minted_at`` (``now`` if unknown)."""
    from pyspark.sql import functions as F

    minted = prev.ucids.select("ucid", "minted_at")
    with_prev = members.join(prev.state, ["id_type", "id_value"], "inner").join(minted, "ucid", "left")
    seen = F.coalesce(F.col("first_seen"), F.col("minted_at"), F.lit(now))
    return (
        with_prev.groupBy("ucid")
        .agg(F.min(F.struct(seen.alias("s"), F.col("id_type").alias("t"), F.col("id_value").alias("v"),
                            F.col("k_type").alias("kt"), F.col("k_value").alias("kv"))).alias("h"),
             F.first("minted_at").alias("minted_at"))
        .select("ucid", F.col("h.t").alias("h_type"), F.col("h.v").alias("h_value"),
                F.col("h.kt").alias("k_type"), F.col("h.kv").alias("k_value"),
                F.coalesce("minted_at", F.lit(now)).alias("minted_at"))
    )


def claims_frame(heirs):
    """Per cluster heir of some UCID: the one it keeps (earliest minted, then smallest UCID),
    ``n_claims`` and every ``claims`` (ucid, minted_at, h_type, h_value)."""
    from pyspark.sql import functions as F

    return (
        heirs.groupBy("k_type", "k_value")
        .agg(F.min(F.struct("minted_at", "ucid")).alias("w"), F.count("*").alias("n_claims"),
             F.collect_list(F.struct("ucid", "minted_at", "h_type", "h_value")).alias("claims"))
        .select("k_type", "k_value", F.col("w.ucid").alias("ucid"), "n_claims", "claims")
    )


def _mint(spark, keys, prev_ucids):
    """``keys`` (clusters heir of no UCID) with a new ``ucid`` each, never one already issued.

    Raises ``RuntimeError`` if two clusters got the same UCID (a hash collision): nothing is
    published then."""
    from pyspark.sql import functions as F

    to_mint = keys.withColumn("ucid", _mint_udf()(F.col("k_type"), F.col("k_value"))).localCheckpoint(**CHECKPOINT)
    # a candidate already issued (rare: a split-off part whose seed minted before) gets salted
    clashes = to_mint.join(prev_ucids.select("ucid"), "ucid", "left_semi").collect()
    if clashes:
        prev_set = {r.ucid for r in prev_ucids.select("ucid").collect()}
        fixes = [(r.k_type, r.k_value, mint_unique((r.k_type, r.k_value), prev_set)) for r in clashes]
        fix_df = spark.createDataFrame(fixes, "k_type string, k_value string, fixed string")
        to_mint = to_mint.join(fix_df, ["k_type", "k_value"], "left").select(
            "k_type", "k_value", F.coalesce("fixed", "ucid").alias("ucid")).localCheckpoint(**CHECKPOINT)
    dupes = to_mint.groupBy("ucid").count().where("count > 1").limit(1).collect()
    if dupes:
        raise RuntimeError(f"UCID {dupes[0].ucid} minted twice in one run (hash collision): not publishing")
    return to_mint


def _merge_events(spark, clustered, kept) -> tuple[list[Event], dict[str, str]]:
    """``(merge events, alias -> survivor)`` for the clusters heir of several UCIDs (rare): each
    merge explained by the accepted-edge paths between the heirs, found on the driver."""
    merged = kept.where("n_claims > 1").collect()
    events: list[Event] = []
    redirect: dict[str, str] = {}
    if not merged:
        return events, redirect
    edges_of, rows_of = _accepted_in(spark, clustered, [(r.k_type, r.k_value) for r in merged])
    for r in merged:
        claims_list = sorted(r.claims, key=lambda c: (c["minted_at"], c["ucid"]))
        winner = claims_list[0]
        chain = {}
        for loser in claims_list[1:]:
            redirect[loser["ucid"]] = winner["ucid"]
            path = explain((winner["h_type"], winner["h_value"]), (loser["h_type"], loser["h_value"]),
                           edges_of.get((r.k_type, r.k_value), [])) or []
            for e in path:
                chain[(e.a, e.b)] = e
        evidence = [rows_of[k] for k in sorted(chain)]
        old = tuple(c["ucid"] for c in claims_list)
        rule = ",".join(sorted({e["rule"] for e in evidence}))
        events.append(("merge", old, winner["ucid"], rule, _edge_json(evidence)))
    return events, redirect


def _accepted_in(spark, clustered, keys: list[tuple[str, str]]) -> tuple[dict[tuple, list[Edge]], dict[tuple, dict]]:
    """The accepted edges of the clusters ``keys``, on the driver: ``(cluster key -> edges,
    (a, b) -> the edge as a row for :func:`_edge_json`)``."""
    from pyspark.sql import functions as F

    keys_df = spark.createDataFrame(keys, "k_type string, k_value string")
    acc = clustered.where("kind = 'a'").join(F.broadcast(keys_df), ["k_type", "k_value"]).collect()
    edges_of: dict[tuple, list[Edge]] = {}
    rows_of: dict[tuple, dict] = {}
    # exact edges first: when the model also linked a pair, the exact edge explains it
    for r in sorted(acc, key=lambda r: r.m_model is not None):
        e = Edge((r.n_type, r.n_value), (r.b_type, r.b_value),
                 tuple((x["source"], x["record_id"]) for x in r.evidence), r.support)
        if (e.a, e.b) in rows_of:
            continue
        edges_of.setdefault((r.k_type, r.k_value), []).append(e)
        rows_of[(e.a, e.b)] = {"a_type": e.a[0], "a_value": e.a[1], "b_type": e.b[0], "b_value": e.b[1],
                               "rule": r.rule, "support": e.support,
                               "evidence": [{"source": s, "record_id": i} for s, i in e.evidence]}
    return edges_of, rows_of


def _split_events(members, prev_state, heirs, ucid_for, clustered) -> list[Event]:
    """One split per (previous UCID ``X``, cluster other than ``X``'s heir holding some of ``X``'s
    identifiers), explained by the edges refused between the two clusters, if any."""
    from pyspark.sql import functions as F

    moved = (
        members.join(prev_state.select("id_type", "id_value", "ucid"), ["id_type", "id_value"])
        .join(heirs.select("ucid", F.col("k_type").alias("hk_type"), F.col("k_value").alias("hk_value")), "ucid")
        .where((F.col("k_type") != F.col("hk_type")) | (F.col("k_value") != F.col("hk_value")))
        .select("ucid", "k_type", "k_value", "hk_type", "hk_value").distinct()
        .join(ucid_for.withColumnRenamed("ucid", "new_ucid"), ["k_type", "k_value"])
        .collect()
    )
    if not moved:
        return []
    between: dict[frozenset, list] = {}
    for r in clustered.where("kind = 'r'").collect():
        pair = frozenset([(r.k_type, r.k_value), (r.kb_type, r.kb_value)])
        between.setdefault(pair, []).append(r)
    events: list[Event] = []
    for m in sorted(moved, key=lambda m: (m.ucid, m.k_type, m.k_value)):
        pair = frozenset([(m.hk_type, m.hk_value), (m.k_type, m.k_value)])
        rs = sorted(between.get(pair, []), key=lambda r: ((r.n_type, r.n_value), (r.b_type, r.b_value)))
        rule = "refused: " + "; ".join(sorted({r.reason for r in rs})) if rs else "links gone"
        ev = [{"a_type": r.n_type, "a_value": r.n_value, "b_type": r.b_type, "b_value": r.b_value,
               "rule": r.rule, "support": r.support, "evidence": r.evidence} for r in rs]
        events.append(("split", (m.ucid,), m.new_ucid, rule, _edge_json(ev)))
    return events


def _retire_events(prev: Previous, heirs) -> tuple[list[Event], set[str]]:
    """``(retire events, every id retired now)``: previous UCIDs with no identifier present, each
    retired together with its aliases."""
    from pyspark.sql import functions as F

    prev_live = prev.state.select("ucid").distinct()
    retired = [r.ucid for r in prev_live.join(heirs.select("ucid"), "ucid", "left_anti").collect()]
    events: list[Event] = []
    retired_now: set[str] = set()
    if not retired:
        return events, retired_now
    alias_rows = _previous_aliases(prev.ucids).where(F.col("merged_into").isin(retired)).collect()
    aliases_of: dict[str, list[str]] = {}
    for r in alias_rows:
        aliases_of.setdefault(r.merged_into, []).append(r.alias)
    for x in sorted(retired):
        old = (x, *sorted(aliases_of.get(x, [])))
        retired_now.update(old)
        events.append(("retire", old, None, "no identifiers left", "[]"))
    return events, retired_now


def _previous_aliases(prev_ucids):
    """The previous aliases: ``alias`` -> ``merged_into``."""
    from pyspark.sql import functions as F

    return prev_ucids.where("status = 'merged'").select(F.col("ucid").alias("alias"), F.col("merged_into"))


def state_frame(members, ucid_for, prev_state, now: int):
    """The new identity state: every identifier with its UCID, ``first_seen`` (kept from the
    previous state, else ``now``) and its cluster key."""
    from pyspark.sql import functions as F

    return (
        members.join(ucid_for, ["k_type", "k_value"])
        .join(prev_state.select("id_type", "id_value", F.col("first_seen").alias("prev_seen")),
              ["id_type", "id_value"], "left")
        .select("id_type", "id_value", "ucid", F.coalesce("prev_seen", F.lit(now)).cast("long").alias("first_seen"),
                F.col("k_type").alias("cluster_type"), F.col("k_value").alias("cluster_value"))
    )


def ucids_frame(spark, prev_ucids, ids: Assigned, redirect: dict[str, str], retired_now: set[str], now: int):
    """Every UCID ever issued with ``minted_at`` and its ``status``: ``live``, ``merged`` (with the
    live UCID it is ``merged_into``: alias chains collapsed) or ``retired``."""
    from pyspark.sql import functions as F

    redirect_df = spark.createDataFrame(list(redirect.items()), "alias string, target string")
    aliases = (
        _previous_aliases(prev_ucids).where(~F.col("alias").isin(list(retired_now)) if retired_now else F.lit(True))
        .join(redirect_df.withColumnRenamed("alias", "merged_into"), "merged_into", "left")
        .select("alias", F.coalesce("target", "merged_into").alias("merged_into"))
        .unionByName(redirect_df.select("alias", F.col("target").alias("merged_into")))
    )
    live = ids.ucid_for.select("ucid").distinct().withColumn("live", F.lit(True))
    return (
        prev_ucids.select("ucid", "minted_at")
        .unionByName(ids.to_mint.select("ucid", F.lit(now).cast("long").alias("minted_at")))
        .join(live, "ucid", "left").join(aliases.withColumnRenamed("alias", "ucid"), "ucid", "left")
        .select("ucid", "minted_at",
                F.when(F.col("live"), "live").when(F.col("merged_into").isNotNull(), "merged")
                .otherwise("retired").alias("status"),
                F.when(F.col("live").isNull(), F.col("merged_into")).alias("merged_into"))
    )


def changes_frame(spark, members, prev_state, to_mint, events: list[Event], now: int, run_id: str):
    """This run's change log: a mint per new cluster none of whose identifiers had a UCID, then
    the driver's merge, split and retire ``events``; ``change_id`` is a hash of the change."""
    from pyspark.sql import functions as F

    had_prev = members.join(prev_state.select("id_type", "id_value"), ["id_type", "id_value"], "left_semi") \
        .select("k_type", "k_value").distinct()
    mint_events = to_mint.join(had_prev, ["k_type", "k_value"], "left_anti").select(
        F.lit("mint").alias("kind"), F.array().cast("array<string>").alias("old_ids"), F.col("ucid").alias("new_id"),
        F.lit("new identifiers").alias("rule"), F.lit("[]").alias("evidence"))
    other = spark.createDataFrame([(k, list(old), new, rule, ev) for k, old, new, rule, ev in events], EVENTS_SCHEMA)
    return mint_events.unionByName(other).select(
        F.sha2(F.concat_ws("|", "kind", F.concat_ws(",", "old_ids"), F.coalesce("new_id", F.lit("")),
                           F.lit(str(now))), 256).substr(1, 24).alias("change_id"),
        "kind", "old_ids", "new_id", "rule", "evidence", F.lit(now).cast("long").alias("at"),
        F.lit(run_id).alias("run_id"))


def assignments_frame(anchors, new_state):
    """Every record's UCID: record -> anchor -> cluster -> UCID."""
    from pyspark.sql import functions as F

    return anchors.join(
        new_state.select(F.col("id_type").alias("a_type"), F.col("id_value").alias("a_value"), "ucid"),
        ["a_type", "a_value"]).select("source", "record_id", "ucid", "a_type", "a_value", "rows")


def _match_column():
    """A model edge's evidence as one struct column (null on an exact edge): model version,
    probability, match weight and each comparison's level, label and weight."""
    from pyspark.sql import functions as F

    return F.when(F.col("m_model").isNotNull(), F.struct(
        F.col("m_model").alias("model"), F.col("m_probability").alias("probability"),
        F.col("m_weight").alias("weight"), F.col("m_levels").alias("levels"))).alias("match")


def links_frame(clustered, ucid_for):
    """The accepted edges with their rule, evidence records, the model's evidence (``match``,
    null on an exact edge) and the UCID of their cluster. One row per identifier pair: when the
    model linked two anchors an exact rule had already linked, the exact link is the row."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    pair = Window.partitionBy("n_type", "n_value", "b_type", "b_value").orderBy(F.col("m_model").isNotNull())
    return (
        clustered.where("kind = 'a'").withColumn("_n", F.row_number().over(pair)).where("_n = 1")
        .join(ucid_for, ["k_type", "k_value"])
        .select(F.col("n_type").alias("a_type"), F.col("n_value").alias("a_value"), "b_type", "b_value",
                "rule", "support", "evidence", "ucid", _match_column())
    )


def refused_links_frame(clustered, ucid_for):
    """The refused edges with their rule, reason, the UCIDs of both sides and the model's
    evidence (``match``, null on an exact edge)."""
    from pyspark.sql import functions as F

    return (
        clustered.where("kind = 'r'")
        .join(ucid_for.withColumnRenamed("ucid", "ucid_a"), ["k_type", "k_value"])
        .join(ucid_for.select(F.col("k_type").alias("kb_type"), F.col("k_value").alias("kb_value"),
                              F.col("ucid").alias("ucid_b")), ["kb_type", "kb_value"])
        .select(F.col("n_type").alias("a_type"), F.col("n_value").alias("a_value"), "b_type", "b_value",
                "rule", "support", "evidence", "reason", "ucid_a", "ucid_b", _match_column())
    )


def _write_gold(spark, lake: Lake, run_id: str, snapshots: dict, changes) -> None:
    """Write the state tables as whole snapshots (time travel keeps the history), in the given
    order, then this run's change log (replacing the run's rows on a retry)."""
    for name, df in snapshots.items():
        df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(lake.gold(name))
    path = lake.gold("identity_changes")
    if exists(spark, path):
        changes.write.format("delta").mode("overwrite").option("replaceWhere", f"run_id = '{run_id}'").save(path)
    else:
        changes.write.format("delta").save(path)


def _closing_stats(spark, lake: Lake, anchors, clustered, events: list[Event]) -> dict[str, int]:
    """Records, refused edges, events by kind and the largest cluster (in records, as written)."""
    from pyspark.sql import functions as F

    return {
        "records": anchors.count(),
        "edges_refused": clustered.where("kind = 'r'").count(),
        "events_merge": sum(1 for e in events if e[0] == "merge"),
        "events_split": sum(1 for e in events if e[0] == "split"),
        "events_retire": sum(1 for e in events if e[0] == "retire"),
        "largest_cluster_records": (
            spark.read.format("delta").load(lake.gold("assignments")).groupBy("ucid").count()
            .agg(F.max("count")).first()[0] or 0
        ),
    }
