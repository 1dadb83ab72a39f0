"""``ucid sources check``: does every source definition load, and do its landing files fit it?

Pure Python and cheap (no Spark): each definition in ``conf/sources`` is loaded the way every
job loads it (:func:`identity.sources.load_source`, identifier types checked against the rules);
its files are found the way the batch layer finds them (:func:`batch.landing.source_files`), or
with ``local=True`` the way ``ucid resolve --local`` does (:func:`ucid.local_resolve.source_files`,
which also takes a location naming one file). Only the head of each file is read: the header and
the first :data:`SAMPLE_ROWS` rows of a CSV file, the first :data:`SAMPLE_ROWS` lines of a JSON
lines file, the footer (schema, row count) of a Parquet file, and for a Delta table the schema in
its newest JSON commit that carries one.

Every declared column must be in every file whose columns are known in full (CSV header, Parquet
schema, Delta schema); in a JSON lines file the record id, required and identifier columns must
appear among the keys of the sampled lines (any other column may be absent from a line: it is
read as empty, so an absent one is only noted).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from batch import landing
from identity.sources import SourceDefinition, SourceDefinitionError, load_source
from ucid import local_resolve

SAMPLE_ROWS = 100


@dataclass(slots=True)
class SourceReport:
    """What the check found for one definition file: ``source`` is the source's name, or the
    file's stem when the definition does not load; ``rows`` counts the rows looked at (``None``
    for a Delta table); ``problems`` fail the check, ``notes`` do not."""

    source: str
    definition: Path
    format: str = ""
    files: int = 0
    rows: int | None = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(slots=True)
class FileHead:
    """The head of one landing file: its columns (``complete`` when they are the whole header or
    schema, not the keys of a sample), rows looked at, sampled rows with a blank value per
    checked column, and why the file cannot be used (``None`` when it can)."""

    columns: tuple[str, ...] = ()
    complete: bool = True
    rows: int = 0
    blank: dict[str, int] = field(default_factory=dict)
    problem: str | None = None


def check_sources(folder: Path, known_types: Iterable[str], root: Path, local: bool = False,
                  only: Iterable[str] | None = None) -> list[SourceReport]:
    """One report per ``*.yaml`` in ``folder`` (sorted), checked against the landing dir ``root``;
    with ``only``, the landing files of those sources only (a definition that does not load is
    reported whatever ``only`` says: every job loads them all).

    Raises :class:`SourceDefinitionError` when ``folder`` holds no definition at all, or when
    ``only`` names a source no definition has.
    """
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise SourceDefinitionError(f"{folder}: no source definitions (*.yaml) found")
    wanted = set(only or ())
    known = set(known_types)
    reports = []
    seen: dict[str, Path] = {}
    for path in files:
        try:
            source = load_source(path, known)
        except SourceDefinitionError as exc:
            reports.append(SourceReport(path.stem, path, problems=[str(exc)]))
            continue
        if wanted and source.name not in wanted:
            seen.setdefault(source.name, path)
            continue
        report = check_source(root, source, path, local)
        if source.name in seen:
            report.problems.insert(0, f"{path}: field 'name': duplicate source name '{source.name}' "
                                      f"(also in {seen[source.name]})")
        seen.setdefault(source.name, path)
        reports.append(report)
    unknown = sorted(wanted - set(seen) - {r.source for r in reports})
    if unknown:
        raise SourceDefinitionError(f"{folder}: no source named {', '.join(unknown)} "
                                    f"(sources: {', '.join(sorted(seen))})")
    return reports


def check_source(root: Path, source: SourceDefinition, definition: Path, local: bool = False) -> SourceReport:
    """Check the landing files of one loaded definition (see the module docstring)."""
    report = SourceReport(source.name, definition, source.format)
    if source.format == "delta":
        _check_delta(root, source, report, local)
        return report
    paths = _files(root, source, local)
    report.files = len(paths)
    if not paths:
        report.problems.append(f"location '{_pattern(source)}' matches no file under {root}")
        return report
    heads = {_relative(p, root): inspect(p, source) for p in paths}
    report.rows = sum(h.rows for h in heads.values())
    by_reason: dict[str, list[str]] = defaultdict(list)
    for rel, head in heads.items():
        if head.problem:
            by_reason[head.problem].append(rel)
    report.problems += [f"{_files_text(rels)}: {reason}" for reason, rels in by_reason.items()]
    missing = _check_columns(source, {rel: h for rel, h in heads.items() if h.columns}, report)
    _check_blanks(source, [h for h in heads.values() if not h.problem], missing, report)
    return report


def inspect(path: Path, source: SourceDefinition) -> FileHead:
    """Read the head of one file of ``source`` (never raises for a bad file: ``problem`` says)."""
    try:
        if path.stat().st_size == 0:
            return FileHead(problem="empty file")
        if source.format == "csv":
            return _csv_head(path, source)
        if source.format == "jsonl":
            return _jsonl_head(path, source)
        return _parquet_head(path)
    except OSError as exc:
        return FileHead(problem=f"cannot read: {exc.strerror or exc}")
    except UnicodeDecodeError:
        return FileHead(problem="not UTF-8 text")


def _blank_columns(source: SourceDefinition) -> list[str]:
    return list(dict.fromkeys([source.record_id, *source.required]))


def _csv_head(path: Path, source: SourceDefinition) -> FileHead:
    checked = _blank_columns(source)
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
            rows = list(islice((row for row in reader if row), SAMPLE_ROWS))  # blank lines are no rows
        except csv.Error as exc:
            return FileHead(problem=f"not valid CSV: {exc}")
    if not header:
        return FileHead(problem="empty file")
    columns = tuple(c.strip() for c in header)
    problem = None
    if columns[0].startswith("\ufeff"):
        problem = "starts with a byte-order mark (BOM): the batch layer misreads the first column's name"
        columns = (columns[0].lstrip("\ufeff"), *columns[1:])
    elif len(set(columns)) != len(columns):
        problem = "duplicate columns: " + ", ".join(sorted({c for c in columns if columns.count(c) > 1}))
    elif not rows:
        problem = "no data rows (header only)"
    index = {c: i for i, c in enumerate(columns)}
    blank = {c: sum(1 for row in rows if len(row) <= index[c] or not row[index[c]].strip())
             for c in checked if c in index}
    return FileHead(columns=columns, rows=len(rows), blank=blank, problem=problem)


def _jsonl_head(path: Path, source: SourceDefinition) -> FileHead:
    checked = _blank_columns(source)
    keys: dict[str, None] = {}
    head = FileHead(complete=False)
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if head.rows == SAMPLE_ROWS:
                break
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                return FileHead(problem=f"line {n}: not valid JSON: {exc.msg}")
            if not isinstance(row, dict):
                return FileHead(problem=f"line {n}: not a JSON object")
            head.rows += 1
            keys.update(dict.fromkeys(row))
            for c in checked:
                value = row.get(c)
                if value is None or (isinstance(value, str) and not value.strip()):
                    head.blank[c] = head.blank.get(c, 0) + 1
    if not head.rows:
        return FileHead(problem="empty file")
    head.columns = tuple(keys)
    for c in checked:
        head.blank.setdefault(c, 0)
    return head


def _parquet_head(path: Path) -> FileHead:
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
        columns = tuple(meta.schema.to_arrow_schema().names)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported with the reason
        return FileHead(problem=f"unreadable parquet: {type(exc).__name__}: {exc}")
    return FileHead(columns=columns, rows=meta.num_rows, problem=None if meta.num_rows else "no data rows")


def _check_columns(source: SourceDefinition, heads: dict[str, FileHead], report: SourceReport) -> set[str]:
    """Problems for declared columns missing from files, and a note with the first such file's
    columns; returns the missing columns."""
    needed = set(source.needed_columns())
    missing: dict[str, list[str]] = defaultdict(list)  # column -> files without it
    unseen = set(source.columns())  # optional JSON lines columns not in any file's sample
    for rel, head in heads.items():
        unseen -= set(head.columns)
        wanted = source.columns() if head.complete else needed
        for c in sorted(wanted - set(head.columns)):
            missing[c].append(rel)
    by_files: dict[tuple[str, ...], list[str]] = defaultdict(list)  # the same files -> one message
    for c, rels in sorted(missing.items()):
        by_files[tuple(rels)].append(c)
    for rels, cols in by_files.items():
        names = ", ".join(f"'{c}'" for c in cols)
        what = f"column {names} is" if len(cols) == 1 else f"columns {names} are"
        where = "missing from" if heads[rels[0]].complete else f"not in the first {SAMPLE_ROWS} lines of"
        report.problems.append(f"{what} {where} {_files_text(list(rels))}")
    if missing:
        first = min(rels[0] for rels in by_files)
        report.notes.append(f"{first} has the columns: {', '.join(heads[first].columns)}")
    optional = sorted(unseen - needed - set(missing))
    if optional:
        report.notes.append(f"column(s) {', '.join(optional)} not seen in the first {SAMPLE_ROWS} lines of any "
                            "file (an absent key is read as empty)")
    return set(missing)


def _check_blanks(source: SourceDefinition, heads: list[FileHead], missing: set[str], report: SourceReport) -> None:
    """A problem when the record id or a required column is blank in every sampled row: every
    row would be skipped (quarantined by the batch layer), nothing of the source read."""
    for c in _blank_columns(source):
        if c in missing:
            continue  # already reported
        counted = [h for h in heads if c in h.blank]
        rows = sum(h.rows for h in counted)
        if rows and sum(h.blank[c] for h in counted) == rows:
            role = "the record id" if c == source.record_id else "required"
            report.problems.append(f"column '{c}' ({role}) is empty in all {rows} sampled rows: "
                                   "every row would be skipped")


def _check_delta(root: Path, source: SourceDefinition, report: SourceReport, local: bool) -> None:
    report.rows = None
    if local:
        report.problems.append("format 'delta' is read by the batch layer only, not by `ucid resolve --local`")
    log = root / source.location / "_delta_log"
    if not log.is_dir():
        report.problems.append(f"location '{source.location}' is not a Delta table under {root} (no _delta_log)")
        return
    report.files = 1
    try:
        columns = delta_columns(log)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"unreadable Delta log {_relative(log, root)}: {type(exc).__name__}: {exc}")
        return
    if columns is None:
        report.notes.append("schema not checked: no JSON commit in _delta_log carries the table's metaData")
        return
    _check_columns(source, {source.location: FileHead(columns=columns)}, report)


def delta_columns(log: Path) -> tuple[str, ...] | None:
    """The top-level column names of a Delta table, from the ``metaData`` action of its newest
    JSON commit that has one; ``None`` when no JSON commit has one (e.g. only a checkpoint)."""
    for commit in sorted(log.glob("*.json"), reverse=True):  # zero-padded versions sort as text
        for line in commit.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            action = json.loads(line)
            meta = action.get("metaData") if isinstance(action, dict) else None
            if meta:
                return tuple(f["name"] for f in json.loads(meta["schemaString"])["fields"])
    return None


def _files(root: Path, source: SourceDefinition, local: bool) -> list[Path]:
    if local:
        return local_resolve.source_files(root, source)
    return landing.source_files(root, source)


def _pattern(source: SourceDefinition) -> str:
    exts = landing.EXTENSIONS[source.format]
    suffix = exts[0] if len(exts) == 1 else "{" + ",".join(exts) + "}"
    return f"{source.location.rstrip('/')}/**/*.{suffix}"


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _files_text(rels: list[str]) -> str:
    """``a.csv`` or ``a.csv (and 2 more files)``."""
    more = len(rels) - 1
    return rels[0] + (f" (and {more} more file{'s' if more > 1 else ''})" if more else "")
