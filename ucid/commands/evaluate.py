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
    data: Path | None = typer.Option(
        None, "--data", file_okay=False, exists=True,
        help="the data set's folder: also split the missed pairs into unreachable by any exact-match rule "
             "and reachable but refused, and count identifiers per UCID",
    ),
    rules: Path | None = typer.Option(None, "--rules", help="match rules YAML (default: CONF_DIR/rules.yaml)"),
    sources: Path | None = typer.Option(
        None, "--sources", help="folder of source definitions *.yaml (default: CONF_DIR/sources)"
    ),
    baseline: Path | None = typer.Option(
        None, "--baseline", "-b", dir_okay=False, exists=True,
        help="a second assignment file (e.g. exact rules only) evaluated the same way and shown side by side",
    ),
    person_records: bool = typer.Option(
        False, "--person-records",
        help="score only the records of sources that declare a name attribute (what a match model compares)",
    ),
    model_pairs: list[Path] = typer.Option(
        [], "--model-pairs", dir_okay=False, exists=True,
        help="pair files of `ucid resolve --model` (OUT.links.csv, OUT.review.csv): with --data, the model's "
             "recall ceiling; the review file's rows are reported as the review band's size",
    ),
) -> None:
    """Compare a resolver's UCIDs with the true persons; exit 2 on bad input."""
    from rich.console import Console
    from rich.table import Table

    from ucid.evaluate import (
        EvaluationInputError,
        evaluate,
        evaluate_files,
        read_labels,
    )

    err = Console(stderr=True)
    found = None
    base = None
    pairs = []
    review_rows = None
    try:
        if data is None and baseline is None and not person_records and not model_pairs:
            m = evaluate_files(assignments, truth)
        else:
            truth_labels, assigned = read_labels(truth, "person_id"), read_labels(assignments, "ucid")
            if person_records:
                keep = _person_source_names(rules, sources, err)
                truth_labels = {k: v for k, v in truth_labels.items() if k[0] in keep}
                assigned = {k: v for k, v in assigned.items() if k[0] in keep}
            m = evaluate(assigned, truth_labels)
            if baseline is not None:
                base_labels = read_labels(baseline, "ucid")
                base = evaluate({k: v for k, v in base_labels.items() if k in truth_labels or not person_records},
                                truth_labels)
            for path in model_pairs:
                got = _read_pairs(path, err)
                pairs.extend(got)
                if path.name.endswith(".review.csv"):
                    review_rows = (review_rows or 0) + len(got)
            if data is not None:
                found = _reach(data, rules, sources, truth_labels, assigned, err, pairs)
    except EvaluationInputError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    missing = m.records_missing_from_assignments + m.records_missing_from_truth
    if as_json:
        doc = m.as_dict()
        if found is not None:
            doc["reach"] = found.as_dict()
        if base is not None:
            doc["baseline"] = base.as_dict()
        if review_rows is not None:
            doc["review_pairs"] = review_rows
        if person_records:
            doc["scope"] = "person_records"
        typer.echo(json.dumps(doc, sort_keys=False))
    else:
        out = Console()
        scope = "records of sources declaring a name" if person_records else "all records"
        table = Table(title=f"ucid evaluate ({scope})", show_edge=False)
        table.add_column("metric")
        table.add_column("precision", justify="right")
        table.add_column("recall", justify="right")
        table.add_column("F1", justify="right")
        rows = [("", m)] if base is None else [(f" ({assignments.name})", m), (f" ({baseline.name})", base)]
        for suffix, x in rows:
            table.add_row(f"pairwise{suffix}", f"{x.pairwise_precision:.5f}", f"{x.pairwise_recall:.5f}",
                          f"{x.pairwise_f1:.5f}")
        for suffix, x in rows:
            table.add_row(f"B-cubed{suffix}", f"{x.bcubed_precision:.5f}", f"{x.bcubed_recall:.5f}",
                          f"{x.bcubed_f1:.5f}")
        out.print(table)
        if review_rows is not None:
            out.print(f"review band: {review_rows:,} record pairs left for review, not linked", highlight=False)
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
            ("most persons on one UCID", f"{m.most_persons_in_one_ucid:,}"),
            ("largest UCID joining several persons (records)", f"{m.largest_multi_person_cluster_records:,}"),
            ("in truth, not in assignments", f"{m.records_missing_from_assignments:,}"),
            ("in assignments, not in truth", f"{m.records_missing_from_truth:,}"),
        ):
            facts.add_row(label, value)
        out.print(facts)
        if found is not None:
            out.print(_reach_table(found))
    if missing:
        err.print(
            f"[bold red]WARNING:[/bold red] {m.records_missing_from_assignments:,} record(s) of the truth have no "
            f"UCID and {m.records_missing_from_truth:,} assigned record(s) are not in the truth; each counts "
            "as its own singleton.",
            highlight=False,
            soft_wrap=True,
        )


