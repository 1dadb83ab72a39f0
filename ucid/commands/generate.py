"""``ucid generate``: a realistic, reproducible landing data set with its ground truth."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path

import typer


def _parse_date(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from exc


def generate(
    customers: int = typer.Option(20_000, "--customers", "-n", min=1, help="number of customers"),
    seed: int = typer.Option(42, "--seed", "-s", help="random seed: same seed and size, same bytes"),
    out: Path = typer.Option(..., "--out", "-o", help="landing folder to write (one sub-folder per source)",
                             file_okay=False),
    days: int = typer.Option(30, "--days", "-d", min=1, max=3660, help="days of data (one folder per day)"),
    start_date: str = typer.Option("2026-01-01", "--start-date", help="first day of the window (YYYY-MM-DD, UTC)"),
    stream: Path | None = typer.Option(
        None, "--stream", help="also write every event as ONE time-ordered JSON-lines file here", dir_okay=False
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace data generated earlier in --out"),
    workers: int = typer.Option(
        0, "--workers", "-w", min=0, help="worker processes (0 = auto: 1 below 40,000 customers, else min(4, CPUs)); output does not depend on it"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar and no summary"),
    hard_cases: bool = typer.Option(
        False, "--hard-cases/--no-hard-cases",
        help="also write what exact rules cannot link (in-store registrations with typos, nicknames, movers) "
             "and look-alike traps (twins, parent and child, same-name strangers, family e-mails); "
             "off: the same bytes as without the option",
    ),
) -> None:
    """Generate customers, their records in eight sources, the truth and (optionally) a stream."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.table import Table

    from ucid.generate import GenerateConfig, GenerateError, generate_dataset
    from ucid.generate.noise import CHUNK_SIZE
    from ucid.generate.runner import default_workers

    console = Console(stderr=True, quiet=quiet)
    config = GenerateConfig(customers=customers, seed=seed, out=out, days=days, start=_parse_date(start_date),
                            stream=stream, overwrite=overwrite, hard_cases=hard_cases)
    started = time.perf_counter()  # for the summary line only; never written into the data
    columns = (TextColumn("generating"), BarColumn(), MofNCompleteColumn(), TextColumn("chunks of"),
               TextColumn(f"{CHUNK_SIZE:,} customers"), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, disable=quiet) as bar:
            task = bar.add_task("chunks", total=-(-customers // CHUNK_SIZE))
            summary = generate_dataset(config, on_chunk=lambda done, total: bar.update(task, completed=done),
                                       workers=workers or default_workers(customers))
    except GenerateError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    elapsed = time.perf_counter() - started
    if quiet:
        return
    table = Table(title="ucid generate", show_edge=False)
    table.add_column("source")
    table.add_column("records", justify="right")
    for source, n in sorted(summary.records.items()):
        table.add_row(source, f"{n:,}")
    table.add_row("[bold]total[/bold]", f"[bold]{sum(summary.records.values()):,}[/bold]")
    console.print(table)
    console.print(
        f"{summary.customers:,} customers + {summary.visitors:,} anonymous visitors; "
        f"{summary.share_in_3_plus():.1%} of persons ({summary.share_in_3_plus(True):.1%} of customers) "
        f"in 3+ sources; {summary.files:,} files; truth: {out / 'truth' / 'truth.csv'}",
        highlight=False,
        soft_wrap=True,
    )
    if stream:
        console.print(f"stream: {summary.stream_events:,} events -> {stream}", highlight=False, soft_wrap=True)
    console.print(f"done in {elapsed:.1f} s", highlight=False)
