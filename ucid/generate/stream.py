"""The speed-layer stream: every event of the window as ONE time-ordered JSON-lines file.

Each chunk writes its events of each day, sorted, to a run file (``<tmp>/<day>/<chunk>.txt``);
at the end the runs of each day are merged with ``heapq.merge`` (days in order), so memory stays
bounded by one chunk. Lines are ordered by ``(event_time, event_id)``: a pure function of the seed.
"""

from __future__ import annotations

import heapq
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

from ucid.generate.emit import ChunkOutput


class StreamSpooler:
    """Spools sorted per-chunk, per-day runs to ``tmp`` and merges them into one file."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        self.events = 0

    def add(self, output: ChunkOutput) -> None:
        for day, lines in output.stream.items():
            if not lines:
                continue
            lines.sort()
            folder = self.tmp / f"{day:05d}"
            folder.mkdir(exist_ok=True)
            with (folder / f"{output.chunk:06d}.txt").open("w", encoding="utf-8") as fh:
                fh.write("\n".join(lines))
                fh.write("\n")
            self.events += len(lines)

    def merge_into(self, path: Path) -> int:
        """Write the merged stream to ``path`` (replacing it), remove the runs; returns #events."""
        path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with path.open("w", encoding="utf-8") as out:
            for folder in sorted(p for p in self.tmp.iterdir() if p.is_dir()):
                runs = sorted(folder.iterdir())
                with ExitStack() as stack:
                    files = [stack.enter_context(r.open(encoding="utf-8")) for r in runs]
                    for line in heapq.merge(*(_lines(f) for f in files)):
                        out.write(line.split("\t", 1)[1])
                        written += 1
        shutil.rmtree(self.tmp)
        return written


def _lines(fh) -> Iterator[str]:  # type: ignore[no-untyped-def]
    yield from fh
