"""The landing zone: which files a source has, and the file-level checks made before Spark reads.

A landing file is known by its path relative to the landing root. Before a file is read, it is
checked here (cheaply, without Spark): it must be non-empty, readable in the source's format and
hold every column the source definition needs. A file that fails goes to quarantine whole, with
the reason; a file that passes is read by :mod:`batch.bronze`, where row-level checks follow.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from identity.sources import FILE_EXTENSIONS, SourceDefinition

EXTENSIONS = FILE_EXTENSIONS


@dataclass(frozen=True, slots=True)
class LandingFile:
    """One file of one source, with what the checks found. ``reason`` is ``None`` when the
    file may be read; ``columns`` is the header (csv), the schema (parquet) or ``None`` (jsonl)."""

    source: str
    path: Path
    relpath: str
    size: int
    digest: str
    columns: tuple[str, ...] | None
    reason: str | None


def source_files(root: Path, source: SourceDefinition) -> list[Path]:
    """Every data file of ``source`` under ``root``, sorted; hidden, ``_`` and temp files skipped."""
    base = root / source.location
    if source.format == "delta" or not base.exists():
        return []
    files = {
        p
        for ext in EXTENSIONS[source.format]
        for p in base.glob(f"**/*.{ext}")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(base).parts)
    }
    return sorted(files)


def digest(path: Path) -> str:
    """sha256 of the file's bytes: a re-delivered file with other content is not the same file."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_file(root: Path, source: SourceDefinition, path: Path) -> LandingFile:
    """Run the file-level checks; never raises for a bad file (the reason says what is wrong)."""
    size = path.stat().st_size
    rel = str(path.relative_to(root))
    sha = digest(path)
    columns: tuple[str, ...] | None = None
    reason: str | None = None
    if size == 0:
        reason = "empty file"
    elif source.format == "csv":
        with path.open(newline="", encoding="utf-8", errors="replace") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            first = next(reader, None)
        if not header:
            reason = "empty file"
        else:
            columns = tuple(c.strip() for c in header)
            if first is None:
                reason = "no data rows (header only)"
    elif source.format == "parquet":
        import pyarrow.parquet as pq

        try:
            meta = pq.read_metadata(path)
            columns = tuple(meta.schema.to_arrow_schema().names)
            if meta.num_rows == 0:
                reason = "no data rows"
        except Exception as exc:  # noqa: BLE001 - any unreadable file is quarantined with the reason
            reason = f"unreadable parquet: {type(exc).__name__}: {exc}"
    elif source.format == "jsonl":
        with path.open("rb") as fh:
            if not any(line.strip() for line in fh):
                reason = "empty file"
    if reason is None and columns is not None:
        needed = {source.record_id, *source.required, *(c.column for c in source.identifiers)}
        missing = sorted(needed - set(columns))
        if missing:
            reason = f"missing columns: {', '.join(missing)} (file has: {', '.join(columns)})"
        elif len(set(columns)) != len(columns):
            dupes = sorted({c for c in columns if columns.count(c) > 1})
            reason = f"duplicate columns: {', '.join(dupes)}"
    return LandingFile(source.name, path, rel, size, sha, columns, reason)
