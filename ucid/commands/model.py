"""``ucid model train [--local DIR] [--out MODEL.json]``: fit the match model on landed files
(DuckDB) or on the lake's silver records (Spark)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

app = typer.Typer(help="The probabilistic match model: train it, then `ucid resolve --model`.", no_args_is_help=True)


@app.command("train")
def train(
    local: Path | None = typer.Option(
        None, "--local", help="landed data set folder, laid out as `ucid resolve --local` reads it "
                              "(DuckDB); without it, train on the lake's silver/records (Spark)",
        exists=True, file_okay=False, dir_okay=True, readable=True,
    ),
    out: Path | None = typer.Option(None, "--out", help="model file to write (Splink JSON; a .ucid.json sidecar "
                                                        "beside it); required with --local, else default "
                                                        "LAKE/models/VERSION.json", dir_okay=False),
    spec: Path | None = typer.Option(None, "--spec", help="match spec YAML (default: UCID_MATCH_SPEC_FILE or CONF_DIR/match.yaml)"),
    rules: Path | None = typer.Option(None, "--rules", help="match rules YAML (default: CONF_DIR/rules.yaml)"),
    sources: Path | None = typer.Option(None, "--sources", help="folder of source definitions *.yaml (default: CONF_DIR/sources)"),
    chart: bool = typer.Option(True, "--chart/--no-chart", help="also write Splink's match-weights chart as OUT.weights.html"),
) -> None:
    """Train the match model: lambda from deterministic rules, u by random sampling, m by EM.

    With --local on landed files (DuckDB); without it on the lake's silver/records after `ucid batch run` or its normalize stage (Spark, UCID_LAKE_DIR). The same steps, seed and model file either way."""
    from rich.console import Console

    from infra.match.model import save_model
    from ucid.commands.resolve import _load_config, _load_spec

    console = Console(stderr=True)
    if local is not None and out is None:
        console.print("[red]error:[/red] --out is required with --local")
        raise typer.Exit(2)
    policy, definitions = _load_config(console, rules, sources, None)
    match_spec = _load_spec(console, spec, policy)
    started = time.perf_counter()
    if local is not None:
        model, where = _train_local(console, local, definitions, policy, match_spec), "DuckDB"
    else:
        model, out = _train_on_lake(console, definitions, match_spec, out)
        where = "Spark"
    rows = model.report.get("records", 0)
    save_model(out, model)
    if chart:
        _write_chart(out, model, console)
    console.print(_report_table(model, f"model {model.version} trained on {rows:,} person rows ({where}) "
                                       f"in {time.perf_counter() - started:.1f} s -> {out}"))


def _train_local(console, local: Path, definitions, policy, match_spec):
    from rich.markup import escape

    from identity.match import MatchSpecError
    from infra.match.train import train as fit
    from ucid.local_match import read_person_rows
    from ucid.local_resolve import LocalReadError

    with console.status("reading person rows") as status:
        try:
            people = read_person_rows(local, definitions, policy, match_spec)
            match_spec = match_spec.restricted_to(people.columns_with_values())
        except (LocalReadError, MatchSpecError) as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(1 if isinstance(exc, LocalReadError) else 2) from exc
        if people.table.num_rows < 2:
            console.print(f"[red]error:[/red] {people.table.num_rows} person rows read from {local}: nothing to train on")
            raise typer.Exit(1)
        return fit(people.table, match_spec, on_step=lambda step: status.update(step))


def _train_on_lake(console, definitions, match_spec, out: Path | None):
    """Train on silver/records with Spark; ``(model, out)`` (default out: LAKE/models/VERSION.json)."""
    from rich.markup import escape

    from batch.match import NothingToTrain
    from batch.match import train as fit
    from batch.spark import spark_session
    from batch.tables import Lake, exists
    from identity.match import MatchSpecError
    from infra.settings import get_settings

    settings = get_settings()
    lake = Lake(settings.lake)
    with console.status("starting Spark") as status:
        spark = spark_session(settings, app_name="ucid-model-train")
        records_path = lake.silver("records")
        if not exists(spark, records_path):
            console.print(f"[red]error:[/red] no silver records at {records_path}: "
                          "run `ucid batch run` (or its ingest and normalize stages) first")
            raise typer.Exit(1)
        records = spark.read.format("delta").load(records_path)
        try:
            model = fit(spark, records, definitions, match_spec, on_step=lambda step: status.update(step))
        except (MatchSpecError, NothingToTrain) as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2 if isinstance(exc, MatchSpecError) else 1) from exc
    return model, out or settings.lake / "models" / f"{model.version}.json"


def _write_chart(out: Path, model, console) -> None:
    """Splink's match-weights chart (Altair) as a self-contained HTML file, if Altair is there."""
    try:
        from splink import DuckDBAPI, Linker
        import pyarrow as pa

        from identity.match import ID_COLUMN

        empty = pa.table({ID_COLUMN: pa.array([0], pa.int64()), **{c: pa.array([None], pa.string())
                                                                    for c in model.spec.columns()}})
        linker = Linker(DuckDBAPI().register(empty), model.splink, log_level=None)
        path = out.with_name(out.stem + ".weights.html")
        linker.visualisations.match_weights_chart().save(str(path))
        console.print(f"chart: {path}")
    except ImportError as exc:  # altair is optional in Splink
        console.print(f"[yellow]no chart[/yellow] ({exc})")


def _report_table(model, title: str):
    from rich.table import Table

    table = Table(title=title, show_edge=False)
    table.add_column("comparison")
    table.add_column("level")
    table.add_column("m", justify="right")
    table.add_column("u", justify="right")
    table.add_column("match weight", justify="right")
    table.add_row("lambda", "two random records match", "", "",
                  f"{model.report['probability_two_random_records_match']:.3g}")
    for comp in model.report["comparisons"]:
        for i, lvl in enumerate(comp["levels"]):
            w = lvl["match_weight"]
            table.add_row(comp["comparison"] if i == 0 else "", lvl["label"],
                          f"{lvl['m']:.4f}" if lvl["m"] is not None else "untrained",
                          f"{lvl['u']:.4g}" if lvl["u"] is not None else "untrained",
                          f"{w:+.2f}" if w is not None else "-")
    return table
