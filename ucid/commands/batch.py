"""``ucid batch run`` (the whole pipeline or chosen stages) and ``ucid export assignments``."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="The batch layer: landing -> Delta bronze/silver/gold -> Cassandra.", no_args_is_help=True)
export_app = typer.Typer(help="Export gold tables to files.", no_args_is_help=True)


@app.command("run")
def run(
    landing: Path | None = typer.Option(None, "--landing", help="landing zone (default: UCID_LANDING_DIR)"),
    full: bool = typer.Option(False, "--full", help="re-normalize every bronze row and rebuild gold"),
    stages: str = typer.Option(
        "ingest,normalize,resolve,profiles,segments,validate,publish", "--stages",
        help="comma-separated stages to run, in order",
    ),
    now: int | None = typer.Option(None, "--now", help="logical run time, epoch seconds (default: now)"),
    region: str | None = typer.Option(None, "--region", help="default phone region, overriding the rules"),
) -> None:
    """Run the batch pipeline with progress per stage; a failing stage stops the run (exit 1)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from batch import run as pipeline
    from infra.settings import get_settings

    console = Console(stderr=True)
    chosen = [s.strip() for s in stages.split(",") if s.strip()]
    known = pipeline.STAGES + pipeline.VALIDATION_STAGES
    unknown = [s for s in chosen if s not in known]
    if unknown:
        console.print(f"[red]unknown stage(s):[/red] {', '.join(unknown)}; stages: {', '.join(known)}")
        raise typer.Exit(2)
    settings = get_settings()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        ctx = pipeline.context(settings, landing=landing, full=full, now=now, region=region,
                               report=lambda msg: bar.console.print(f"  {escape(msg)}"))
        console.print(f"batch run {ctx.run_id}: landing {ctx.landing} -> lake {ctx.lake.root}")
        for stage in chosen:
            task = bar.add_task(stage, total=1)
            try:
                result = pipeline.run_stage(ctx, stage)
            except Exception as exc:
                bar.update(task, description=f"[red]{stage} failed[/red]")
                ctx.stats[stage] = {"error": f"{type(exc).__name__}: {exc}"}
                pipeline.record_run(ctx, f"failed at {stage}")
                console.print(f"[red]stage {stage} failed:[/red] {escape(str(exc))}")
                raise typer.Exit(1) from exc
            bar.update(task, completed=1, description=f"{stage} [green]done[/green] {_brief(result)}")
        pipeline.record_run(ctx, "succeeded")
    console.print(f"batch run {ctx.run_id} succeeded")


def _brief(result) -> str:
    if not isinstance(result, dict):
        return ""
    if "skipped" in result:
        return f"(skipped: {result['skipped']})"
    keys = ("records", "identifiers", "clusters", "ucids_minted", "events_merge", "profiles", "ucids")
    parts = [f"{k}={result[k]:,}" for k in keys if isinstance(result.get(k), int)]
    return "(" + ", ".join(parts) + ")" if parts else ""


@export_app.command("assignments")
def export_assignments(
    out: Path = typer.Option(..., "--out", help="CSV to write: source,record_id,ucid (what `ucid evaluate` reads)"),
) -> None:
    """Export the gold record -> UCID assignments as CSV, sorted by source and record id."""
    import csv

    from batch.spark import spark_session
    from batch.tables import Lake, exists
    from infra.settings import get_settings

    settings = get_settings()
    lake = Lake(settings.lake)
    spark = spark_session(settings, app_name="ucid-export")
    path = lake.gold("assignments")
    if not exists(spark, path):
        typer.echo(f"no assignments at {path}: run `ucid batch run` first", err=True)
        raise typer.Exit(1)
    rows = spark.read.format("delta").load(path).select("source", "record_id", "ucid").orderBy(
        "source", "record_id").toLocalIterator()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    n = 0
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("source", "record_id", "ucid"))
        for row in rows:
            writer.writerow((row.source, row.record_id, row.ucid))
            n += 1
    tmp.replace(out)
    typer.echo(f"{n:,} assignments -> {out}")
