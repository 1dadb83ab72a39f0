"""Prometheus metrics of ``ucid speed run`` (served on ``UCID_SPEED_METRICS_PORT`` if set)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)

REGISTRY = CollectorRegistry()

EVENTS = Counter("ucid_speed_events_total",
                 "events consumed, by result (applied, duplicate, dead_letter, suppressed: an erased person's)",
                 ["result"], registry=REGISTRY)
STITCH = Counter("ucid_speed_stitch_total", "stitch outcomes (new, attach, merge, unchanged, unidentified)",
                 ["outcome"], registry=REGISTRY)
REFUSED = Counter("ucid_speed_links_refused_total", "links refused by a limit or the size guard", registry=REGISTRY)
CONTENDED = Counter("ucid_speed_lock_contention_total", "identity lease attempts that had to retry",
                    registry=REGISTRY)
DEAD_LETTERS = Counter("ucid_speed_dead_letters_total", "messages sent to the dead-letter topic", registry=REGISTRY)
TRIGGERS = Counter("ucid_speed_triggers_total", "triggers emitted", ["rule"], registry=REGISTRY)
SEGMENT_CHANGES = Counter("ucid_speed_segment_changes_total", "segment membership changes sent (entered, left)",
                          ["change"], registry=REGISTRY)
LAG = Gauge("ucid_speed_consumer_lag", "messages behind the end of the partition", ["partition"], registry=REGISTRY)
RATE = Gauge("ucid_speed_events_per_second", "events applied per second over the last progress interval",
             registry=REGISTRY)
LATENCY = Histogram("ucid_speed_produce_to_visible_seconds", "message timestamp -> all writes acknowledged",
                    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=REGISTRY)
BATCH = Histogram("ucid_speed_batch_seconds", "time to process and commit one batch", registry=REGISTRY)


def serve(port: int) -> None:
    """Expose the metrics over HTTP (a daemon thread); ``port`` 0 does nothing."""
    if port:
        start_http_server(port, registry=REGISTRY)
