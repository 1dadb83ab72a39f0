"""Gold consents: every consent statement per UCID (``gold/consents``) and the winner per purpose
and channel (``gold/consent_state``), Spark-native equivalents of :mod:`identity.consents`.

Statements come from the silver records assigned to a UCID, as the speed layer makes them from
events (:meth:`identity.consents.Vocabulary.event_statements`):

* the consent map of a profile source's record (``consents`` in its source definition), or of an
  event record of type ``consent_change`` -- each name the vocabulary knows, with the value
  ``opt_in`` / ``opt_out``; the legal basis is the record's ``legal_basis`` attribute when the
  vocabulary knows it, else the default;
* the statements an event type implies (``events`` in ``conf/consents.yaml``: an
  ``email_unsubscribe`` is an opt-out of marketing e-mail);
* the source is the emitting system: a stream record's ``origin_source`` (the event's ``source``,
  what the speed layer records), else the record's source; the time is the event time to the
  millisecond. A record without an event time states nothing (the speed layer has none such).

The same statement from two records (a consents capture landed as a file and as a stream event)
is kept once. ``gold/consent_state`` folds them as :func:`identity.consents.fold` does: latest
event time, then source priority, source name, opt_out before opt_in, legal basis.
"""

from __future__ import annotations

from batch.tables import Lake
from identity.consents import STATUSES, Vocabulary

STREAM = "stream"
COLUMNS = ("ucid", "purpose", "channel", "event_time", "source", "status", "legal_basis")


def _names(vocabulary: Vocabulary) -> dict[str, str]:
    """Every consent name the vocabulary understands -> ``purpose|channel``."""
    out = {f"{p}_{c}": f"{p}|{c}" for p in vocabulary.purposes for c in vocabulary.channels}
    out.update({name: f"{m.purpose}|{m.channel}" for name, m in vocabulary.config.names.items()})
    return out


def _lit_map(pairs: dict):
    from pyspark.sql import functions as F

    return F.create_map(*[F.lit(x) for k, v in sorted(pairs.items()) for x in (k, v)])


def statements(records, vocabulary: Vocabulary):
    """``ucid, purpose, channel, event_time, source, status, legal_basis``, one row per distinct
    statement of ``records`` (silver records with their ``ucid``)."""
    from pyspark.sql import functions as F

    config = vocabulary.config
    timed = records.where(F.col("event_time").isNotNull()).select(
        "ucid", "kind", "event_type", "consents", "attributes",
        F.timestamp_millis(F.unix_millis("event_time")).alias("event_time"),
        F.when(F.col("source") == STREAM, F.coalesce(F.col("attributes")["origin_source"], F.lit(STREAM)))
        .otherwise(F.col("source")).alias("source"))
    basis = F.col("attributes")["legal_basis"]
    stated = timed.where((F.col("kind") == "profile") | (F.col("event_type") == "consent_change")).select(
        "ucid", "event_time", "source", F.explode("consents").alias("name", "status"),
        F.when(basis.isin(*config.legal_bases), basis).otherwise(F.lit(config.default_legal_basis))
        .alias("legal_basis"))
    implied_by = {t: ",".join(f"{n}={s}" for n, s in sorted(m.items())) for t, m in config.events.items()}
    if implied_by:
        implied = timed.where(F.col("kind") == "event").select(
            "ucid", "event_time", "source", F.explode(F.split(_lit_map(implied_by)[F.col("event_type")], ","))
            .alias("pair")).select(
            "ucid", "event_time", "source", F.split("pair", "=")[0].alias("name"),
            F.split("pair", "=")[1].alias("status"), F.lit(config.default_legal_basis).alias("legal_basis"))
        stated = stated.unionByName(implied)
    term = _lit_map(_names(vocabulary))[F.col("name")]
    return (stated.where(term.isNotNull() & F.col("status").isin(*STATUSES))
            .select("ucid", F.split(term, r"\|")[0].alias("purpose"), F.split(term, r"\|")[1].alias("channel"),
                    "event_time", "source", "status", "legal_basis")
            .dropDuplicates(list(COLUMNS)))


def fold(statements_df, vocabulary: Vocabulary):
    """The winning statement per ``ucid, purpose, channel`` (see the module docstring)."""
    from pyspark.sql import functions as F

    config = vocabulary.config
    priority = F.coalesce(_lit_map(config.source_priority)[F.col("source")], F.lit(config.default_priority)) \
        if config.source_priority else F.lit(config.default_priority)
    key = F.struct((-F.unix_millis("event_time")).alias("t"), priority.alias("p"), F.col("source").alias("s"),
                   F.when(F.col("status") == "opt_out", 0).otherwise(1).alias("o"),
                   F.col("legal_basis").alias("b"), F.col("status").alias("status"),
                   F.col("event_time").alias("event_time"))
    won = statements_df.groupBy("ucid", "purpose", "channel").agg(F.min(key).alias("w"))
    return won.select("ucid", "purpose", "channel", "w.status", "w.event_time", F.col("w.s").alias("source"),
                      F.col("w.b").alias("legal_basis"))


def build(spark, lake: Lake, vocabulary: Vocabulary) -> dict:
    """Write ``gold/consents`` and ``gold/consent_state``; return their row counts."""
    assignments = spark.read.format("delta").load(lake.gold("assignments")).select("source", "record_id", "ucid")
    records = spark.read.format("delta").load(lake.silver("records")).join(assignments, ["source", "record_id"])
    stated = statements(records, vocabulary)
    stated.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(lake.gold("consents"))
    saved = spark.read.format("delta").load(lake.gold("consents"))
    fold(saved, vocabulary).write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(
        lake.gold("consent_state"))
    return {"consent_statements": saved.count(),
            "consent_state": spark.read.format("delta").load(lake.gold("consent_state")).count()}
