"""Streaming writers: each chunk is appended to ``DIR/<source>/<day>/part-<n>.<ext>`` at once.

CSV and JSON-lines files are opened in append mode for each chunk; Parquet files stay open (one
``ParquetWriter`` per source and day) for the chunks of one part and get one row group per chunk.
A part holds ``CHUNKS_PER_PART`` chunks, so the number of files stays small at any size.
"""

from __future__ import annotations

import csv
import json
import resource
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ucid.generate.emit import ChunkOutput, Row
from ucid.generate.ids import Clock
from ucid.generate import noise as nz
from ucid.generate.schema import SOURCES, SourceSpec

TRUTH_DIR = "truth"
TRUTH_FILE = "truth.csv"
TRUTH_HEADER = ("source", "record_id", "person_id")


_TEXT_TIME = {"iso": Clock.iso, "sql": Clock.sql, "date": Clock.date}
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _text_values(spec: SourceSpec, row: Row) -> list[Any]:
    values = [row.get(col) for col in spec.columns]
    for i, fmt in _time_positions(spec):
        if values[i] is not None:
            values[i] = fmt(values[i])
    return values


_POSITIONS: dict[str, list[tuple[int, Any]]] = {}


def _time_positions(spec: SourceSpec) -> list[tuple[int, Any]]:
    pos = _POSITIONS.get(spec.name)
    if pos is None:
        pos = [(spec.columns.index(c), _TEXT_TIME[style]) for c, style in spec.times.items()]
        _POSITIONS[spec.name] = pos
    return pos


class DatasetWriter:
    """Writes chunks of rows under ``out`` and the truth file under ``out/truth``."""

    def __init__(self, out: Path, clock: Clock) -> None:
        self.out = out
        self.clock = clock
        self._part = -1
        self._parquet: dict[tuple[str, int], pq.ParquetWriter] = {}
        self._started: set[Path] = set()
        self.files: set[Path] = set()
        (out / TRUTH_DIR).mkdir(parents=True, exist_ok=True)
        self._truth_path = out / TRUTH_DIR / TRUTH_FILE
        with self._truth_path.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerow(TRUTH_HEADER)
        _allow_open_files(2 * clock.days + 64)

    def path(self, source: str, day: int, part: int) -> Path:
        spec = SOURCES[source]
        return self.out / source / self.clock.day_name(day) / f"part-{part:05d}.{spec.extension}"

    def write(self, output: ChunkOutput) -> None:
        part = output.chunk // nz.CHUNKS_PER_PART
        if part != self._part:
            self._close_parquet()
            self._part = part
        for source, by_day in output.rows.items():
            spec = SOURCES[source]
            for day in sorted(by_day):
                rows = by_day[day]
                if not rows:
                    continue
                path = self.path(source, day, part)
                self.files.add(path)
                if spec.format == "csv":
                    self._write_csv(spec, path, rows)
                elif spec.format == "jsonl":
                    self._write_jsonl(spec, path, rows)
                else:
                    self._write_parquet(spec, day, path, rows)
        with self._truth_path.open("a", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerows(output.truth)

    def close(self) -> None:
        self._close_parquet()

    def _write_csv(self, spec: SourceSpec, path: Path, rows: list[Row]) -> None:
        new = path not in self._started
        if new:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._started.add(path)
        with path.open("w" if new else "a", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            if new:
                w.writerow(spec.columns)
            w.writerows(_text_values(spec, r) for r in rows)

    def _write_jsonl(self, spec: SourceSpec, path: Path, rows: list[Row]) -> None:
        new = path not in self._started
        if new:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._started.add(path)
        cols = spec.columns
        with path.open("w" if new else "a", encoding="utf-8") as fh:
            for r in rows:
                values = _text_values(spec, r)
                fh.write(_JSON.encode(dict(zip(cols, values))))
                fh.write("\n")

    def _write_parquet(self, spec: SourceSpec, day: int, path: Path, rows: list[Row]) -> None:
        key = (spec.name, day)
        writer = self._parquet.get(key)
        schema = spec.arrow_schema()
        if writer is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = pq.ParquetWriter(path, schema, compression="zstd")
            self._parquet[key] = writer
        arrays = []
        for f in schema:
            values = [r.get(f.name) for r in rows]
            if pa.types.is_date32(f.type):
                values = [None if v is None else v // Clock.DAY_MS for v in values]
            arrays.append(pa.array(values, type=f.type))
        writer.write_table(pa.Table.from_arrays(arrays, schema=schema))

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
