"""Event triggers: rules from ``conf/events/triggers.yaml``, evaluated on the stream.

The pure part (:class:`TriggerEngine`) decides *what* fires: a ``match`` rule on a matching
event; an ``absence`` rule (abandoned cart) when a matching event is not followed by an
``unless`` event of the same customer within ``after_s`` of event time, checked as the
partition's event time (its highest ``event_time`` so far) passes the due time. Pending
absences are kept per shard (Kafka partition) and persisted by the consumer, so a restart picks
them up. The consumer makes each fire at-most-once per (rule, customer, window) with an
``INSERT ... IF NOT EXISTS`` before sending it. A rule naming a ``purpose`` and ``channel`` is a
contact of the customer: the consumer sends it only if the customer's consent decision for them
allows it (:mod:`speed.consents`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from speed.contract import Event


class TriggerConfigError(ValueError):
    """The triggers file is missing or invalid; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Comparison(_Strict):
    eq: Any = None
    ne: Any = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    in_: list[Any] | None = Field(None, alias="in")

    def holds(self, value: Any) -> bool:
        if self.eq is not None and value != self.eq:
            return False
        if self.ne is not None and value == self.ne:
            return False
        if self.in_ is not None and value not in self.in_:
            return False
        bounds = (self.gt, self.gte, self.lt, self.lte)
        if any(b is not None for b in bounds):
            try:
                x = float(value)
            except (TypeError, ValueError):
                return False
            if (self.gt is not None and not x > self.gt) or (self.gte is not None and not x >= self.gte):
                return False
            if (self.lt is not None and not x < self.lt) or (self.lte is not None and not x <= self.lte):
                return False
        return True


class Condition(_Strict):
    type: str
    where: dict[str, Comparison] = Field(default_factory=dict)

    def matches(self, event: Event) -> bool:
        if event.type != self.type:
            return False
        return all(c.holds(event.attributes.get(name)) for name, c in self.where.items())


class TriggerRule(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["match", "absence"]
    when: Condition
    unless: Condition | None = None
    after_s: int | None = Field(None, ge=1)
    window_s: int = Field(ge=1)
    # the contact the trigger leads to: it fires only for a customer whose consent decision for
    # (purpose, channel) allows it (conf/consents.yaml; speed/consents.py)
    purpose: str | None = None
    channel: str | None = None

    @model_validator(mode="after")
    def _absence_needs(self) -> TriggerRule:
        if self.kind == "absence" and (self.unless is None or self.after_s is None):
            raise ValueError("an absence rule needs 'unless' and 'after_s'")
        if (self.purpose is None) != (self.channel is None):
            raise ValueError("a rule names both 'purpose' and 'channel', or neither")
        return self


class TriggerFile(_Strict):
    version: Literal[1] = 1
    triggers: list[TriggerRule]


def load_triggers(path: Path) -> list[TriggerRule]:
    """Load and validate the trigger rules; names must be unique."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        rules = TriggerFile.model_validate(raw).triggers
    except OSError as exc:
        raise TriggerConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise TriggerConfigError(f"{path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"field '{'.'.join(map(str, e['loc']))}': {e['msg']}" for e in exc.errors())
        raise TriggerConfigError(f"{path}: {problems}") from exc
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise TriggerConfigError(f"{path}: duplicate trigger names")
    return rules


@dataclass(frozen=True, slots=True)
class Pending:
    since: int  # event time (ms) of the event that started it
    due: int
    event_id: str


@dataclass(frozen=True, slots=True)
class Fire:
    """A trigger to emit (if its window is still free): ``at`` is the event time it refers to."""

    rule: str
    ucid: str
    event_id: str
    at: int
    window_start: int


class TriggerEngine:
    """Pure trigger evaluation with per-shard pending absences (``pending[shard]``)."""

    def __init__(self, rules: list[TriggerRule]) -> None:
        self.rules = rules
        self.by_name = {r.name: r for r in rules}
        self.pending: dict[int, dict[tuple[str, str], Pending]] = {}
        self.watermark: dict[int, int] = {}
        self.dirty: dict[int, set[tuple[str, str]]] = {}

    def _fire(self, rule: TriggerRule, ucid: str, event_id: str, at: int) -> Fire:
        window = rule.window_s * 1000
        return Fire(rule.name, ucid, event_id, at, at // window * window)

    def observe(self, shard: int, ucid: str, event: Event) -> list[Fire]:
        """Feed one applied event of ``ucid``; returns the match rules it fires."""
        fires: list[Fire] = []
        pending = self.pending.setdefault(shard, {})
        dirty = self.dirty.setdefault(shard, set())
        self.watermark[shard] = max(self.watermark.get(shard, event.time_ms), event.time_ms)
        for rule in self.rules:
            if rule.kind == "match":
                if rule.when.matches(event):
                    fires.append(self._fire(rule, ucid, event.event_id, event.time_ms))
                continue
            key = (rule.name, ucid)
            current = pending.get(key)
            if rule.unless is not None and rule.unless.matches(event) and current and event.time_ms >= current.since:
                del pending[key]
                dirty.add(key)
            elif rule.when.matches(event) and current is None:
                pending[key] = Pending(event.time_ms, event.time_ms + (rule.after_s or 0) * 1000, event.event_id)
                dirty.add(key)
        return fires

    def due(self, shard: int) -> list[Fire]:
        """Absences of ``shard`` whose due time the shard's event time has passed (removed)."""
        mark = self.watermark.get(shard)
        pending = self.pending.get(shard, {})
        if mark is None or not pending:
            return []
        out = []
        for key, p in sorted(pending.items()):
            if p.due <= mark:
                rule = self.by_name[key[0]]
                out.append(self._fire(rule, key[1], p.event_id, p.since))
                del pending[key]
                self.dirty.setdefault(shard, set()).add(key)
        return out

    def take_dirty(self, shard: int) -> list[tuple[tuple[str, str], Pending | None]]:
        """Pending entries changed since the last call: (key, entry or None if removed)."""
        keys = self.dirty.pop(shard, set())
        pending = self.pending.get(shard, {})
        return [(k, pending.get(k)) for k in sorted(keys)]

    def load(self, shard: int, entries: dict[tuple[str, str], Pending]) -> None:
        """Restore a shard's pending absences (after an assignment)."""
        self.pending[shard] = {k: v for k, v in entries.items() if k[0] in self.by_name}

    def forget(self, shard: int) -> None:
        self.pending.pop(shard, None)
        self.watermark.pop(shard, None)
        self.dirty.pop(shard, None)
