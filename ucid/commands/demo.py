"""``ucid demo``: the main job, end to end on this machine (what ``make demo`` runs)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer


def demo(
    customers: int = typer.Option(5000, "--customers", "-n", min=100, help="customers to generate"),
    seed: int = typer.Option(7, "--seed", "-s", help="generator seed"),
    days: int = typer.Option(30, "--days", min=3, help="days of data"),
    live_days: int = typer.Option(2, "--live-days", min=1, help="last days replayed through Kafka, not landed"),
    rate: float = typer.Option(20.0, "--rate", min=0.1, help="live stream events per second"),
    port: int = typer.Option(8000, "--port", help="API port"),
    metrics_port: int = typer.Option(9464, "--metrics-port", help="speed layer Prometheus port"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="keep running until Ctrl-C (--no-wait: stop when ready)"),
    work_dir: Path | None = typer.Option(None, "--dir", help="demo work folder (default UCID_HOME/demo)"),
) -> None:
    """Stack up, generate, Airflow DAG (batch), speed layer on a live stream, API; print what to try."""
    import os

    from infra.settings import get_settings

    # the DAG's tasks are clients of one Spark Connect server that `stack up` starts (a warm JVM
    # for all of them), unless the user chose: UCID_SPARK_SERVER=false, or a server of their own
    if "UCID_SPARK_SERVER" not in os.environ and "UCID_SPARK_REMOTE" not in os.environ:
        os.environ["UCID_SPARK_SERVER"] = "true"
    from ucid.demo import Demo, DemoConfig, main

    if live_days >= days:
        raise typer.BadParameter("--live-days must be below --days")
    config = DemoConfig(customers=customers, seed=seed, days=days, start_date=date(2026, 1, 1), live_days=live_days,
                        rate=rate, api_port=port, speed_metrics_port=metrics_port, wait=wait,
                        work_dir=work_dir)
    raise typer.Exit(main(Demo(get_settings(), config)))
