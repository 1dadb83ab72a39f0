"""Rendering a chunk into file payloads, and appending payloads to the data set's files.

``render_chunk_payloads`` turns a chunk's rows into one payload per (source, day): CSV / JSON-lines
text (no header) or an Arrow table. It runs in the worker that generated the chunk. The
``DatasetWriter`` (main process, chunks in order) appends payloads to
``DIR/<source>/<day>/part-<n>.<ext>``: text files are opened in append mode per chunk, Parquet
files stay open (one ``ParquetWriter`` per source and day) for the chunks of one part and get one
row group per chunk. A part holds ``CHUNKS_PER_PART`` chunks, so the file count stays small.
"""

from __future__ import annotations

import csv
import io
import json
import resource
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ucid.generate import noise as nz
from ucid.generate.emit import ChunkOutput, Row
from ucid.generate.ids import Clock
from ucid.generate.schema import ALL_SOURCES as SOURCES, SourceSpec

TRUTH_DIR = "truth"
TRUTH_FILE = "truth.csv"
TRUTH_HEADER = ("source", "record_id", "person_id")

Payload = tuple[str, int, "str | pa.Table"]  # (source, day, text or table)

_TEXT_TIME = {"iso": Clock.iso, "sql": Clock.sql, "date": Clock.date}
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_POSITIONS: dict[str, list[tuple[int, Any]]] = {}


def _time_positions(spec: SourceSpec) -> list[tuple[int, Any]]:
    pos = _POSITIONS.get(spec.name)
    if pos is None:
        pos = [(spec.columns.index(c), _TEXT_TIME[style]) for c, style in spec.times.items()]
        _POSITIONS[spec.name] = pos
    return pos


def _text_values(spec: SourceSpec, row: Row) -> list[Any]:
    values = [row.get(col) for col in spec.columns]
    for i, fmt in _time_positions(spec):
        if values[i] is not None:
            values[i] = fmt(values[i])
    return values


def _csv_text(rows: list[list[Any]] | tuple[str, ...], header: bool = False) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if header:
        w.writerow(rows)
    else:
        w.writerows(rows)  # type: ignore[arg-type]
    return buf.getvalue()


def _arrow_table(spec: SourceSpec, rows: list[Row]) -> pa.Table:
    schema = spec.arrow_schema()
    arrays = []
    for f in schema:
        values = [r.get(f.name) for r in rows]
        if pa.types.is_date32(f.type):
            values = [None if v is None else v // Clock.DAY_MS for v in values]
        arrays.append(pa.array(values, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def render_payloads(output: ChunkOutput) -> list[Payload]:
    """One payload per (source, day) of the chunk, in a fixed order."""
    payloads: list[Payload] = []
    for source, by_day in output.rows.items():
        spec = SOURCES[source]
        for day in sorted(by_day):
            rows = by_day[day]
            if not rows:
                continue
            if spec.format == "csv":
                payloads.append((source, day, _csv_text([_text_values(spec, r) for r in rows])))
            elif spec.format == "jsonl":
                cols = spec.columns
                text = "".join(_JSON.encode(dict(zip(cols, _text_values(spec, r)))) + "\n" for r in rows)
                payloads.append((source, day, text))
            else:
                payloads.append((source, day, _arrow_table(spec, rows)))
    return payloads


def render_truth(output: ChunkOutput) -> str:
    return _csv_text(output.truth)  # type: ignore[arg-type]


class DatasetWriter:
    """Appends rendered chunks (in chunk order) under ``out`` and the truth under ``out/truth``."""

    def __init__(self, out: Path, clock: Clock) -> None:
        self.out = out
        self.clock = clock
        self._part = -1
        self._parquet: dict[tuple[str, int], pq.ParquetWriter] = {}
        self._started: set[Path] = set()
        self.files: set[Path] = set()
        (out / TRUTH_DIR).mkdir(parents=True, exist_ok=True)
        self._truth_path = out / TRUTH_DIR / TRUTH_FILE
        self._truth_path.write_text(_csv_text(TRUTH_HEADER, header=True), encoding="utf-8")
        _allow_open_files(2 * clock.days + 64)

    def path(self, source: str, day: int, part: int) -> Path:
        spec = SOURCES[source]
        return self.out / source / self.clock.day_name(day) / f"part-{part:05d}.{spec.extension}"

    def write(self, chunk: int, payloads: list[Payload], truth: str) -> None:
        part = chunk // nz.CHUNKS_PER_PART
        if part != self._part:
            self._close_parquet()
            self._part = part
        for source, day, payload in payloads:
            path = self.path(source, day, part)
            self.files.add(path)
            if isinstance(payload, str):
                self._append_text(SOURCES[source], path, payload)
            else:
                self._write_parquet(SOURCES[source], day, path, payload)
        with self._truth_path.open("a", encoding="utf-8", newline="") as fh:
            fh.write(truth)

    def close(self) -> None:
        self._close_parquet()

    def _append_text(self, spec: SourceSpec, path: Path, text: str) -> None:
        new = path not in self._started
        if new:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._started.add(path)
        with path.open("w" if new else "a", encoding="utf-8", newline="") as fh:
            if new and spec.format == "csv":
                fh.write(_csv_text(spec.columns, header=True))
            fh.write(text)

    def _write_parquet(self, spec: SourceSpec, day: int, path: Path, table: pa.Table) -> None:
        key = (spec.name, day)
        writer = self._parquet.get(key)
        if writer is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = pq.ParquetWriter(path, spec.arrow_schema(), compression="zstd")
            self._parquet[key] = writer
        writer.write_table(table)

    def _close_parquet(self) -> None:
        for writer in self._parquet.values():
            writer.close()
        self._parquet.clear()


def _allow_open_files(needed: int) -> None:
    """Raise the soft open-files limit if one Parquet file per source and day would exceed it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
