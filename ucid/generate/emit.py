"""What one chunk produces: rows per source and day, truth rows, and stream events."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from ucid.generate.ids import Clock
from ucid.generate.people import Person
from ucid.generate.schema import ALL_SOURCES as SOURCES

Row = dict[str, Any]
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


class ChunkOutput:
    """Collects everything a chunk emits; the writers drain it once the chunk is complete."""

    def __init__(self, chunk: int, clock: Clock, with_stream: bool) -> None:
        self.chunk = chunk
        self.clock = clock
        self.with_stream = with_stream
        self.rows: dict[str, dict[int, list[Row]]] = {name: defaultdict(list) for name in SOURCES}
        self.truth: list[tuple[str, str, str]] = []
        self.stream: dict[int, list[str]] = defaultdict(list)
        self._seq = dict.fromkeys(SOURCES, 0)

    def new_id(self, source: str) -> str:
        """A record id unique within ``source`` across all chunks: prefix, chunk, sequence."""
        self._seq[source] += 1
        return f"{SOURCES[source].id_prefix}-{self.chunk:05d}-{self._seq[source]:08d}"

    def add(self, source: str, day: int, row: Row, person: Person) -> None:
        """Record ``row`` (its record id already set) on window ``day`` as ``person``'s."""
        self.rows[source][day].append(row)
        self.truth.append((source, row[SOURCES[source].record_id], person.pid))
        person.sources.add(source)

    def add_event(
        self,
        source: str,
        row: Row,
        person: Person,
        *,
        time_ms: int,
        type_: str,
        channel: str,
        identifiers: dict[str, str | None],
        attributes: dict[str, Any],
    ) -> bool:
        """Record an event row (and its stream event); False if it falls after the window."""
        day = self.clock.day_of(time_ms)
        if not 0 <= day < self.clock.days:
            return False
        self.add(source, day, row, person)
        if self.with_stream:
            event_id = row[SOURCES[source].record_id]
            iso = Clock.iso(time_ms)
            event = {
                "event_id": event_id,
                "schema_version": 1,
                "type": type_,
                "event_time": iso,
                "channel": channel,
                "source": source,
                "identifiers": {k: v for k, v in identifiers.items() if v},
                "attributes": {k: v for k, v in attributes.items() if v is not None and v != ""},
            }
            line = _JSON.encode(event)
            self.stream[day].append(f"{iso}|{event_id}\t{line}")
        return True
