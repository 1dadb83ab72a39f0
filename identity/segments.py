"""Computed traits and segments: definitions (``conf/segments.yaml``), facts and evaluation.

One pure module both layers call, so the batch and the speed layer cannot disagree by
construction:

* a **trait** is an aggregate over a customer's events (``sum`` of ``amount``, ``count``,
  ``days_since`` the latest, ``top`` value of a field by number of events, ``latest`` value of an
  attribute), optionally restricted to event types, channels, attribute values and a window of
  ``within_days`` UTC days ending on the day of ``now``;
* a **segment** is a condition on traits, profile attributes and consent decisions
  (:func:`identity.consents.decide`), combined with ``all`` / ``any`` / ``not``.

Evaluation goes through **facts**: per trait an accumulator (:func:`observe` adds one event,
:func:`merge_facts` adds two customers' or two layers' facts), then :func:`traits_of` reads them at
an explicit ``now`` (windows depend on it). Accumulators are order-independent and exact (money in
integer cents), so the batch (all of a UCID's events at once, in a Spark group) and the speed layer
(the batch's published facts plus the events applied since, a poll at a time) get the same traits
from the same events. Events are deduplicated by id by the callers (gold events by record id; the
speed layer's ``profile_updates`` rows are keyed by event id).

Windowed accumulators keep one bucket per UTC day and drop the days older than the window before
their latest day: the result does not depend on the order the events came in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from identity.consents import Statement, Vocabulary, decide
from identity.rules import format_errors, read_yaml

DAY_MS = 86_400_000
AGGREGATES = ("sum", "count", "days_since", "top", "latest")
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "exists")


class SegmentConfigError(ValueError):
    """``conf/segments.yaml`` is missing or invalid; the message names the file, key and line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TraitDef(_Strict):
    """One computed trait (see the module docstring and docs/segments.md)."""

    description: str = ""
    aggregate: Literal["sum", "count", "days_since", "top", "latest"]
    types: tuple[str, ...] = ()  # event types counted (empty: every type)
    channels: tuple[str, ...] = ()  # channels counted (empty: every channel)
    where: dict[str, tuple[str, ...]] = Field(default_factory=dict)  # attribute -> accepted values
    within_days: int | None = Field(default=None, ge=1, le=3660)
    field: str | None = None  # top: "channel" | "type" | an attribute name
    attribute: tuple[str, ...] = ()  # latest: the attribute names looked up, first present wins

    @field_validator("types", "channels", "attribute", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("where", mode="before")
    @classmethod
    def _where_lists(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: (v,) if isinstance(v, str | int | float) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TraitDef:
        if self.aggregate == "top" and not self.field:
            raise ValueError("aggregate 'top' needs 'field' (channel, type or an attribute name)")
        if self.aggregate == "latest" and not self.attribute:
            raise ValueError("aggregate 'latest' needs 'attribute' (one name or a list)")
        if self.within_days is not None and self.aggregate not in ("sum", "count"):
            raise ValueError(f"within_days applies to sum and count, not {self.aggregate!r}")
        return self


class Condition(_Strict):
    """One condition of a segment: exactly one subject (``trait``, ``attribute``, ``consent``)
    with one operator, or a combination (``all``, ``any``, ``not``)."""

    trait: str | None = None
    attribute: str | None = None
    consent: str | None = None  # "<purpose>/<channel>": the decision's allowed (true / false)
    all: tuple[Condition, ...] | None = None
    any: tuple[Condition, ...] | None = None
    not_: Condition | None = Field(default=None, alias="not")
    eq: Any = None
    ne: Any = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    in_: tuple[Any, ...] | None = Field(default=None, alias="in")
    not_in: tuple[Any, ...] | None = None
    exists: bool | None = None
    allowed: bool | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        subjects = [n for n in ("trait", "attribute", "consent") if getattr(self, n) is not None]
        combos = [n for n, v in (("all", self.all), ("any", self.any), ("not", self.not_)) if v is not None]
        ops = self.operators()
        if len(subjects) + len(combos) != 1:
            raise ValueError("a condition has exactly one of trait, attribute, consent, all, any, not")
        if combos and (ops or self.allowed is not None):
            raise ValueError(f"'{combos[0]}' takes conditions, not an operator")
        if self.consent is not None:
            if ops or self.allowed is None:
                raise ValueError("a consent condition is {consent: <purpose>/<channel>, allowed: true|false}")
            if self.consent.count("/") != 1:
                raise ValueError(f"consent {self.consent!r}: write <purpose>/<channel>")
        elif subjects:
            if self.allowed is not None:
                raise ValueError("'allowed' is for consent conditions")
            if len(ops) != 1:
                raise ValueError(f"a {subjects[0]} condition has exactly one operator of {', '.join(OPERATORS)}")
        if (self.all is not None and not self.all) or (self.any is not None and not self.any):
            raise ValueError("'all' / 'any' need at least one condition")
        return self

    def operators(self) -> list[str]:
        names = {"in_": "in"}
        return [names.get(n, n) for n in ("eq", "ne", "gt", "gte", "lt", "lte", "in_", "not_in", "exists")
                if getattr(self, n) is not None]


class SegmentDef(_Strict):
    description: str = ""
    when: Condition


class SegmentFile(_Strict):
    version: Literal[1] = 1
    traits: dict[str, TraitDef] = Field(min_length=1)
    segments: dict[str, SegmentDef] = Field(min_length=1)

    @model_validator(mode="after")
    def _names_known(self) -> SegmentFile:
        for name, segment in self.segments.items():
            for trait in _traits_in(segment.when):
                if trait not in self.traits:
                    raise ValueError(f"segments.{name}: unknown trait {trait!r} (traits: {', '.join(self.traits)})")
        for name in [*self.traits, *self.segments]:
            if not name.replace("_", "").isalnum() or not name[0].isalpha() or name != name.lower():
                raise ValueError(f"{name!r}: names are lower-case letters, digits and '_', starting with a letter")
        return self


def _traits_in(c: Condition) -> Iterable[str]:
    if c.trait is not None:
        yield c.trait
    for sub in (*(c.all or ()), *(c.any or ()), *((c.not_,) if c.not_ else ())):
        yield from _traits_in(sub)


@dataclass(frozen=True, slots=True)
class EventFact:
    """What a trait reads of one event: both layers build it from their rows (gold events; the
    speed layer's ``profile_updates``). ``amount`` is the event's ``amount`` measure, if any."""

    event_id: str
    type: str
    channel: str | None
    time_ms: int
    amount: float | None
    attributes: Mapping[str, str]


Facts = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Definitions:
    """The compiled ``conf/segments.yaml``."""

    config: SegmentFile

    @property
    def traits(self) -> dict[str, TraitDef]:
        return self.config.traits

    @property
    def segments(self) -> dict[str, SegmentDef]:
        return self.config.segments


# -- facts ---------------------------------------------------------------------------------------
def _matches(t: TraitDef, e: EventFact) -> bool:
    if t.types and e.type not in t.types:
        return False
    if t.channels and e.channel not in t.channels:
        return False
    return all(e.attributes.get(k) in values for k, values in t.where.items())


def _cents(amount: float | None) -> int:
    return int(round((amount or 0.0) * 100))


def _prune(acc: dict[str, Any], window: int) -> None:
    days = acc["d"]
    if days:
        last = max(int(d) for d in days)
        for d in [d for d in days if int(d) <= last - window]:
            del days[d]


def observe(defs: Definitions, facts: Facts, e: EventFact) -> None:
    """Add one event to ``facts`` (in place). Callers add each event once (dedup by id)."""
    for name, t in defs.traits.items():
        if not _matches(t, e):
            continue
        acc = facts.setdefault(name, {})
        if t.aggregate in ("sum", "count"):
            value = _cents(e.amount) if t.aggregate == "sum" else 1
            if t.within_days is None:
                acc["v"] = acc.get("v", 0) + value
            else:
                days = acc.setdefault("d", {})
                day = str(e.time_ms // DAY_MS)
                days[day] = days.get(day, 0) + value
                _prune(acc, t.within_days)
        elif t.aggregate == "days_since":
            acc["t"] = max(acc.get("t", e.time_ms), e.time_ms)
        elif t.aggregate == "top":
            key = e.channel if t.field == "channel" else e.type if t.field == "type" else e.attributes.get(t.field or "")
            if key is not None:
                counts = acc.setdefault("c", {})
                counts[key] = counts.get(key, 0) + 1
        elif t.aggregate == "latest":
            value = next((e.attributes[a] for a in t.attribute if e.attributes.get(a) not in (None, "")), None)
            if value is not None and (e.time_ms, e.event_id) > (acc.get("t", -1), acc.get("id", "")):
                acc.update(t=e.time_ms, id=e.event_id, v=value)


def facts_of(defs: Definitions, events: Iterable[EventFact]) -> Facts:
    """The facts of a set of events (each counted once by event id)."""
    facts: Facts = {}
    seen: set[str] = set()
    for e in events:
        if e.event_id not in seen:
            seen.add(e.event_id)
            observe(defs, facts, e)
    return facts


def merge_facts(defs: Definitions, a: Facts, b: Facts) -> Facts:
    """``a`` and ``b`` together (disjoint events), as a new value."""
    out: Facts = json.loads(json.dumps(a))
    for name, acc in b.items():
        t = defs.traits.get(name)
        if t is None:
            continue  # a trait no longer defined: its facts are dropped
        mine = out.setdefault(name, {})
        if not acc:
            continue
        if t.aggregate in ("sum", "count") and t.within_days is None:
            mine["v"] = mine.get("v", 0) + acc.get("v", 0)
        elif t.aggregate in ("sum", "count"):
            days = mine.setdefault("d", {})
            for d, v in acc.get("d", {}).items():
                days[d] = days.get(d, 0) + v
            _prune(mine, t.within_days)
        elif t.aggregate == "top":
            counts = mine.setdefault("c", {})
            for k, v in acc.get("c", {}).items():
                counts[k] = counts.get(k, 0) + v
        elif t.aggregate == "days_since":
            mine["t"] = max(mine.get("t", acc["t"]), acc["t"])
        elif (acc["t"], acc["id"]) > (mine.get("t", -1), mine.get("id", "")):
            mine.update(t=acc["t"], id=acc["id"], v=acc["v"])
    return out


def dump_facts(facts: Facts) -> str:
    return json.dumps(facts, sort_keys=True, separators=(",", ":"))


def load_facts(text: str | None) -> Facts:
    return json.loads(text) if text else {}


# -- evaluation -----------------------------------------------------------------------------------
def traits_of(defs: Definitions, facts: Facts, now_ms: int) -> dict[str, Any]:
    """Every trait's value at ``now_ms``: numbers (money rounded to cents), a string, or ``None``
    (no event counted: a ``days_since``, ``top`` or ``latest`` trait has no value; a ``sum`` or
    ``count`` is 0)."""
    today = now_ms // DAY_MS
    out: dict[str, Any] = {}
    for name, t in defs.traits.items():
        acc = facts.get(name, {})
        if t.aggregate in ("sum", "count"):
            if t.within_days is None:
                total = acc.get("v", 0)
            else:
                total = sum(v for d, v in acc.get("d", {}).items() if today - t.within_days < int(d) <= today)
            out[name] = round(total / 100, 2) if t.aggregate == "sum" else total
        elif t.aggregate == "days_since":
            out[name] = max(0, (now_ms - acc["t"]) // DAY_MS) if "t" in acc else None
        elif t.aggregate == "top":
            counts = acc.get("c", {})
            out[name] = max(sorted(counts), key=lambda k: counts[k]) if counts else None
        else:
            out[name] = acc.get("v")
    return out


def _compare(value: Any, c: Condition) -> bool:
    if c.exists is not None:
        return (value is not None) == c.exists
    if c.eq is not None:
        return value == c.eq
    if c.ne is not None:
        return value != c.ne
    if c.in_ is not None:
        return value in c.in_
    if c.not_in is not None:
        return value not in c.not_in
    if value is None or isinstance(value, bool):
        return False
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    for bound, ok in ((c.gt, lambda b: number > b), (c.gte, lambda b: number >= b), (c.lt, lambda b: number < b),
                      (c.lte, lambda b: number <= b)):
        if bound is not None:
            return ok(bound)
    return False


def holds(c: Condition, traits: Mapping[str, Any], attributes: Mapping[str, str], allowed: Mapping[str, bool]) -> bool:
    """Whether condition ``c`` holds; ``allowed``: the consent decisions by ``purpose/channel``."""
    if c.all is not None:
        return all(holds(s, traits, attributes, allowed) for s in c.all)
    if c.any is not None:
        return any(holds(s, traits, attributes, allowed) for s in c.any)
    if c.not_ is not None:
        return not holds(c.not_, traits, attributes, allowed)
    if c.consent is not None:
        return allowed.get(c.consent, False) == c.allowed
    value = traits.get(c.trait) if c.trait is not None else attributes.get(c.attribute or "")
    return _compare(value, c)


def consents_used(defs: Definitions) -> set[str]:
    found: set[str] = set()

    def walk(c: Condition) -> None:
        if c.consent is not None:
            found.add(c.consent)
        for sub in (*(c.all or ()), *(c.any or ()), *((c.not_,) if c.not_ else ())):
            walk(sub)

    for s in defs.segments.values():
        walk(s.when)
    return found


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A customer's traits and the segments it is a member of, at one ``now``."""

    traits: dict[str, Any]
    segments: frozenset[str]


def evaluate(defs: Definitions, vocabulary: Vocabulary, facts: Facts, attributes: Mapping[str, str],
             statements: Iterable[Statement], now_ms: int) -> Evaluation:
    """The traits of ``facts`` at ``now_ms`` and the segments whose condition holds, with the
    consent decisions over ``statements`` (the same for both layers: batch and speed call this)."""
    traits = traits_of(defs, facts, now_ms)
    held = list(statements)
    allowed = {}
    for term in consents_used(defs):
        purpose, channel = term.split("/")
        allowed[term] = decide(vocabulary, held, purpose, channel).allowed
    members = frozenset(n for n, s in defs.segments.items() if holds(s.when, traits, attributes or {}, allowed))
    return Evaluation(traits, members)


def encode_trait(value: Any) -> str:
    """A trait value as the text stored in Cassandra and Delta maps (JSON)."""
    return json.dumps(value)


def decode_trait(text: str | None) -> Any:
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        return text


# -- loading ---------------------------------------------------------------------------------------
def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (as far down as it exists)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for key in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        found = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(key)), None)
        if found is None:
            break
        line = found[0].start_mark.line + 1
        node = found[1]
    return line


def definitions_from_text(text: str, origin: str = "<segments>", vocabulary: Vocabulary | None = None) -> Definitions:
    """Validate YAML text; errors are :class:`SegmentConfigError` naming ``origin``, the key and
    its line. With ``vocabulary``, consent terms are checked against it."""
    from pydantic import ValidationError

    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SegmentConfigError(f"{origin}: not valid YAML: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise SegmentConfigError(f"{origin}: expected a mapping at the top level")
    try:
        config = SegmentFile.model_validate(dict(raw))
    except ValidationError as exc:
        first = exc.errors()[0]["loc"] if exc.errors() else ()
        line = _line_of(text, tuple(first))
        where = f" (line {line})" if line else ""
        raise SegmentConfigError(f"{origin}{where}: {format_errors(exc)}") from exc
    except ValueError as exc:
        raise SegmentConfigError(f"{origin}: {exc}") from exc
    defs = Definitions(config)
    if vocabulary is not None:
        for term in sorted(consents_used(defs)):
            purpose, channel = term.split("/")
            try:
                vocabulary.check(purpose, channel)
            except ValueError as exc:
                raise SegmentConfigError(f"{origin}: consent {term!r}: {exc}") from exc
    return defs


def load_definitions(path: Path, vocabulary: Vocabulary | None = None) -> Definitions:
    """Read and validate ``conf/segments.yaml``."""
    read_yaml(path, SegmentConfigError)  # an unreadable file: the same error as the other configs
    return definitions_from_text(Path(path).read_text(encoding="utf-8"), str(path), vocabulary)