def _person_source_names(rules: Path | None, sources: Path | None, err) -> set[str]:
    """Names of the sources declaring a name attribute (:func:`ucid.local_match.person_sources`)."""
    from identity.match import MatchSpec
    from identity.rules import RulesError, load_policy
    from identity.sources import SourceDefinitionError, load_sources
    from infra.settings import get_settings
    from ucid.local_match import person_sources

    settings = get_settings()
    try:
        policy = load_policy(rules or settings.conf_dir / "rules.yaml")
        definitions = load_sources(sources or settings.conf_dir / "sources", known_types=set(policy.types))
    except (RulesError, SourceDefinitionError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    return {s.name for s in person_sources(definitions, MatchSpec())}


def _read_pairs(path: Path, err) -> list:
    from ucid.local_match import read_pair_keys

    try:
        return read_pair_keys(path)
    except (OSError, KeyError) as exc:
        err.print(f"[red]error:[/red] {path}: not a pair file of `ucid resolve --model` ({exc})", highlight=False)
        raise typer.Exit(2) from exc


def _reach(data: Path, rules: Path | None, sources: Path | None, truth: dict, assigned: dict, err,
           pairs=()) -> object:
    """Read the data set's records and compute :func:`ucid.reach.reach` (exit 2 on bad config)."""
    from identity.rules import RulesError, load_policy
    from identity.sources import SourceDefinitionError, load_sources
    from infra.settings import get_settings
    from ucid.local_resolve import LocalReadError, ReadStats, read_records
    from ucid.reach import reach

    settings = get_settings()
    try:
        policy = load_policy(rules or settings.conf_dir / "rules.yaml")
        definitions = load_sources(sources or settings.conf_dir / "sources", known_types=set(policy.types))
        return reach(read_records(data, definitions, ReadStats()), policy, truth, assigned, pairs)
    except (RulesError, SourceDefinitionError, LocalReadError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc


def _reach_table(r) -> object:
    from rich.table import Table

    def share(n: int) -> str:
        return f"{n:,}  ({n / r.true_pairs:.2%} of true pairs)" if r.true_pairs else f"{n:,}"

    table = Table(title="what exact-match rules (and the model's scored pairs, if given) could reach",
                  show_header=False, show_edge=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, value in (
        ("records read from the data set", f"{r.records_read:,} of {r.records:,}"),
        ("recall ceiling: pairwise / B-cubed", f"{r.pairwise_recall_ceiling:.4f} / {r.bcubed_recall_ceiling:.4f}"),
        ("missed pairs", share(r.missed_pairs)),
        ("  unreachable (no shared identifier chain)", share(r.missed_unreachable_pairs)),
        ("  reachable, not linked (limits, size guard; review band, conflicts)", share(r.missed_reachable_pairs)),
        ("largest cluster (identifiers)", f"{r.largest_cluster_identifiers:,}  {r.largest_cluster_identifiers_ucid}"),
    ):
        table.add_row(label, value)
    return table
