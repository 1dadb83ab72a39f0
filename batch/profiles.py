"""Gold 360 profiles: one row per live UCID, from every silver record assigned to it.

* ``identities``: every identifier with the sources it came from and when it was first and last
  seen (event time of the records holding it);
* ``attributes``: profile attributes of profile sources, one winner per attribute by the rules'
  survivorship (``source_priority``, ``most_recent``, ``most_frequent``), Spark-native
  equivalents of :func:`identity.survivorship.survive` (a test proves them equal), with the
  winning source in ``attribute_sources``;
* ``consents``: the most recent value of each consent / preference;
* traits: first and last seen, record count, sources, channel counts and last contact per
  channel (event sources), lifetime spend (sum of ``amount`` of purchase events);
* contact history summary: contacts and the start of the latest one per ``direction:channel``
  (``contact_counts``, ``contact_last``; :mod:`batch.contacts`).

``gold/events`` is written alongside: every event record (sources of kind ``event``) on its UCID,
with channel, type, time, attributes and measures -- the customer timelines analysts study
(journeys, abandonment, contact after a web session) -- and ``gold/contacts``, the contact
history folded from those events (:mod:`batch.contacts`).
"""

from __future__ import annotations

from batch.tables import Lake

INF = 1 << 62


def _candidates(records):
    """``ucid, name, value, source, priority, t`` for every non-blank profile attribute value."""
    from pyspark.sql import functions as F

    return (
        records.where("kind = 'profile'")
        .select("ucid", "source", "source_priority", "event_time", F.explode("attributes").alias("name", "value"))
        .where(F.col("value").isNotNull() & (F.trim("value") != ""))
        .select("ucid", "name", "value", "source", F.col("source_priority").alias("priority"),
                F.unix_micros("event_time").alias("t"))
    )


def survive(candidates, rule_of: dict[str, str], default_rule: str):
    """``ucid, name, value, source``: the surviving value of each attribute (see module doc)."""
    from pyspark.sql import functions as F

    # "newest first, unknown time oldest" as an ascending key
    newest = F.coalesce(-F.col("t"), F.lit(INF))
    rule = F.coalesce(F.element_at(F.create_map(*[x for k, v in sorted(rule_of.items())
                                                  for x in (F.lit(k), F.lit(v))]) if rule_of else
                                   F.create_map().cast("map<string,string>"), F.col("name")), F.lit(default_rule))
    c = candidates.withColumn("rule", rule)
    by_priority = c.where("rule = 'source_priority'").groupBy("ucid", "name").agg(
        F.min(F.struct(F.col("priority"), newest.alias("n"), F.col("value"), F.col("source"))).alias("w"))
    by_time = c.where("rule = 'most_recent'").groupBy("ucid", "name").agg(
        F.min(F.struct(newest.alias("n"), F.col("priority"), F.col("value"), F.col("source"))).alias("w"))
    freq = c.where("rule = 'most_frequent'").groupBy("ucid", "name", "value").agg(
        F.count("*").alias("cnt"), F.min(newest).alias("n"), F.min("priority").alias("priority"),
        F.min(F.struct("priority", newest.alias("n2"), "source")).getField("source").alias("source"))
    by_freq = freq.groupBy("ucid", "name").agg(
        F.min(F.struct((-F.col("cnt")).alias("c"), "n", "priority", "value", "source")).alias("w"))
    picked = [by.select("ucid", "name", "w.value", "w.source") for by in (by_priority, by_time, by_freq)]
    return picked[0].unionByName(picked[1]).unionByName(picked[2])


