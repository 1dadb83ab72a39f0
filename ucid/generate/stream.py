"""The speed-layer stream: every event of the window as ONE time-ordered JSON-lines file.

Each chunk writes its events of each day, sorted, to a run file (``<tmp>/<day>/<chunk>.txt``,
written by the worker that generated the chunk); at the end the runs of each day are merged with
``heapq.merge`` (days in order), so memory stays bounded by one chunk. Lines are ordered by
``(event_time, event_id)``: a pure function of the seed.
"""

from __future__ import annotations

import heapq
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

from ucid.generate.emit import ChunkOutput


def spool_runs(output: ChunkOutput, tmp: Path) -> int:
    """Write the chunk's stream events as sorted per-day runs under ``tmp``; returns #events."""
    events = 0
    for day, lines in output.stream.items():
        if not lines:
            continue
        lines.sort()
        folder = tmp / f"{day:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"{output.chunk:06d}.txt").open("w", encoding="utf-8") as fh:
            fh.write("\n".join(lines))
            fh.write("\n")
        events += len(lines)
    return events


def merge_runs(tmp: Path, path: Path) -> int:
    """Merge every run under ``tmp`` into ``path`` (replacing it), remove ``tmp``; returns #events."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("w", encoding="utf-8") as out:
        if tmp.exists():
            for folder in sorted(p for p in tmp.iterdir() if p.is_dir()):
                with ExitStack() as stack:
                    files = [stack.enter_context(r.open(encoding="utf-8")) for r in sorted(folder.iterdir())]
                    for line in heapq.merge(*(_lines(f) for f in files)):
                        out.write(line.split("\t", 1)[1])
                        written += 1
    shutil.rmtree(tmp, ignore_errors=True)
    return written


def _lines(fh: TextIO) -> Iterator[str]:
    yield from fh
