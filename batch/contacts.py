"""Gold contact history: every customer's contacts, folded from their events by
:mod:`identity.contacts` (the same function the API folds the speed layer's newer events with).

``gold/contacts``: one row per ``(ucid, contact_id)`` -- direction, channel, start and last time,
topic, outcome, the first time of each response, details -- and per UCID a summary (contacts and
latest start per ``direction:channel``) that :mod:`batch.profiles` puts on the profile.

The events of a UCID are brought to one Spark partition and folded there in Python (``mapInArrow``,
DataFrame operations only: the same on a Spark Connect session); a customer holds tens to hundreds
of contacts, so a partition's contacts fit in its worker.
"""

from __future__ import annotations

from collections.abc import Iterable

CONTACT_ROW = ("ucid string, contact_id string, direction string, channel string, started_us long, "
               "last_us long, topic string, outcome string, responses map<string,long>, "
               "details map<string,string>")

# gold/contacts
CONTACT_COLUMNS = ("ucid string, contact_id string, direction string, channel string, started_at timestamp, "
                   "last_at timestamp, topic string, outcome string, responses map<string,timestamp>, "
                   "details map<string,string>")


def _fold(batches: Iterable) -> Iterable:
    """``mapInArrow``: rows ``ucid, event_id, event_type, channel, t (epoch µs), attributes`` ->
    the contacts of each UCID (:data:`CONTACT_ROW`)."""
    import pyarrow as pa

    from identity.contacts import combine, contact_of

    held: dict[tuple[str, str], object] = {}
    for batch in batches:
        cols = [c.to_pylist() for c in batch.columns]
        for ucid, event_id, event_type, channel, t, attributes in zip(*cols, strict=True):
            made = contact_of(event_id, event_type, channel, t, dict(attributes or ()))
            if made is not None:
                key = (ucid, made.contact_id)
                held[key] = combine(held[key], made) if key in held else made
    rows = [(ucid, c) for (ucid, _), c in sorted(held.items())]
    for i in range(0, len(rows), 10_000):
        chunk = rows[i:i + 10_000]
        yield pa.RecordBatch.from_pydict({
            "ucid": [u for u, _ in chunk],
            "contact_id": [c.contact_id for _, c in chunk],
            "direction": [c.direction for _, c in chunk],
            "channel": [c.channel for _, c in chunk],
            "started_us": [c.started_at for _, c in chunk],
            "last_us": [c.last_at for _, c in chunk],
            "topic": [c.topic for _, c in chunk],
            "outcome": [c.outcome for _, c in chunk],
            "responses": pa.array([sorted(c.responses.items()) for _, c in chunk], pa.map_(pa.string(), pa.int64())),
            "details": pa.array([sorted(c.details.items()) for _, c in chunk], pa.map_(pa.string(), pa.string())),
        })


def contacts(events):
    """The contacts of ``events`` (``ucid, record_id, event_type, channel, event_time,
    attributes``): ``ucid, contact_id, direction, channel, started_at, last_at, topic, outcome,
    responses`` (response -> first time) ``, details``."""
    from pyspark.sql import functions as F

    rows = events.where("event_time IS NOT NULL").select(
        "ucid", F.col("record_id").alias("event_id"), "event_type", "channel",
        F.unix_micros("event_time").alias("t"), "attributes",
    ).repartition("ucid")
    return rows.mapInArrow(_fold, CONTACT_ROW).select(
        "ucid", "contact_id", "direction", "channel",
        F.timestamp_micros("started_us").alias("started_at"), F.timestamp_micros("last_us").alias("last_at"),
        "topic", "outcome", F.transform_values("responses", lambda _k, v: F.timestamp_micros(v)).alias("responses"),
        "details",
    )


def summary(contacts):
    """``ucid, contact_counts, contact_last``: per UCID, ``direction:channel`` -> contacts, and
    -> the start of the latest one (as :func:`identity.contacts.summary`)."""
    from pyspark.sql import functions as F

    per = contacts.groupBy("ucid", F.concat_ws(":", "direction", "channel").alias("k")).agg(
        F.count("*").alias("n"), F.max("started_at").alias("last"))
    return per.groupBy("ucid").agg(
        F.map_from_entries(F.collect_list(F.struct("k", "n"))).alias("contact_counts"),
        F.map_from_entries(F.collect_list(F.struct("k", "last"))).alias("contact_last"))
