"""Orchestration: chunks of people -> profile and event rows -> files, truth, stream, manifest.

Chunks are independent (each has its own random source), so worker processes generate and render
them while the main process appends them to the files strictly in chunk order.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ucid.generate import noise as nz
from ucid.generate.emit import ChunkOutput
from ucid.generate.events import Campaign, campaign_schedule, emit_events
from ucid.generate.ids import Allocator, Clock, chunk_rng, email_space_for
from ucid.generate.people import build_chunk
from ucid.generate.profiles import emit_profiles
from ucid.generate.hard import emit_hard_cases
from ucid.generate.schema import ALL_SOURCES, SOURCES
from ucid.generate.stream import merge_runs, spool_runs
from ucid.generate.writers import (
    TRUTH_DIR,
    DatasetWriter,
    Payload,
    render_payloads,
    render_truth,
)

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
    hard_cases: bool = False  # add ucid/generate/hard.py's records (off: the same bytes as before it existed)


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
    ours = [out / name for name in (*ALL_SOURCES, TRUTH_DIR, MANIFEST, STREAM_TMP)]
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


@dataclass
class RenderedChunk:
    """Everything one chunk contributes, ready to append (built in a worker process)."""

    chunk: int
    payloads: list[Payload]
    truth: str
    stream_events: int
    customers: int
    visitors: int
    records: Counter[str]
    persons_hist: Counter[int]
    customers_hist: Counter[int]


_CONTEXT: dict[tuple[object, ...], tuple[Clock, Allocator, list[Campaign]]] = {}


def _context(config: GenerateConfig) -> tuple[Clock, Allocator, list[Campaign]]:
    key = (config.seed, config.customers, config.days, config.start)
    if key not in _CONTEXT:
        clock = Clock(config.start, config.days)
        _CONTEXT.clear()
        _CONTEXT[key] = (clock, Allocator(config.seed, email_space_for(config.customers)),
                         campaign_schedule(config.seed, clock))
    return _CONTEXT[key]


def render_chunk(config: GenerateConfig, c: int) -> RenderedChunk:
    """Generate chunk ``c`` and render it to payloads; a pure function of (config, c)."""
    clock, alloc, campaigns = _context(config)
    size = min(nz.CHUNK_SIZE, config.customers - c * nz.CHUNK_SIZE)
    rng = chunk_rng(config.seed, c)
    chunk = build_chunk(rng, alloc, clock, c, size)
    output = ChunkOutput(c, clock, with_stream=config.stream is not None)
    emit_profiles(rng, output, clock, alloc, chunk)
    emit_events(rng, output, clock, alloc, chunk, campaigns)
    if config.hard_cases:  # last, from its own random source: every other row stays as it was
        emit_hard_cases(config.seed, output, clock, alloc, chunk)
    records = Counter({source: sum(len(r) for r in by_day.values()) for source, by_day in output.rows.items()
                       if source in SOURCES or config.hard_cases})
    customers_hist = Counter(len(p.sources) for p in chunk.customers)
    persons_hist = customers_hist + Counter(len(v.sources) for v in chunk.visitors)
    stream_events = spool_runs(output, config.out / STREAM_TMP) if config.stream else 0
    return RenderedChunk(c, render_payloads(output), render_truth(output), stream_events,
                         len(chunk.customers), len(chunk.visitors), records, persons_hist, customers_hist)


def _init_worker(chunk_size: int, chunks_per_part: int) -> None:
    """Workers use the chunk geometry of the main process (tests shrink it)."""
    nz.CHUNK_SIZE = chunk_size
    nz.CHUNKS_PER_PART = chunks_per_part


def _rendered_in_order(config: GenerateConfig, n_chunks: int, workers: int) -> Iterator[RenderedChunk]:
    """Rendered chunks in chunk order; at most ``workers + 1`` chunks in flight (bounded memory)."""
    if workers <= 1 or n_chunks <= 1:
        for c in range(n_chunks):
            yield render_chunk(config, c)
        return
    ctx = multiprocessing.get_context("spawn")  # no fork of a threaded parent (progress bar)
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(nz.CHUNK_SIZE, nz.CHUNKS_PER_PART)) as pool:
        pending: deque[Future[RenderedChunk]] = deque()
        submitted = 0
        try:
            while submitted < n_chunks or pending:
                while submitted < n_chunks and len(pending) <= workers:
                    pending.append(pool.submit(render_chunk, config, submitted))
                    submitted += 1
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()


def default_workers(customers: int) -> int:
    """One process for small runs (spawning workers costs seconds), else up to 4 CPUs."""
    if customers < 8 * nz.CHUNK_SIZE:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def generate_dataset(
    config: GenerateConfig,
    on_chunk: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> Summary:
    """Generate the whole data set; a pure function of (seed, customers, days, start).

    Chunks are generated by ``workers`` processes and written in chunk order, so the output does
    not depend on ``workers``. ``on_chunk(done, total)`` is called after every chunk.
    """
    if config.customers < 1:
        raise GenerateError("--customers must be at least 1")
    if config.days < 1:
        raise GenerateError("--days must be at least 1")
    _prepare_out(config)
    clock, _, campaigns = _context(config)
    writer = DatasetWriter(config.out, clock)
    summary = Summary()
    n_chunks = -(-config.customers // nz.CHUNK_SIZE)
    try:
        for r in _rendered_in_order(config, n_chunks, workers):
            writer.write(r.chunk, r.payloads, r.truth)
            summary.customers += r.customers
            summary.visitors += r.visitors
            summary.records.update(r.records)
            summary.persons_by_source_count.update(r.persons_hist)
            summary.customers_by_source_count.update(r.customers_hist)
            summary.stream_events += r.stream_events
            if on_chunk:
                on_chunk(r.chunk + 1, n_chunks)
    finally:
        writer.close()
    if config.stream:
        merged = merge_runs(config.out / STREAM_TMP, config.stream)
        assert merged == summary.stream_events, (merged, summary.stream_events)
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
            **({"hard_cases": True} if config.hard_cases else {}),
        },
        "sources": {
            name: {"location": name, "format": s.format, "record_id": s.record_id}
            for name, s in (ALL_SOURCES if config.hard_cases else SOURCES).items()
        },
        "truth": f"{TRUTH_DIR}/truth.csv",
        "campaigns": [c.campaign_id for c in campaigns],
        **summary.as_dict(),
    }
    (config.out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return summary
