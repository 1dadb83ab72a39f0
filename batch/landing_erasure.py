"""Erasure in the landing zone: every source file (the speed layer's ``stream/`` files included)
rewritten without the rows of erased people.

A row goes when the identity core, normalizing the row's identifier columns as the batch does,
finds an identifier on the suppression list (:func:`identity.suppression.record_suppressed`). A
file with such rows is written to a temp name beside it and renamed over it, so a reader sees the
old file or the new one, never half of one; its name stays, so the speed layer's "landed up to
offset N" (the names of ``stream/`` files) still holds. A file left with no row keeps its CSV
header, or is empty. The caller must tell the batch's ingest log the new digest of each rewritten
file (:func:`batch.erasure.relog`), or the next ingest would quarantine it as "changed after
ingestion". CSV, JSON lines and Parquet; a Delta source is a table, cleaned with the lake.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from batch import landing
from identity.records import Record
from identity.rules import Policy
from identity.sources import SourceDefinition
from identity.suppression import record_suppressed


@dataclass(frozen=True, slots=True)
class Rewritten:
    """One landing file rewritten: its path relative to the landing root, rows removed, new digest."""

    relpath: str
    removed: int
    sha256: str


def _record(source: SourceDefinition, row: dict, n: int) -> Record:
    values = tuple((c.type, None if row.get(c.column) in (None, "") else str(row.get(c.column)))
                   for c in source.identifiers)
    return Record(source.name, str(row.get(source.record_id) or n), values)


def _replace(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.erasing")
    with tmp.open("wb") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _csv(path: Path, source: SourceDefinition, hit) -> int:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        rows = list(reader)
    if not header:
        return 0
    names = [c.strip() for c in header]
    kept = [r for n, r in enumerate(rows, 1) if not hit(_record(source, dict(zip(names, r, strict=False)), n))]
    if len(kept) == len(rows):
        return 0

    def write(fh) -> None:
        import io

        text = io.StringIO(newline="")
        out = csv.writer(text)
        out.writerow(header)
        out.writerows(kept)
        fh.write(text.getvalue().encode("utf-8"))

    _replace(path, write)
    return len(rows) - len(kept)


def _jsonl(path: Path, source: SourceDefinition, hit) -> int:
    lines = path.read_bytes().splitlines(keepends=True)
    kept, removed = [], 0
    for n, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except ValueError:
            kept.append(line)  # not JSON: the bronze quarantines it; nothing to match on
            continue
        if isinstance(row, dict) and hit(_record(source, row, n)):
            removed += 1
        else:
            kept.append(line)
    if removed:
        _replace(path, lambda fh: fh.write(b"".join(kept)))
    return removed


def _parquet(path: Path, source: SourceDefinition, hit) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    rows = table.to_pylist()
    mask = [not hit(_record(source, row, n)) for n, row in enumerate(rows, 1)]
    if all(mask):
        return 0
    kept = table.filter(pa.array(mask))
    _replace(path, lambda fh: pq.write_table(kept, fh))
    return len(mask) - sum(mask)


READERS = {"csv": _csv, "jsonl": _jsonl, "parquet": _parquet}


def rewrite(root: Path, sources: list[SourceDefinition], policy: Policy, key: bytes,
            suppressed: Collection[str]) -> list[Rewritten]:
    """Rewrite every landing file under ``root`` holding a row with a suppressed identifier; return
    the files rewritten. Nothing is read when the list is empty."""
    if not suppressed:
        return []
    out = []
    for source in sources:
        rewrite_file = READERS.get(source.format)
        if rewrite_file is None:
            continue

        def hit(record: Record, source: SourceDefinition = source) -> bool:
            return record_suppressed(key, record, policy, suppressed)

        for path in landing.source_files(root, source):
            removed = rewrite_file(path, source, hit)
            if removed:
                out.append(Rewritten(str(path.relative_to(root)), removed, landing.digest(path)))
    return out
