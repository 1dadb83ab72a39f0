"""``ucid segments list | export NAME --out FILE``: the segments of conf/segments.yaml and their
members, read from Cassandra (migration 012; docs/segments.md).

``export`` writes every member of a segment -- the UCID and the chosen computed traits -- as CSV
or Parquet for a campaign tool. It reads the segment's partition with the driver's paging (the
rows ``/v1/segments/{name}/members`` pages through: the same count), and each page's traits in
one round of ``IN`` reads.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(help="Computed traits and segments: list them, export a segment's members.",
                  no_args_is_help=True)

PAGE = 1000


def _definitions():
    from identity.consents import load_vocabulary
    from identity.segments import load_definitions
    from infra.settings import get_settings

    conf = get_settings().conf_dir
    return load_definitions(conf / "segments.yaml", load_vocabulary(conf / "consents.yaml"))


def _store():
    from rich.console import Console

    from infra import cql
    from infra.settings import get_settings
    from infra.store import Store

    settings = get_settings().cassandra
    try:
        with cql.quiet_driver():
            return Store.connect(settings)
    except Exception as exc:  # NoHostAvailable and friends: say what to do, not a traceback
        Console(stderr=True).print(f"[red]cannot reach Cassandra at {settings.hosts}:[/red] {exc}")
        raise typer.Exit(1) from exc


@app.command("list")
def list_segments() -> None:
    """Every segment with its description and how many customers are in it now."""
    from rich.console import Console
    from rich.table import Table

    defs = _definitions()
    table = Table(title="segments (conf/segments.yaml)")
    for header in ("segment", "members", "description"):
        table.add_column(header, overflow="fold")
    with _store() as store:
        for name, segment in sorted(defs.segments.items()):
            row = store.one("count_segment_members", name)
            table.add_row(name, f"{int(row.n if row else 0):,}", segment.description)
    out = Console()
    (out if out.is_terminal else Console(width=160)).print(table)


def members(store: Any, segment: str) -> Any:
    """The UCIDs of ``segment``'s members, in UCID order, fetched ``PAGE`` at a time."""
    for row in store.scan("get_segment_members_all", segment, fetch_size=PAGE):
        yield row.ucid


def _write_parquet(path: Path, columns: list[str], rows: list[list[Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = []
    for i, _ in enumerate(columns):
        values = [r[i] for r in rows]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed kinds: as text
            arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
    pq.write_table(pa.Table.from_arrays(arrays, names=columns), path)


@app.command("export")
def export(
    name: str = typer.Argument(..., help="segment name (see `ucid segments list`)"),
    out: Path = typer.Option(..., "--out", help="file to write"),
    traits: str = typer.Option("", "--traits", help="comma-separated computed traits to add (default: none)"),
    fmt: str = typer.Option("", "--format", help="csv or parquet (default: from the file's suffix, else csv)"),
) -> None:
    """Write every member of segment NAME with the UCID and the chosen traits."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from identity.segments import decode_trait

    err = Console(stderr=True)
    defs = _definitions()
    if name not in defs.segments:
        err.print(f"[red]no segment {name!r}:[/red] one of {', '.join(sorted(defs.segments))}")
        raise typer.Exit(2)
    chosen = [t.strip() for t in traits.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in defs.traits]
    if unknown:
        err.print(f"[red]unknown trait(s) {', '.join(unknown)}:[/red] one of {', '.join(defs.traits)}")
        raise typer.Exit(2)
    kind = (fmt or ("parquet" if out.suffix.lower() in (".parquet", ".pq") else "csv")).lower()
    if kind not in ("csv", "parquet"):
        err.print(f"[red]--format {fmt!r}:[/red] csv or parquet")
        raise typer.Exit(2)
    columns = ["ucid", *chosen]
    rows: list[list[Any]] = []
    with _store() as store:
        total = int(getattr(store.one("count_segment_members", name), "n", 0) or 0)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err) as bar:
            task = bar.add_task(f"export {name}", total=total or None)
            page: list[str] = []

            def flush() -> None:
                found = {r.ucid: dict(r.traits or {}) for r in store.many_in("get_traits_in", page)} if chosen else {}
                for ucid in page:
                    mine = found.get(ucid, {})
                    rows.append([ucid, *(decode_trait(mine.get(t)) for t in chosen)])
                bar.advance(task, len(page))
                page.clear()

            for ucid in members(store, name):
                page.append(ucid)
                if len(page) >= PAGE:
                    flush()
            flush()
    out.parent.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        with out.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            writer.writerows([["" if v is None else v for v in r] for r in rows])
    else:
        _write_parquet(out, columns, rows)
    err.print(f"{len(rows):,} members of {name} written to {out} ({kind})")
