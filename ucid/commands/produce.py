"""``ucid produce``: publish a JSON-lines event stream (e.g. ``ucid generate --stream``) to Kafka."""

from __future__ import annotations

from pathlib import Path

import typer


def produce(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON lines, one event per line ('-' not supported)"),
    topic: str = typer.Option("events", "--topic", "-t", help="topic name from infra/topics.yaml (the prefix is added)"),
    rate: float = typer.Option(0.0, "--rate", "-r", min=0, help="messages per second; 0 = as fast as possible"),
    limit: int = typer.Option(0, "--limit", "-n", min=0, help="send at most this many lines; 0 = all"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar and no summary"),
) -> None:
    """Send each line as one message, keyed by the event's session identifier (cookie / device)
    or else its strongest identifier, so one customer's session stays on one partition, in order."""
    from itertools import islice

    from kafka import KafkaProducer
    from kafka.errors import KafkaError
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from identity.rules import load_policy
    from infra.settings import get_settings
    from speed.produce import produce_lines

    settings = get_settings()
    console = Console(stderr=True, quiet=quiet)
    policy = load_policy(settings.conf_dir / "rules.yaml")
    full_topic = settings.kafka.topic_prefix + topic
    total = sum(1 for line in file.open("rb") if line.strip())
    total = min(total, limit) if limit else total
    try:
        producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all", linger_ms=10)
    except KafkaError as exc:
        console.print(f"[red]error:[/red] cannot reach Kafka at {settings.kafka.bootstrap_servers}: {exc}")
        raise typer.Exit(2) from exc
    try:
        with file.open("rb") as fh, Progress(TextColumn(f"producing to {full_topic}"), BarColumn(),
                                             MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                                             disable=quiet) as bar:
            task = bar.add_task("events", total=total)
            lines = islice(fh, limit) if limit else fh
            stats = produce_lines(producer, full_topic, lines, policy, rate, lambda n: bar.advance(task, n))
    except KafkaError as exc:
        console.print(f"[red]error:[/red] sending to {full_topic} failed: {exc}")
        raise typer.Exit(1) from exc
    finally:
        producer.close()
    console.print(f"sent {stats.sent:,} messages to {full_topic} in {stats.seconds:.1f}s "
                  f"({stats.sent / max(stats.seconds, 1e-9):,.0f}/s); {stats.unkeyed:,} without a key")
