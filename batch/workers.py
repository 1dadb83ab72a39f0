"""What a Spark Python worker keeps across tasks: one Cassandra store per settings.

Spark reuses its Python workers (``spark.python.worker.reuse``), so a store connected in one task
serves the next ones and the next steps: publish's tables and the speed-state scan skip the
driver's connection set-up (about a second per task on a small machine). The driver reconnects
by itself if a node restarts.
"""

from __future__ import annotations

import json

_STORES: dict[str, object] = {}


def worker_store(cassandra: dict, concurrency: int = 32, request_timeout_s: float = 30):
    """The worker's store for these settings (``CassandraSettings`` as a JSON-able dict)."""
    from infra.settings import CassandraSettings
    from infra.store import Store

    key = json.dumps([cassandra, concurrency, request_timeout_s], sort_keys=True)
    if key not in _STORES:
        _STORES[key] = Store.connect(CassandraSettings(**cassandra), request_timeout_s=request_timeout_s,
                                     concurrency=concurrency)
    return _STORES[key]
