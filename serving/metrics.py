"""Prometheus metrics: request counts, error counts and latency histograms per route.

A pure ASGI middleware (no per-request task or body buffering) labels each request with its
route template (``/v1/profiles/{ucid}``, never the raw path, so label cardinality stays bounded).
With several uvicorn workers, ``ucid serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics``
aggregates every worker.
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

REQUESTS = Counter("ucid_serving_requests_total", "HTTP requests answered", ["method", "route", "status"])
ERRORS = Counter("ucid_serving_errors_total", "HTTP answers with status >= 500", ["method", "route", "status"])
LATENCY = Histogram(
    "ucid_serving_request_seconds",
    "Time from request received to response sent",
    ["method", "route"],
    buckets=(0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
IDENTIFIER_READS = Histogram(
    "ucid_serving_identifier_read_keys",
    "Identifiers fetched by one Cassandra read (resolves of one event-loop turn coalesced)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
STORE_ERRORS = Counter("ucid_serving_store_errors_total", "Cassandra reads that failed", ["kind"])


class MetricsMiddleware:
    """Counts and times every HTTP request; never changes the response."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            LATENCY.labels(method, template).observe(time.perf_counter() - started)
            REQUESTS.labels(method, template, str(status)).inc()
            if status >= 500:
                ERRORS.labels(method, template, str(status)).inc()


def render() -> tuple[bytes, str]:
    """The exposition text of this process, or of all workers in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
