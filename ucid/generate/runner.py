"""Orchestration: chunks of people -> profile and event rows -> files, truth, stream, manifest."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ucid.generate import noise as nz
from ucid.generate.emit import ChunkOutput
from ucid.generate.events import campaign_schedule, emit_events
from ucid.generate.ids import Allocator, Clock, chunk_rng, email_space_for
from ucid.generate.people import build_chunk
from ucid.generate.profiles import emit_profiles
from ucid.generate.schema import SOURCES
from ucid.generate.stream import StreamSpooler
from ucid.generate.writers import TRUTH_DIR, DatasetWriter

MANIFEST = "manifest.json"
STREAM_TMP = ".stream-runs"


class GenerateError(ValueError):
    """The generator was asked for something it cannot do (bad size, non-empty output, ...)."""


@dataclass(frozen=True)
class GenerateConfig:
    customers: int
    seed: int
    out: Path
    days: int = 30
    start: date = date(2026, 1, 1)
    stream: Path | None = None
    overwrite: bool = False


@dataclass
class Summary:
    customers: int = 0
    visitors: int = 0
    records: Counter[str] = field(default_factory=Counter)
    persons_by_source_count: Counter[int] = field(default_factory=Counter)
    customers_by_source_count: Counter[int] = field(default_factory=Counter)
    stream_events: int = 0
    files: int = 0

    def share_in_3_plus(self, customers_only: bool = False) -> float:
        hist = self.customers_by_source_count if customers_only else self.persons_by_source_count
        total = sum(hist.values())
        return sum(n for k, n in hist.items() if k >= 3) / total if total else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "customers": self.customers,
            "anonymous_visitors": self.visitors,
            "persons": self.customers + self.visitors,
            "records": dict(sorted(self.records.items())),
            "records_total": sum(self.records.values()),
            "persons_by_number_of_sources": {str(k): v for k, v in sorted(self.persons_by_source_count.items())},
            "customers_by_number_of_sources": {
                str(k): v for k, v in sorted(self.customers_by_source_count.items())
            },
            "share_of_persons_in_3_or_more_sources": round(self.share_in_3_plus(), 4),
            "share_of_customers_in_3_or_more_sources": round(self.share_in_3_plus(True), 4),
            "stream_events": self.stream_events,
            "files": self.files,
        }


def _prepare_out(config: GenerateConfig) -> None:
    out = config.out
    ours = [out / name for name in (*SOURCES, TRUTH_DIR, MANIFEST, STREAM_TMP)]
    present = [p for p in ours if p.exists()]
    if present and not config.overwrite:
        names = ", ".join(p.name for p in present)
        raise GenerateError(f"{out} already holds generated data ({names}); pass --overwrite to replace it")
    for p in present:
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    if config.stream and config.stream.exists():
        if not config.overwrite:
            raise GenerateError(f"{config.stream} exists; pass --overwrite to replace it")
        config.stream.unlink()
    out.mkdir(parents=True, exist_ok=True)


def generate_dataset(
    config: GenerateConfig, on_chunk: Callable[[int, int], None] | None = None
) -> Summary:
    """Generate the whole data set; a pure function of (seed, customers, days, start).

    ``on_chunk(done, total)`` is called after every chunk (for a progress bar).
    """
    if config.customers < 1:
        raise GenerateError("--customers must be at least 1")
    if config.days < 1:
        raise GenerateError("--days must be at least 1")
    _prepare_out(config)
    clock = Clock(config.start, config.days)
    alloc = Allocator(config.seed, email_space_for(config.customers))
    campaigns = campaign_schedule(config.seed, clock)
    writer = DatasetWriter(config.out, clock)
    spooler = StreamSpooler(config.out / STREAM_TMP) if config.stream else None
    summary = Summary()
    n_chunks = -(-config.customers // nz.CHUNK_SIZE)
    try:
        for c in range(n_chunks):
            size = min(nz.CHUNK_SIZE, config.customers - c * nz.CHUNK_SIZE)
            rng = chunk_rng(config.seed, c)
            chunk = build_chunk(rng, alloc, clock, c, size)
            output = ChunkOutput(c, clock, with_stream=spooler is not None)
            emit_profiles(rng, output, clock, alloc, chunk)
            emit_events(rng, output, clock, alloc, chunk, campaigns)
            writer.write(output)
            if spooler:
                spooler.add(output)
            summary.customers += len(chunk.customers)
            summary.visitors += len(chunk.visitors)
            for source, by_day in output.rows.items():
                summary.records[source] += sum(len(rows) for rows in by_day.values())
            for p in chunk.customers:
                summary.customers_by_source_count[len(p.sources)] += 1
                summary.persons_by_source_count[len(p.sources)] += 1
            for v in chunk.visitors:
                summary.persons_by_source_count[len(v.sources)] += 1
            if on_chunk:
                on_chunk(c + 1, n_chunks)
    finally:
        writer.close()
    if spooler and config.stream:
        summary.stream_events = spooler.merge_into(config.stream)
    summary.files = len(writer.files)
    manifest = {
        "generator": "ucid generate",
        "parameters": {
            "customers": config.customers,
            "seed": config.seed,
            "days": config.days,
            "start_date": config.start.isoformat(),
            "chunk_size": nz.CHUNK_SIZE,
            "stream": config.stream is not None,
        },
        "sources": {
            name: {"location": name, "format": s.format, "record_id": s.record_id}
            for name, s in SOURCES.items()
        },
        "truth": f"{TRUTH_DIR}/truth.csv",
        "campaigns": [c.campaign_id for c in campaigns],
        **summary.as_dict(),
    }
    (config.out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return summary
