"""``ucid serve``: run the serving API under uvicorn."""

from __future__ import annotations

import os
import shutil
import tempfile

import typer


def serve(
    host: str | None = typer.Option(None, "--host", help="bind address (default UCID_SERVING_HOST, 127.0.0.1)"),
    port: int | None = typer.Option(None, "--port", help="port (default UCID_SERVING_PORT, 8000)"),
    workers: int | None = typer.Option(None, "--workers", help="worker processes (default UCID_SERVING_WORKERS, 1)"),
    access_log: bool = typer.Option(False, "--access-log", help="log one line per request"),
) -> None:
    """Serve the API (resolve, 360 profile, explain, /health, /ready, /metrics) until Ctrl-C."""
    import uvicorn

    from infra.settings import get_settings

    settings = get_settings().serving
    workers = workers or settings.workers
    multiproc_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # every worker writes its metrics here; /metrics sums them (prometheus_client multiprocess)
        multiproc_dir = tempfile.mkdtemp(prefix="ucid-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = multiproc_dir
    try:
        uvicorn.run(
            "serving.app:create_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            access_log=access_log,
            log_level="warning" if not access_log else "info",
            timeout_graceful_shutdown=5,
        )
    finally:
        if multiproc_dir:
            shutil.rmtree(multiproc_dir, ignore_errors=True)
