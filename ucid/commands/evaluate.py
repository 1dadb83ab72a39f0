"""``ucid evaluate``: pairwise and B-cubed quality of an assignment file against the truth."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def evaluate(
    assignments: Path = typer.Option(..., "--assignments", "-a", help="CSV with header source,record_id,ucid",
                                     dir_okay=False),
    truth: Path = typer.Option(..., "--truth", "-t", help="CSV with header source,record_id,person_id",
                               dir_okay=False),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object instead of a table"),
) -> None:
    """Compare a resolver's UCIDs with the true persons; exit 2 on bad input."""
    from rich.console import Console
    from rich.table import Table

    from ucid.evaluate import EvaluationInputError, evaluate_files

    err = Console(stderr=True)
    try:
        m = evaluate_files(assignments, truth)
    except EvaluationInputError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    missing = m.records_missing_from_assignments + m.records_missing_from_truth
    if as_json:
        typer.echo(json.dumps(m.as_dict(), sort_keys=False))
    else:
        out = Console()
        table = Table(title="ucid evaluate", show_edge=False)
        table.add_column("metric")
        table.add_column("precision", justify="right")
        table.add_column("recall", justify="right")
        table.add_column("F1", justify="right")
        table.add_row("pairwise", f"{m.pairwise_precision:.4f}", f"{m.pairwise_recall:.4f}", f"{m.pairwise_f1:.4f}")
        table.add_row("B-cubed", f"{m.bcubed_precision:.4f}", f"{m.bcubed_recall:.4f}", f"{m.bcubed_f1:.4f}")
        out.print(table)
        facts = Table(show_header=False, show_edge=False)
        facts.add_column("figure")
        facts.add_column("value", justify="right")
        for label, value in (
            ("records", f"{m.records:,}"),
            ("true persons / UCIDs", f"{m.true_persons:,} / {m.ucids:,}"),
            ("true pairs / predicted / correct", f"{m.true_pairs:,} / {m.predicted_pairs:,} / {m.correct_pairs:,}"),
            ("persons split over several UCIDs", f"{m.persons_split:,}"),
            ("UCIDs joining several persons", f"{m.ucids_merging_persons:,}"),
            ("largest cluster (records)", f"{m.largest_cluster_records:,}  {m.largest_cluster_ucid}"),
            ("largest true person (records)", f"{m.largest_person_records:,}  {m.largest_person_id}"),
            ("in truth, not in assignments", f"{m.records_missing_from_assignments:,}"),
            ("in assignments, not in truth", f"{m.records_missing_from_truth:,}"),
        ):
            facts.add_row(label, value)
        out.print(facts)
    if missing:
        err.print(
            f"[bold red]WARNING:[/bold red] {m.records_missing_from_assignments:,} record(s) of the truth have no "
            f"UCID and {m.records_missing_from_truth:,} assigned record(s) are not in the truth; each counts "
            "as its own singleton.",
            highlight=False,
            soft_wrap=True,
        )
