"""``ucid validate``: run the Great Expectations suites on the current lake (and Cassandra)."""

from __future__ import annotations

import json

import typer


def validate(
    layers: str = typer.Option(
        "bronze,silver,gold", "--layers",
        help="comma-separated layers: bronze, silver, gold (the lake), published (Cassandra)",
    ),
    run_id: str | None = typer.Option(
        None, "--run-id", help="rate the quarantine of this run's loads (default: each source's latest load)"),
    show: str = typer.Option("failed", "--show", help="which expectations to list: failed | all"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON instead of tables"),
) -> None:
    """Validate the lake with the suites in expectations/ and print the results; exit 1 on any failure."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from batch.tables import Lake
    from batch.validate import LAYERS, validate_lake
    from identity.rules import load_policy
    from identity.sources import load_sources
    from infra.settings import get_settings

    console = Console()
    chosen = [x.strip() for x in layers.split(",") if x.strip()]
    unknown = [x for x in chosen if x not in LAYERS]
    if unknown or not chosen:
        console.print(f"[red]unknown layer(s):[/red] {', '.join(unknown) or '(none)'}; layers: {', '.join(LAYERS)}")
        raise typer.Exit(2)
    if show not in ("failed", "all"):
        console.print("[red]--show must be failed or all[/red]")
        raise typer.Exit(2)
    settings = get_settings()
    policy = load_policy(settings.conf_dir / "rules.yaml")
    sources = load_sources(settings.conf_dir / "sources", known_types=set(policy.types))
    from batch.spark import spark_session

    spark = spark_session(settings, app_name="ucid-validate")
    summary = validate_lake(
        spark, Lake(settings.lake), settings.batch, policy, run_id=run_id, layers=chosen, sources=sources,
        settings=settings, raise_on_failure=False,
        report=None if as_json else lambda msg: console.print(f"  {escape(msg)}", style="dim"),
    )
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        suites = Table(title=f"suites ({settings.lake})")
        for col in ("suite", "table", "rows", "passed", "failed", "s"):
            suites.add_column(col, justify="right" if col in ("rows", "passed", "failed", "s") else "left")
        for name, s in summary["suites"].items():
            suites.add_row(name, escape(s["table"]), f"{s['rows']:,}", str(s["expectations"] - s["failed"]),
                           f"[red]{s['failed']}[/red]" if s["failed"] else "0", f"{s['seconds']:.1f}")
        console.print(suites)
        listed = [r for r in summary["results"] if show == "all" or not r["success"]]
        if listed:
            table = Table(title="expectations" if show == "all" else "failed expectations")
            for col in ("suite", "expectation", "column", "why", "result"):
                table.add_column(col, overflow="fold")
            for r in listed:
                table.add_row(r["suite"], r["expectation"], r["column"] or "", escape(r["why"] or ""),
                              ("[green]ok[/green] " if r["success"] else "[red]FAILED[/red] ") + escape(r["detail"] or ""))
            console.print(table)
        verdict = "[red]FAILED[/red]" if summary["failed"] else "[green]passed[/green]"
        console.print(f"{summary['expectations'] - summary['failed']}/{summary['expectations']} expectations "
                      f"passed: {verdict}")
    if summary["failed"]:
        raise typer.Exit(1)
