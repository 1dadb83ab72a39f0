"""Landing files for the batch layer: every valid event, exactly once per Kafka offset.

Layout (docs/lambda-contract.md): ``<landing>/stream/<YYYY-MM-DD>/part-p<partition>-<first
offset>-<last offset>.jsonl``; the date is the UTC day of the file's first event. A file is
written to a temp name, fsynced and renamed, so it is complete or absent.

Exactly once across replays and crashes: before writing, the writer knows the highest offset
already landed for the partition (the file names say it); offsets at or below it are skipped.
A replay from offset 0 therefore writes nothing, and a batch re-read after a crash writes the
same file name with the same content (or nothing, if the file made it to disk).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

_NAME = re.compile(r"^part-p(\d+)-(\d+)-(\d+)\.jsonl$")


def landed_up_to(root: Path, partition: int) -> int:
    """The highest offset of ``partition`` already in a landing file under ``root`` (-1: none)."""
    best = -1
    if not root.exists():
        return best
    for path in root.glob(f"*/part-p{partition}-*.jsonl"):
        match = _NAME.match(path.name)
        if match and int(match.group(1)) == partition:
            best = max(best, int(match.group(3)))
    return best


def _line(row: dict[str, Any]) -> bytes:
    """One JSON line (compact, UTF-8 as is); orjson, or the standard library for what orjson
    does not take (integers beyond 64 bits)."""
    try:
        return orjson.dumps(row) + b"\n"
    except TypeError:
        return json.dumps(row, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


class LandingWriter:
    """Writes landing files under ``root`` (= ``<landing dir>/stream``); one instance per process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._landed: dict[int, int] = {}

    def forget(self, partition: int) -> None:
        """Drop what is known about a partition (it was revoked; another process may write it)."""
        self._landed.pop(partition, None)

    def landed(self, partition: int) -> int:
        if partition not in self._landed:
            self._landed[partition] = landed_up_to(self.root, partition)
        return self._landed[partition]

    def write(self, partition: int, rows: Iterable[tuple[int, str, dict[str, Any]]]) -> Path | None:
        """Land ``(offset, day, row)`` tuples of one partition, in offset order; rows at or below
        the landed offset are skipped. Returns the file written, or ``None`` if nothing was new."""
        floor = self.landed(partition)
        fresh = [(o, d, r) for o, d, r in rows if o > floor]
        if not fresh:
            return None
        first, day = fresh[0][0], fresh[0][1]
        last = fresh[-1][0]
        folder = self.root / day
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"part-p{partition}-{first}-{last}.jsonl"
        tmp = folder / f".{path.name}.tmp"
        with tmp.open("wb") as fh:
            fh.write(b"".join(_line(row) for _, _, row in fresh))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        self._landed[partition] = last
        return path
