"""Gold computed traits and segment memberships (issue 17): ``gold/traits`` and
``gold/segment_members``, evaluated by :mod:`identity.segments` at the run's snapshot time.

Per live UCID (every UCID with a silver record): its event records (sources of kind ``event``,
an event delivered twice counted once, as in ``gold/events``), its consent statements (as
``gold/consents`` makes them, :func:`batch.consents.statements`) and its profile attributes
(``gold/profiles`` when the profiles stage ran) are brought together in one row, and a Python
function evaluates the rows of each Spark partition with :func:`identity.segments.facts_of` and
:func:`identity.segments.evaluate` -- the very functions the speed layer calls on each poll.

``gold/traits``: ``ucid, traits`` (name -> JSON value), ``facts`` (the JSON accumulators the speed
layer adds its newer events to), ``snapshot``. ``gold/segment_members``: one row per UCID and
defined segment, ``member`` true or false (so that a publish also writes who left), with the
snapshot. Delta keeps each run's version: the segment sizes over time are the table's history.

The evaluating function is shipped with the source of :mod:`identity.segments` and the two YAML
files, and compiles them in the Python worker: the worker runs the driver's definitions and code
even when the Spark server's checkout is another one (a Spark Connect server started earlier).
"""

from __future__ import annotations

from pathlib import Path

from batch.tables import Lake, exists

OUT_SCHEMA = ("ucid string, traits map<string,string>, facts string, "
              "memberships array<struct<segment:string,member:boolean>>")


def _evaluator(source: str, segments_yaml: str, consents_yaml: str, now_ms: int):
    """The ``mapInArrow`` function: one output row per input row (a UCID with its events,
    statements and attributes). Self-contained: it refers to nothing of this module."""

    def run(batches):
        import hashlib
        import sys
        import types

        import pyarrow as pa
        import yaml

        name = "_ucid_segments_" + hashlib.sha256(source.encode()).hexdigest()[:16]
        mod = sys.modules.get(name)
        if mod is None:
            mod = types.ModuleType(name)
            sys.modules[name] = mod
            exec(compile(source, "identity/segments.py", "exec"), mod.__dict__)  # noqa: S102 -- our own source
        from identity.consents import ConsentFile, Statement, Vocabulary

        vocabulary = Vocabulary(ConsentFile.model_validate(yaml.safe_load(consents_yaml)))
        defs = mod.definitions_from_text(segments_yaml, "conf/segments.yaml", vocabulary)
        names = sorted(defs.segments)
        for batch in batches:
            rows = batch.to_pylist()
            out_ucid, out_traits, out_facts, out_members = [], [], [], []
            for row in rows:
                events = [mod.EventFact(e["id"], e["type"], e["channel"], e["t"], e["amount"],
                                        dict(e["attributes"] or []))
                          for e in row["events"] or []]
                statements = [Statement(s["purpose"], s["channel"], s["status"], s["source"], s["t"],
                                        s["legal_basis"]) for s in row["statements"] or []]
                facts = mod.facts_of(defs, events)
                got = mod.evaluate(defs, vocabulary, facts, dict(row["attributes"] or []), statements, now_ms)
                out_ucid.append(row["ucid"])
                out_traits.append([(k, mod.encode_trait(v)) for k, v in sorted(got.traits.items())])
                out_facts.append(mod.dump_facts(facts))
                out_members.append([{"segment": n, "member": n in got.segments} for n in names])
            yield pa.RecordBatch.from_arrays(
                [pa.array(out_ucid, pa.string()), pa.array(out_traits, pa.map_(pa.string(), pa.string())),
                 pa.array(out_facts, pa.string()),
                 pa.array(out_members, pa.list_(pa.struct([("segment", pa.string()), ("member", pa.bool_())])))],
                names=["ucid", "traits", "facts", "memberships"])

    return run


def inputs(spark, lake: Lake, vocabulary):
    """One row per UCID: ``ucid, events, statements, attributes`` (see the module docstring)."""
    from pyspark.sql import functions as F

    from batch.consents import statements

    assignments = spark.read.format("delta").load(lake.gold("assignments")).select("source", "record_id", "ucid")
    records = spark.read.format("delta").load(lake.silver("records")).join(assignments, ["source", "record_id"])
    ucids = assignments.select("ucid").distinct()
    events = (
        records.where("kind = 'event' AND event_time IS NOT NULL").dropDuplicates(["source", "record_id"])
        .groupBy("ucid").agg(F.collect_list(F.struct(
            F.col("record_id").alias("id"), F.col("event_type").alias("type"), F.col("channel"),
            F.unix_millis("event_time").alias("t"), F.col("measures")["amount"].cast("double").alias("amount"),
            F.col("attributes"))).alias("events")))
    stated = statements(records, vocabulary).groupBy("ucid").agg(F.collect_list(F.struct(
        "purpose", "channel", "status", "source", F.unix_millis("event_time").alias("t"), "legal_basis"))
        .alias("statements"))
    frame = ucids.join(events, "ucid", "left").join(stated, "ucid", "left")
    if exists(spark, lake.gold("profiles")):
        attributes = spark.read.format("delta").load(lake.gold("profiles")).select("ucid", "attributes")
        frame = frame.join(attributes, "ucid", "left")
    else:
        frame = frame.withColumn("attributes", F.create_map().cast("map<string,string>"))
    return frame.select("ucid", "events", "statements", "attributes")


def build(spark, lake: Lake, conf_dir: Path, now: int) -> dict:
    """Write ``gold/traits`` and ``gold/segment_members`` evaluated at ``now`` (epoch seconds, the
    run's snapshot); return counts: UCIDs, and members per segment."""
    from pyspark.sql import functions as F

    import identity.segments as segments
    from identity.consents import load_vocabulary

    vocabulary = load_vocabulary(conf_dir / "consents.yaml")
    defs = segments.load_definitions(conf_dir / "segments.yaml", vocabulary)  # fail here, not in a worker
    run = _evaluator(Path(segments.__file__).read_text(encoding="utf-8"),
                     (conf_dir / "segments.yaml").read_text(encoding="utf-8"),
                     (conf_dir / "consents.yaml").read_text(encoding="utf-8"), now * 1000)
    evaluated = inputs(spark, lake, vocabulary).mapInArrow(run, OUT_SCHEMA).localCheckpoint()
    snapshot = F.lit(now).cast("long").alias("snapshot")
    evaluated.select("ucid", "traits", "facts", snapshot).write.format("delta").mode("overwrite").option(
        "overwriteSchema", "true").save(lake.gold("traits"))
    members = evaluated.select("ucid", F.explode("memberships").alias("m")).select("ucid", "m.segment", "m.member")
    members.select("ucid", "segment", "member", snapshot).write.format("delta").mode("overwrite").option(
        "overwriteSchema", "true").save(lake.gold("segment_members"))
    # the figures from the checkpoint, in one job: UCIDs evaluated, members per segment
    sizes = {r.segment: (int(r.n), int(r.ucids)) for r in members.groupBy("segment").agg(
        F.sum(F.col("member").cast("long")).alias("n"), F.count("*").alias("ucids")).collect()}
    ucids = max((u for _, u in sizes.values()), default=0)
    return {"traits": ucids, **{f"segment_{name}": sizes.get(name, (0, 0))[0] for name in defs.segments}}