def build(spark, lake: Lake, policy, now: int) -> dict:
    """Write ``gold/profiles``; return counts."""
    from pyspark.sql import functions as F

    from batch import contacts as contact_history

    assignments = spark.read.format("delta").load(lake.gold("assignments")).select("source", "record_id", "ucid")
    records = spark.read.format("delta").load(lake.silver("records")).join(assignments, ["source", "record_id"])

    config = policy.survivorship
    winners = survive(_candidates(records), dict(config.attributes), config.default)
    attributes = winners.groupBy("ucid").agg(
        F.map_from_entries(F.collect_list(F.struct("name", "value"))).alias("attributes"),
        F.map_from_entries(F.collect_list(F.struct("name", "source"))).alias("attribute_sources"))

    consent_rows = (
        records.select("ucid", "source", "event_time", F.explode("consents").alias("name", "value"))
        .groupBy("ucid", "name")
        .agg(F.max(F.struct(F.coalesce(F.unix_micros("event_time"), F.lit(-1)), "value")).getField("value").alias("value"))
    )
    consents = consent_rows.groupBy("ucid").agg(
        F.map_from_entries(F.collect_list(F.struct("name", "value"))).alias("consents"))

    identities = (
        records.select("ucid", "source", "event_time", F.explode("ids").alias("i"))
        .groupBy("ucid", "i.type", "i.value")
        .agg(F.array_sort(F.collect_set("source")).alias("sources"), F.min("event_time").alias("first_seen"),
             F.max("event_time").alias("last_seen"))
        .groupBy("ucid")
        .agg(F.array_sort(F.collect_list(F.struct("type", "value", "sources", "first_seen", "last_seen")))
             .alias("identities"))
    )

    # an event delivered twice (same source and record id: at-least-once extracts) counts once
    events = records.where("kind = 'event' AND channel IS NOT NULL").dropDuplicates(["source", "record_id"])
    channels = (
        events.groupBy("ucid", "channel").agg(F.count("*").alias("n"), F.max("event_time").alias("last"))
        .groupBy("ucid").agg(
            F.map_from_entries(F.collect_list(F.struct("channel", "n"))).alias("channel_counts"),
            F.map_from_entries(F.collect_list(F.struct("channel", "last"))).alias("last_contact"))
    )
    base = records.groupBy("ucid").agg(
        F.min("event_time").alias("first_seen"), F.max("event_time").alias("last_seen"),
        F.count("*").alias("record_count"), F.array_sort(F.collect_set("source")).alias("sources"),
    )
    history = contact_history.contacts(events)
    history.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(lake.gold("contacts"))
    history = spark.read.format("delta").load(lake.gold("contacts"))
    contact_summary = contact_history.summary(history)
    spend = events.where(F.col("event_type") == "purchase").groupBy("ucid").agg(
        F.sum(F.col("measures")["amount"]).alias("lifetime_spend"))
    profiles = (
        base.join(identities, "ucid", "left").join(attributes, "ucid", "left").join(spend, "ucid", "left")
        .join(consents, "ucid", "left").join(channels, "ucid", "left").join(contact_summary, "ucid", "left")
        .select(
            "ucid", "identities",
            F.coalesce("attributes", F.create_map().cast("map<string,string>")).alias("attributes"),
            F.coalesce("attribute_sources", F.create_map().cast("map<string,string>")).alias("attribute_sources"),
            F.coalesce("consents", F.create_map().cast("map<string,string>")).alias("consents"),
            F.coalesce("channel_counts", F.create_map().cast("map<string,bigint>")).alias("channel_counts"),
            F.coalesce("last_contact", F.create_map().cast("map<string,timestamp>")).alias("last_contact"),
            F.coalesce("contact_counts", F.create_map().cast("map<string,bigint>")).alias("contact_counts"),
            F.coalesce("contact_last", F.create_map().cast("map<string,timestamp>")).alias("contact_last"),
            "first_seen", "last_seen", "record_count", "sources",
            F.round(F.coalesce("lifetime_spend", F.lit(0.0)), 2).alias("lifetime_spend"),
            F.lit(now).cast("long").alias("snapshot"),
        )
    )
    profiles.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(lake.gold("profiles"))
    timeline = events.select("ucid", "event_time", "channel", "event_type", "source", "record_id", "attributes",
                             "measures")
    timeline.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(lake.gold("events"))
    return {"profiles": spark.read.format("delta").load(lake.gold("profiles")).count(),
            "events": spark.read.format("delta").load(lake.gold("events")).count(),
            "contacts": history.count()}
