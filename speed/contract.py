"""The event contract (``conf/events/event.schema.json``, ``schema_version`` 1).

:func:`parse_event` turns the bytes of one Kafka message into an :class:`Event` or raises
:class:`ContractError` with a reason a human can act on (it goes to the dead-letter topic with
the original bytes). Beyond the JSON Schema it checks what a schema cannot: the size of the
message (before it is decoded, so a huge one costs no parsing) and of each attribute value
(:class:`EventLimits`), identifier types known to the identity core, identifier values free of
control and invisible characters (the core's rule, :func:`identity.types.hidden_character`: the
batch rejects the same values), and ``event_time`` a real instant.

Two paths to the same answer (:mod:`speed.schema`): a valid event is decoded by ``orjson`` and
checked by the schema compiled to Python (``fastjsonschema``); anything that path does not accept
whole is decoded and judged again exactly as before, by the stdlib ``json`` and ``jsonschema``, so
each dead-letter reason is the reference path's, word for word. The fast path yields a document
only where the reference path yields an equal one and accepts it (:func:`fast_document`).

Also here: the Kafka key of an event (:func:`event_key`) and its flat landing row
(:func:`landing_row`), both pure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from identity.records import Record
from identity.rules import Policy
from identity.types import hidden_character
from speed.schema import EventSchema
from speed.schema import load_schema as load_schema  # re-exported: the consumer loads the schema from here

SCHEMA_VERSION = 1
STREAM_SOURCE = "stream"
"""Source name of the landing files (``conf/sources/stream.yaml``) and of the speed layer's
records, so link evidence names the same ``(source, record_id)`` the batch layer ingests."""

KEY_TYPES = ("cookie_id", "device_id")
"""Session identifiers keyed first: all events of one browser / device land on one partition, in
order (an abandoned cart and its purchase are seen by one consumer). Without one, the strongest
identifier (by the policy's priority) is the key."""

BASE_COLUMNS = ("event_id", "event_type", "event_time", "channel", "source")

EXACT_FLOAT = 2.0**63
"""orjson returns an integer outside [-2**63, 2**64) as a rounded float where ``json`` keeps the
int; a float of at least this size may be one, so its event takes the reference path."""


class ContractError(ValueError):
    """The message breaks the event contract; ``str(error)`` is the reason."""


@dataclass(frozen=True, slots=True)
class EventLimits:
    """Size limits of one event (``UCID_SPEED_MAX_EVENT_BYTES`` / ``_MAX_ATTRIBUTE_BYTES``).

    Without them a producer could put a 900 KB attribute on an event, and the speed layer applied
    it to the profile and the serving API sent it back on every read. ``attribute_bytes`` counts
    the UTF-8 bytes of a string value."""

    event_bytes: int = 65_536
    attribute_bytes: int = 8_192


@dataclass(frozen=True, slots=True)
class Event:
    """A valid event. ``time_ms`` is ``event_time`` in epoch milliseconds (UTC)."""

    event_id: str
    type: str
    event_time: str
    time_ms: int
    channel: str
    source: str
    identifiers: dict[str, str]
    attributes: dict[str, Any]

    def record(self) -> Record:
        """The identity core's view of this event: one record of the ``stream`` source."""
        return Record(STREAM_SOURCE, self.event_id, tuple(sorted(self.identifiers.items())))


def parse_time_ms(text: str) -> int:
    """Epoch milliseconds of an ISO 8601 time with a zone; ``ContractError`` if not one."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ContractError(f"event_time: not a valid time: {text!r}") from exc
    if when.tzinfo is None:
        raise ContractError(f"event_time: needs a time zone: {text!r}")
    return int(when.timestamp() * 1000)


def rounded_number(doc: Any) -> bool:
    """True if ``doc`` (decoded by orjson) holds a float of magnitude at least
    :data:`EXACT_FLOAT`, which may stand for an integer orjson rounded."""
    todo = [doc]
    while todo:
        node = todo.pop()
        for value in node.values() if type(node) is dict else node:
            kind = type(value)
            if kind is float:
                if not -EXACT_FLOAT < value < EXACT_FLOAT:
                    return True
            elif kind is dict or kind is list:
                todo.append(value)
    return False


def fast_document(raw: bytes, schema: EventSchema) -> dict[str, Any] | None:
    """The event as the reference path (``json``, then ``jsonschema``) would return it, or ``None``
    when this path cannot vouch for it (no fast validator, not JSON to orjson, not an object,
    refused by the fast validator, or a float that may be a rounded integer): the caller then
    takes the reference path.

    Sound because orjson accepts a subset of what ``json`` accepts (it refuses NaN, Infinity,
    lone surrogates, numbers too large for a double, more than 1,024 levels of nesting) and then
    decodes it to the same values, but for integers beyond 64 bits (see :func:`rounded_number`);
    and the fast validator accepts nothing the reference one refuses (:mod:`speed.schema`)."""
    if schema.fast is None:
        return None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(doc) is not dict:
        return None
    try:
        schema.fast(doc)
    except Exception:  # noqa: BLE001 - a refusal or any other failure: the reference path decides
        return None
    if rounded_number(doc):
        return None
    return doc


def parse_event(raw: bytes | None, validator: EventSchema, policy: Policy,
                limits: EventLimits = EventLimits()) -> Event:
    """Decode, validate and return one event. Promises: either an :class:`Event` within
    ``limits`` whose identifier types are all known to ``policy`` and whose identifier values
    hold no control or invisible character, or :class:`ContractError` with the reason.
    ``validator`` is :func:`load_schema`'s; neither outcome depends on whether it has a fast
    validator."""
    if raw is None:
        raise ContractError("empty message (tombstone)")
    if len(raw) > limits.event_bytes:
        raise ContractError(f"event too large: {len(raw):,} bytes (the maximum is {limits.event_bytes:,})")
    doc = fast_document(raw, validator)
    if doc is None:  # the reference path, as before and in this frame (a deep document hits the same recursion limit)
        doc = _reference_document(raw)
        error = next(iter(sorted(validator.reference.iter_errors(doc), key=lambda e: list(e.absolute_path))), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "<root>"
            raise ContractError(f"{where}: {error.message}")
    unknown = sorted(t for t in doc["identifiers"] if t not in policy.types)
    if unknown:
        raise ContractError(
            f"identifiers: unknown identifier type(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(policy.types))})"
        )
    for type_name, value in sorted(doc["identifiers"].items()):
        why = hidden_character(value)
        if why:
            raise ContractError(f"identifiers/{type_name}: {why}")
    for name, value in sorted((doc.get("attributes") or {}).items()):
        if isinstance(value, str) and len(value) * 4 > limits.attribute_bytes:  # cheap bound first
            size = len(value.encode("utf-8"))
            if size > limits.attribute_bytes:
                raise ContractError(f"attributes/{name}: value too large: {size:,} bytes "
                                    f"(the maximum is {limits.attribute_bytes:,})")
    return Event(
        event_id=doc["event_id"],
        type=doc["type"],
        event_time=doc["event_time"],
        time_ms=parse_time_ms(doc["event_time"]),
        channel=doc["channel"],
        source=doc["source"],
        identifiers=dict(doc["identifiers"]),
        attributes=dict(doc.get("attributes") or {}),
    )


MAX_DEPTH = 16
"""Nesting a message may have: a valid event has 3 levels (flat attributes); deeper documents are
refused as such, whatever the stack depth at which the decoder itself would give up."""


def _reference_document(raw: bytes) -> dict:
    """The JSON object of ``raw`` by the standard library, or :class:`ContractError`: never
    another exception, so no message can make the consumer retry it for ever (a document nested
    past the stack, an integer of more than 4,300 digits); no document nested deeper than
    :data:`MAX_DEPTH`; no string holding a lone surrogate, which would fail later, when the
    event is written out as UTF-8."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ContractError(f"not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ContractError(f"not JSON: {exc}") from exc
    except RecursionError as exc:
        raise ContractError(f"not JSON: nested more than {MAX_DEPTH} levels") from exc
    except ValueError as exc:  # e.g. int's limit on digits
        raise ContractError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ContractError(f"not a JSON object: {type(doc).__name__}")
    _check_values(doc)
    return doc


def _check_values(doc: dict) -> None:
    """:class:`ContractError` if ``doc`` nests deeper than :data:`MAX_DEPTH` or a key or string
    holds a lone surrogate; iterative, so the stack depth does not matter."""
    todo: list[tuple[Any, int]] = [(doc, 1)]
    while todo:
        value, depth = todo.pop()
        if depth > MAX_DEPTH:
            raise ContractError(f"not JSON: nested more than {MAX_DEPTH} levels")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            for text in (key, item):
                if isinstance(text, str):
                    try:
                        text.encode("utf-8")
                    except UnicodeEncodeError as exc:
                        raise ContractError(
                            f"not valid Unicode: a lone surrogate {exc.object[exc.start:exc.end]!r}") from exc
            if isinstance(item, dict | list):
                todo.append((item, depth + 1))


def event_key(identifiers: dict[str, str], policy: Policy) -> bytes | None:
    """The Kafka key: ``type:normalized value`` of the session identifier (``KEY_TYPES``), else of
    the strongest valid identifier; raw value if none normalizes; ``None`` if there are none."""
    types = policy.types
    candidates = []
    for type_name, raw in identifiers.items():
        ctype = types.get(type_name)
        if ctype is None or not raw:
            continue
        ident, kind, _ = ctype.verdict(raw)
        value = ident[1] if ident is not None and kind is None else None
        rank = KEY_TYPES.index(type_name) if type_name in KEY_TYPES else len(KEY_TYPES)
        candidates.append((value is None, rank, ctype.priority, type_name, value or raw.strip()))
    if not candidates:
        return None
    best = min(candidates)
    return f"{best[3]}:{best[4]}".encode()


def landing_row(event: Event, id_types: tuple[str, ...]) -> dict[str, Any]:
    """The flat landing row of an event (docs/lambda-contract.md): base columns, one column per
    identifier type of ``id_types`` (null when absent), then the attributes; an attribute whose
    name is taken by a base or identifier column is written as ``attr_<name>``."""
    row: dict[str, Any] = {
        "event_id": event.event_id,
        "event_type": event.type,
        "event_time": event.event_time,
        "channel": event.channel,
        "source": event.source,
    }
    for type_name in id_types:
        row[type_name] = event.identifiers.get(type_name)
    for name, value in event.attributes.items():
        row[f"attr_{name}" if name in row else name] = value
    return row


def utc_iso(ms: int) -> str:
    """Epoch milliseconds as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
