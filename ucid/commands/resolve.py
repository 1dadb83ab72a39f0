"""``ucid resolve --local DIR --out FILE``: one UCID per record of a landed data set."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import typer


def resolve(
    local: Path = typer.Option(
        ..., "--local", help="landed data set folder (one sub-folder per source, as conf/sources says)",
        exists=True, file_okay=False, dir_okay=True, readable=True,
    ),
    out: Path = typer.Option(..., "--out", help="assignment CSV to write: source,record_id,ucid"),
    rules: Path | None = typer.Option(None, "--rules", help="match rules YAML (default: CONF_DIR/rules.yaml)"),
    sources: Path | None = typer.Option(
        None, "--sources", help="folder of source definitions *.yaml (default: CONF_DIR/sources)"
    ),
    state: Path | None = typer.Option(
        None, "--state", help="JSON state of a previous run (read if present, then rewritten): keeps UCIDs stable"
    ),
    now: int | None = typer.Option(
        None, "--now", help="logical time of this run stored as minted_at (default: current epoch seconds)"
    ),
    region: str | None = typer.Option(None, "--region", help="default phone region, overriding the rules file"),
    model: Path | None = typer.Option(
        None, "--model", help="trained match model (`ucid model train`): also link records that share no "
        "identifier; pairs in the review band go to OUT.review.csv, linked pairs to OUT.links.csv",
        exists=True, dir_okay=False,
    ),
) -> None:
    """Resolve every record of a local data set to a stable unique customer id."""
    from rich.console import Console

    from ucid.local_resolve import (
        load_state,
        save_state,
        source_files,
        write_assignment,
    )

    console = Console(stderr=True)
    policy, definitions = _load_config(console, rules, sources, region)
    previous = load_state(state) if state else None
    # the clock is read here, at the edge; the identity core only ever sees this number
    run_time = now if now is not None else int(time.time())

    total_files = sum(len(source_files(local, s)) for s in definitions)
    if not total_files:
        _no_records(console, local, rules, sources, "no source has a file there")
    started = time.perf_counter()
    scoring = _score_with_model(console, local, definitions, policy, model, out) if model else None
    result, read_stats = _resolve_with_progress(console, local, definitions, policy, previous, run_time,
                                                total_files, scoring)
    if not sum(read_stats.rows.values()):
        skipped = sum(read_stats.skipped.values())
        _no_records(console, local, rules, sources,
                    f"{total_files:,} files, {skipped:,} rows skipped (no record id or a required column empty)")
    if scoring is not None:
        result.stats.update(scoring.stats)
    rows = write_assignment(out, result.assignment)
    if state:
        save_state(state, result.state)
    elapsed = time.perf_counter() - started
    console.print(_summary(result, read_stats, f"resolved {rows:,} records in {elapsed:.1f} s -> {out}"))


def _no_records(console, local: Path, rules: Path | None, sources: Path | None, why: str) -> None:
    """End the command with exit code 1: a run that read nothing must not look like a success
    (nothing is written, the state file is left as it was); say which check shows why."""
    from rich.markup import escape

    check = f"ucid sources check --local {local}"
    check += f" --rules {rules}" if rules else ""
    check += f" --sources {sources}" if sources else ""
    console.print(f"[red]no records read from {escape(str(local))}[/red] ({escape(why)}): "
                  f"run `{escape(check)}`", soft_wrap=True)
    raise typer.Exit(1)


def _load_config(console, rules: Path | None, sources: Path | None, region: str | None):
    """``(policy, source definitions)`` from the given paths or CONF_DIR; a configuration error
    is printed and ends the command with exit code 2."""
    from rich.markup import escape

    from identity.rules import RulesError, load_policy
    from identity.sources import SourceDefinitionError, load_sources
    from infra.settings import get_settings

    settings = get_settings()
    rules_path = rules or settings.conf_dir / "rules.yaml"
    sources_path = sources or settings.conf_dir / "sources"
    try:
        policy = load_policy(rules_path, default_region=region)
        definitions = load_sources(sources_path, known_types=set(policy.types))
    except (RulesError, SourceDefinitionError) as exc:
        console.print(f"[red]configuration error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    return policy, definitions


def _load_spec(console, spec: Path | None, policy):
    """The match spec from ``spec`` or the settings; a bad spec ends the command with exit 2."""
    from rich.markup import escape

    from identity.match import MatchSpecError, load_spec
    from infra.settings import get_settings

    settings = get_settings()
    try:
        match_spec = load_spec(spec or settings.match.spec_path(settings.conf_dir))
        match_spec.check_limits(policy.limits(), policy.linking())
    except MatchSpecError as exc:
        console.print(f"[red]configuration error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    return match_spec


def side_file(out: Path, kind: str) -> Path:
    """``A.csv`` -> ``A.review.csv`` / ``A.links.csv``."""
    return out.with_name(f"{out.stem}.{kind}.csv")


def _score_with_model(console, local: Path, definitions, policy, model_path: Path, out: Path):
    """Read the person rows, score them with the model, write the review and link side files."""
    from rich.markup import escape

    from identity.match import MatchSpecError
    from infra.log import get_logger
    from infra.match.model import ModelFileError, load_model
    from infra.settings import get_settings
    from ucid.local_match import read_person_rows, score_people, write_pairs
    from ucid.local_resolve import LocalReadError

    try:
        model = load_model(model_path)
        model.spec.check_limits(policy.limits(), policy.linking())
    except (ModelFileError, MatchSpecError) as exc:
        console.print(f"[red]model error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    with console.status(f"scoring with model {model.version}") as status:
        try:
            people = read_person_rows(local, definitions, policy, model.spec)
        except LocalReadError as exc:
            console.print(f"[red]read error:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from exc
        status.update(f"scoring {people.table.num_rows:,} person rows with model {model.version}")
        scoring = score_people(people, model, get_settings().match.threads)
    review = write_pairs(side_file(out, "review"), scoring.review)
    write_pairs(side_file(out, "links"), ((p, None) for p in scoring.linked))
    scoring.limits = model.spec.limits_for(policy.limits())
    get_logger(__name__).info("resolve.model", model=model.version, **scoring.stats)
    console.print(f"model {model.version}: {scoring.stats['pairs_linked']:,} pairs linked "
                  f"({scoring.stats['model_edges']:,} edges), {review:,} pairs for review, "
                  f"{scoring.stats['records_withholding']:,} records withholding a shared identifier -> "
                  f"{side_file(out, 'review')}", highlight=False)
    return scoring


def _resolve_with_progress(console, local: Path, definitions, policy, previous, run_time: int,
                           total_files: int, scoring=None):
    """:func:`ucid.local_resolve.resolve_local` under progress bars (files read, records
    normalized, clustering, assignment); a read error is printed and ends the command with exit
    code 1."""
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from ucid.local_resolve import LocalReadError, resolve_local

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        reading = bar.add_task("reading files", total=total_files)
        resolving = bar.add_task("resolving records", total=None)
        clustering = bar.add_task("clustering", total=1, visible=False)
        assigning = bar.add_task("assigning UCIDs", total=1, visible=False)

        def on_file(path: Path) -> None:
            bar.advance(reading)

        def on_progress(stage: str, n: int) -> None:
            if stage == "normalize":
                bar.advance(resolving, n)
            elif stage == "cluster":
                done = bar.tasks[resolving].completed
                bar.update(resolving, total=done, completed=done)
                bar.update(clustering, visible=True, completed=n)
            elif stage == "assign":
                bar.update(assigning, visible=True, completed=n)

        try:
            return resolve_local(local, definitions, policy, previous, run_time, on_file, on_progress,
                                 scoring.edges if scoring else (), scoring.limits if scoring else None,
                                 scoring.conflicts if scoring else (), scoring.withheld if scoring else None)
        except LocalReadError as exc:
            console.print(f"[red]read error:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from exc


def _summary(result, read_stats, title: str):
    """The run's table: resolve stats, rows and skips per source, identifier rejections and
    refused links, each counted by reason."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, show_header=False)
    for key, value in sorted(result.stats.items()):
        table.add_row(key, f"{value:,}")
    for source, n in sorted(read_stats.rows.items()):
        table.add_row(f"rows {source}", f"{n:,} ({read_stats.files[source]} files)")
    for (source, reason), n in sorted(read_stats.skipped.items()):
        table.add_row(f"skipped {source}: {reason}", f"{n:,}")
    by_reason = Counter((rej.type, rej.kind, rej.reason) for rej in result.rejections)
    for (type_name, kind, reason), n in sorted(by_reason.items()):
        table.add_row(escape(f"{kind} {type_name}: {reason}"), f"{n:,}")
    refused = Counter(f"{r.edge.rule} ({r.reason.split(':')[0]})" for r in result.refused)
    for key, n in sorted(refused.items()):
        table.add_row(f"refused {key}", f"{n:,}")
    return table
