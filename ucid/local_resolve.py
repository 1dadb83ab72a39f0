"""Resolve a landed data set on one machine: files -> identity records -> UCID per record.

Reads every source described by ``conf/sources/*.yaml`` from ``DIR/<location>/**/*.<ext>``
(csv, jsonl, parquet; any number of files per source), turns each row into an
:class:`identity.records.Record`, runs :func:`identity.resolve.resolve` and writes the
assignment CSV. Rows are streamed file by file into the resolver, so memory holds links and
identifiers, not rows. The single-process twin of the Spark batch job, used on generated data.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from batch import landing
from identity.cluster import Edge
from identity.records import Record
from identity.resolve import Progress, Resolution, resolve
from identity.rules import Policy
from identity.sources import FILE_EXTENSIONS, SourceDefinition
from identity.types import Identifier
from identity.ucids import State

EXTENSIONS = FILE_EXTENSIONS
ASSIGNMENT_HEADER = ("source", "record_id", "ucid")


class LocalReadError(ValueError):
    """A source's files are missing, unreadable or lack a column the definition names."""


@dataclass(slots=True)
class ReadStats:
    """What reading found, per source: files, rows, and rows skipped (with the reason)."""

    files: Counter = field(default_factory=Counter)
    rows: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)  # (source, reason) -> rows


def source_files(root: Path, source: SourceDefinition) -> list[Path]:
    """Every data file of ``source`` under ``root``, sorted (hidden and ``_`` files skipped)."""
    if source.format not in EXTENSIONS:
        raise LocalReadError(f"source {source.name}: format {source.format!r} is not readable locally")
    base = root / source.location
    if base.is_file():
        return [base]
    return landing.source_files(root, source)


def read_columns(path: Path, source: SourceDefinition, columns: list[str]) -> dict[str, list[str | None]]:
    """The needed columns of one file as lists of ``str`` / ``None`` (ids typed as numbers in a
    file are cast to text here, once per column, not per value in Python)."""
    try:
        if source.format == "csv":
            table = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    include_columns=columns, column_types={c: pa.string() for c in columns}
                ),
            )
        elif source.format == "parquet":
            table = pq.read_table(path, columns=columns)
        else:
            return _read_jsonl(path, columns)
    except (pa.ArrowInvalid, KeyError) as exc:
        raise LocalReadError(f"{path}: cannot read columns {columns} for source {source.name}: {exc}") from exc
    return {c: _text_column(table.column(c)) for c in columns}


def _text_column(column: pa.ChunkedArray) -> list[str | None]:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.to_pylist()
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_temporal(column.type):
        return column.cast(pa.string()).to_pylist()  # 12.0 -> "12"; timestamps -> ISO text
    return [_as_text(v) for v in column.to_pylist()]


def _read_jsonl(path: Path, columns: list[str]) -> dict[str, list[str | None]]:
    schema = pa.schema([(c, pa.string()) for c in columns])
    try:
        table = pajson.read_json(
            path, parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        )
        return {c: table.column(c).to_pylist() for c in columns}
    except pa.ArrowInvalid:
        pass  # mixed JSON types in a column (ids as numbers): parse the slow, tolerant way
    out: dict[str, list[str | None]] = {c: [] for c in columns}
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LocalReadError(f"{path}:{n}: not valid JSON: {exc}") from exc
            for c in columns:
                out[c].append(_as_text(row.get(c)))
    return out


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an id read as 12.0 is the id 12
    return value if isinstance(value, str) else str(value)


def read_records(
    root: Path,
    sources: list[SourceDefinition],
    stats: ReadStats,
    on_file: Callable[[Path], None] | None = None,
) -> Iterator[Record]:
    """Stream the records of every source, file by file, in (source, file) order.

    A row without a record id, or with an empty ``required`` column, is skipped and counted in
    ``stats.skipped``; every other row becomes a record (identifier values are validated later).
    """
    for source in sources:
        columns = source.needed_columns()
        mapping = [(c.type, c.column) for c in source.identifiers]
        types = [t for t, _ in mapping]
        name = source.name
        for path in source_files(root, source):
            data = read_columns(path, source, columns)
            stats.files[name] += 1
            id_columns = [data[c] for _, c in mapping]
            required = [data[c] for c in source.required if c != source.record_id]
            skip = {i for col in required for i, v in enumerate(col) if not v}
            kept = 0
            for i, (record_id, *values) in enumerate(zip(data[source.record_id], *id_columns)):
                if not record_id or not record_id.strip():
                    stats.skipped[(name, "no record id")] += 1
                    continue
                if skip and i in skip:
                    stats.skipped[(name, "required column empty")] += 1
                    continue
                kept += 1
                yield Record(name, record_id, tuple(zip(types, values)))
            stats.rows[name] += kept
            if on_file is not None:
                on_file(path)


def resolve_local(
    root: Path,
    sources: list[SourceDefinition],
    policy: Policy,
    previous: State | None = None,
    now: int = 0,
    on_file: Callable[[Path], None] | None = None,
    progress: Progress | None = None,
    match_edges: Iterable[Edge] = (),
    match_limits: Mapping[str, int] | None = None,
    conflicts: Iterable[tuple[Identifier, Identifier]] = (),
    withheld: Mapping[tuple[str, str], frozenset[Identifier]] | None = None,
) -> tuple[Resolution, ReadStats]:
    """Read and resolve a landed data set; see :func:`identity.resolve.resolve` for promises
    (``match_edges``, ``conflicts``, ``withheld``: the match model's word,
    :func:`ucid.local_match.score_people`)."""
    missing = sorted({c.type for s in sources for c in s.identifiers} - set(policy.types))
    if missing:
        raise LocalReadError(f"identifier type(s) not in the rules: {', '.join(missing)}")
    stats = ReadStats()
    records = read_records(root, sources, stats, on_file)
    return resolve(records, policy, previous, now, progress, match_edges, match_limits, conflicts,
                   withheld), stats


def write_assignment(path: Path, assignment: dict[tuple[str, str], str]) -> int:
    """Write ``source,record_id,ucid`` sorted by source then record id; return the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(ASSIGNMENT_HEADER)
        # sorting the keys only (not (key, value) pairs) keeps the peak memory down
        writer.writerows((key[0], key[1], assignment[key]) for key in sorted(assignment))
    tmp.replace(path)  # never leave a half-written assignment behind
    return len(assignment)


def load_state(path: Path) -> State | None:
    """The state saved by a previous run, or ``None`` if the file does not exist."""
    if not path.exists():
        return None
    return State.from_dict(json.loads(path.read_text(encoding="utf-8")))


def save_state(path: Path, state: State) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state.to_dict(), separators=(",", ":")), encoding="utf-8")
    tmp.replace(path)
