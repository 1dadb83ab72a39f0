"""``ucid sources check [--local DIR]``: every source definition against its landing files."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Source definitions (conf/sources/*.yaml) and their landing files.", no_args_is_help=True)


@app.command("check")
def check(
    local: Path | None = typer.Option(
        None, "--local", help="landing folder laid out as `ucid resolve --local DIR` reads it "
        "(default: the batch layer's landing dir, UCID_LANDING_DIR)", file_okay=False,
    ),
    rules: Path | None = typer.Option(None, "--rules", help="match rules YAML (default: CONF_DIR/rules.yaml)"),
    sources: Path | None = typer.Option(
        None, "--sources", help="folder of source definitions *.yaml (default: CONF_DIR/sources)"
    ),
    only: list[str] | None = typer.Option(
        None, "--source", "-s", help="check only this source (repeatable); definitions that do not load "
        "are always reported",
    ),
) -> None:
    """Check every source definition and its landing files (heads only, no Spark); exit 1 on a problem."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from identity.rules import RulesError, load_policy
    from identity.sources import SourceDefinitionError
    from infra.settings import get_settings
    from ucid.sources_check import SAMPLE_ROWS, check_sources

    console = Console()
    settings = get_settings()
    root = local or settings.landing
    sources_dir = sources or settings.conf_dir / "sources"
    try:
        policy = load_policy(rules or settings.conf_dir / "rules.yaml")
        reports = check_sources(sources_dir, policy.types, root, local=local is not None, only=only)
    except (RulesError, SourceDefinitionError) as exc:
        console.print(f"[red]configuration error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from exc
    if not root.is_dir():
        console.print(f"[red]no landing folder {escape(str(root))}[/red] (every source's files are missing)",
                      soft_wrap=True)

    console.print(f"source definitions {escape(str(sources_dir))} against landing folder {escape(str(root))}",
                  soft_wrap=True, highlight=False)
    table = Table(caption=f"rows sampled: the first {SAMPLE_ROWS} of each CSV / JSON lines file, "
                  "all rows of a Parquet file (from its footer)")
    for col in ("source", "format", "files", "rows sampled", "status", "problems"):
        table.add_column(col, justify="right" if col in ("files", "rows sampled", "problems") else "left")
    for r in reports:
        status = "[green]ok[/green]" if r.ok else "[red]FAILED[/red]"
        table.add_row(escape(r.source), r.format, f"{r.files:,}", "-" if r.rows is None else f"{r.rows:,}",
                      status, str(len(r.problems)) if r.problems else "")
    console.print(table)
    for r in reports:
        for problem in r.problems:
            console.print(f"[red]source {escape(r.source)}:[/red] {escape(problem)}", soft_wrap=True)
        for note in r.notes:
            console.print(f"[dim]source {escape(r.source)}: note: {escape(note)}[/dim]", soft_wrap=True)
    failed = [r.source for r in reports if not r.ok]
    console.print(f"{len(reports) - len(failed)}/{len(reports)} sources ok"
                  + (f"; [red]failed:[/red] {escape(', '.join(failed))}" if failed else ""), soft_wrap=True)
    if failed:
        raise typer.Exit(1)
