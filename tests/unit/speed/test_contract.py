"""The event contract: valid events parse, every kind of breach gives a clear reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from identity.rules import load_policy
from infra.settings import Settings, SpeedSettings
from speed.contract import (
    ContractError,
    Event,
    MAX_DEPTH,
    EventLimits,
    event_key,
    fast_document,
    landing_row,
    load_schema,
    parse_event,
    rounded_number,
)
from speed.schema import compile_schema

REPO = Path(__file__).resolve().parents[3]
POLICY = load_policy(REPO / "conf" / "rules.yaml")
VALIDATOR = load_schema(SpeedSettings().schema_path(Settings().conf_dir))

GOOD = {"event_id": "WEB-1", "schema_version": 1, "type": "login", "event_time": "2026-01-01T00:11:37.845Z",
        "channel": "web", "source": "web",
        "identifiers": {"cookie_id": "4ee5c563-f1aa", "crm_id": " c759784366 "},
        "attributes": {"page": "/login", "amount": 12.5, "phone": "opt_in"}}


def parse(doc) -> object:
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return parse_event(raw, VALIDATOR, POLICY)


def test_a_valid_event_parses_with_its_time_in_ms() -> None:
    ev = parse(GOOD)
    assert ev.event_id == "WEB-1" and ev.time_ms == 1767226297845
    assert ev.record().source == "stream" and ev.record().record_id == "WEB-1"


def test_generated_stream_lines_are_valid(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ucid.cli import app

    out = tmp_path / "s.jsonl"
    result = CliRunner().invoke(app, ["generate", "-n", "30", "-d", "2", "--out", str(tmp_path / "l"),
                                      "--stream", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    lines = out.read_bytes().splitlines()
    assert lines and all(parse_event(line, VALIDATOR, POLICY) for line in lines)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{nope", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "not a JSON object"),
        (None, "empty message"),
        ({**GOOD, "schema_version": 2}, "schema_version: 1 was expected"),
        ({k: v for k, v in GOOD.items() if k != "event_id"}, "'event_id' is a required property"),
        ({**GOOD, "event_time": "2026-01-01 00:11"}, "event_time: '2026-01-01 00:11' does not match"),
        ({**GOOD, "event_time": "2026-02-30T00:00:00Z"}, "event_time: not a valid time"),
        ({**GOOD, "identifiers": {}}, "identifiers: {} should be non-empty"),
        ({**GOOD, "identifiers": {"shoe_size": "42"}}, "unknown identifier type(s) shoe_size"),
        ({**GOOD, "identifiers": {"email": 5}}, "identifiers/email: 5 is not of type 'string'"),
        ({**GOOD, "attributes": {"nested": {"a": 1}}}, "attributes/nested"),
        ({**GOOD, "extra": 1}, "Additional properties are not allowed"),
    ],
)
def test_a_breach_names_its_reason(raw, reason: str) -> None:
    with pytest.raises(ContractError) as err:
        parse(raw) if raw is not None else parse_event(None, VALIDATOR, POLICY)
    assert reason in str(err.value)


def test_key_prefers_the_session_identifier_and_normalizes() -> None:
    assert event_key({"crm_id": "c1", "cookie_id": "Ab-1"}, POLICY) == b"cookie_id:Ab-1"
    assert event_key({"email": " Ann@X.io ", "crm_id": " c1 "}, POLICY) == b"crm_id:C1"
    assert event_key({"email": "not-an-email"}, POLICY) == b"email:not-an-email"
    assert event_key({}, POLICY) is None


def test_landing_row_is_flat_and_renames_colliding_attributes() -> None:
    row = landing_row(parse(GOOD), ("cookie_id", "crm_id", "email", "phone"))
    assert row == {"event_id": "WEB-1", "event_type": "login", "event_time": "2026-01-01T00:11:37.845Z",
                   "channel": "web", "source": "web", "cookie_id": "4ee5c563-f1aa", "crm_id": " c759784366 ",
                   "email": None, "phone": None, "page": "/login", "amount": 12.5, "attr_phone": "opt_in"}


def test_stream_source_definition_loads() -> None:
    from identity.sources import load_source

    source = load_source(REPO / "conf" / "sources" / "stream.yaml", set(POLICY.types))
    assert source.name == "stream" and source.record_id == "event_id" and source.format == "jsonl"
    assert {c.type for c in source.identifiers} == set(POLICY.linking())


# --- hostile input (issue 16): dead-lettered with a clear reason ---------------------------------


@pytest.mark.parametrize(
    ("identifiers", "reason"),
    [
        ({"email": "ann\u0000@x.org"}, "identifiers/email: control or invisible character U+0000"),
        ({"crm_id": "C1\u202e2"}, "identifiers/crm_id: control or invisible character U+202E"),
        ({"cookie_id": "ab\u200bcd", "crm_id": "C1"}, "identifiers/cookie_id: control or invisible character U+200B"),
    ],
)
def test_an_identifier_with_a_control_or_invisible_character_is_refused(identifiers, reason) -> None:
    with pytest.raises(ContractError, match=reason.replace("+", r"\+")):
        parse({**GOOD, "identifiers": identifiers})


def test_an_event_over_the_size_limit_is_refused_before_decoding() -> None:
    from speed.contract import EventLimits

    limits = EventLimits(event_bytes=2048, attribute_bytes=512)
    big = json.dumps({**GOOD, "attributes": {"page": "/" + "x" * 3000}}).encode()
    with pytest.raises(ContractError, match=r"event too large: 3,\d{3} bytes \(the maximum is 2,048\)"):
        parse_event(big, VALIDATOR, POLICY, limits)
    # not even JSON: refused on its size alone, never decoded
    with pytest.raises(ContractError, match="event too large"):
        parse_event(b"{" * 5000, VALIDATOR, POLICY, limits)


def test_an_attribute_over_the_size_limit_is_refused_in_utf8_bytes() -> None:
    from speed.contract import EventLimits

    limits = EventLimits(event_bytes=65_536, attribute_bytes=512)
    assert parse_event(json.dumps({**GOOD, "attributes": {"note": "é" * 256}}).encode(), VALIDATOR, POLICY, limits)
    with pytest.raises(ContractError, match=r"attributes/note: value too large: 514 bytes \(the maximum is 512\)"):
        parse_event(json.dumps({**GOOD, "attributes": {"note": "é" * 257}}).encode(), VALIDATOR, POLICY, limits)


def test_the_default_limits_refuse_the_900_kb_attribute() -> None:
    raw = json.dumps({**GOOD, "attributes": {"blob": "x" * 900_000}}).encode()
    with pytest.raises(ContractError, match="event too large"):
        parse(raw)
    with pytest.raises(ContractError, match="attributes/blob: value too large: 9,000 bytes"):
        parse({**GOOD, "attributes": {"blob": "x" * 9000}})


def test_a_placeholder_id_is_not_a_contract_breach_but_never_links() -> None:
    """Blocked values are the identity core's business, as in the batch: the event is applied
    with its other identifiers, and the placeholder is a rejection (landed raw, so the batch
    reports it too)."""
    from identity.records import normalize_record

    ev = parse({**GOOD, "identifiers": {"crm_id": "0000000000", "cookie_id": "4ee5c563-f1aa"}})
    norm, rejected = normalize_record(ev.record(), POLICY)
    assert norm.identifiers == (("cookie_id", "4ee5c563-f1aa"),)
    assert [(r.type, r.kind) for r in rejected] == [("crm_id", "blocked")]


# --- the fast path (issue 14): orjson + the compiled schema, the same outcome as the reference ----

SCHEMA_DOC = json.loads((REPO / "conf" / "events" / "event.schema.json").read_text(encoding="utf-8"))
REFERENCE = Draft202012Validator(SCHEMA_DOC)


def reference_parse(raw, validator, policy, limits=EventLimits()) -> Event:
    """The oracle: ``parse_event`` as it was before the fast path (stdlib json, then jsonschema's
    first error by path), line for line, with no part of the fast path."""
    from identity.types import hidden_character
    from speed.contract import _reference_document, parse_time_ms

    if raw is None:
        raise ContractError("empty message (tombstone)")
    if len(raw) > limits.event_bytes:
        raise ContractError(f"event too large: {len(raw):,} bytes (the maximum is {limits.event_bytes:,})")
    doc = _reference_document(raw)  # the hostile-input checks of the reference path (not the fast path's)
    error = next(iter(sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))), None)
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
        if isinstance(value, str) and len(value) * 4 > limits.attribute_bytes:
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


def outcome(parse, raw, validator, limits=EventLimits()) -> tuple:
    """What a parser makes of ``raw``: the event (its repr: 1 and 1.0, NaN and -0.0 told apart),
    the dead-letter reason, or the exception that escapes (none should: see
    :func:`test_no_message_escapes_as_anything_but_a_dead_letter`). Both parsers are called at
    the same stack depth."""
    try:
        return ("event", repr(parse(raw, validator, POLICY, limits)))
    except ContractError as exc:
        return ("dead letter", str(exc))
    except Exception as exc:  # noqa: BLE001 - compared, not hidden
        return ("raises", type(exc).__name__, str(exc))


def assert_same(raw, limits=EventLimits()) -> tuple:
    new = outcome(parse_event, raw, VALIDATOR, limits)
    assert new == outcome(reference_parse, raw, REFERENCE, limits)
    return new


def doc_bytes(doc: Any, ascii_only: bool = True) -> bytes:
    """``doc`` as JSON bytes the way a careless producer may write it: NaN allowed, and without
    ``ascii_only`` a lone surrogate becomes bytes that are not UTF-8."""
    return json.dumps(doc, ensure_ascii=ascii_only, allow_nan=True).encode("utf-8", "surrogatepass")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


HOSTILE: list[bytes] = [
    # not JSON, not UTF-8, not an object
    b"", b" ", b"{", b"{nope", b"\xff\xfe", b"\xef\xbb\xbf" + doc_bytes(GOOD), b"\xfe\xff\x00{", b'"\xed\xa0\x80"',
    doc_bytes(GOOD) + b"\x00", doc_bytes(GOOD) + b" x", doc_bytes(GOOD)[:-1], b"[1, 2]", b"null", b"1", b'"s"',
    b"NaN", b"Infinity", b"-Infinity", b"18446744073709551616", b"\x0c{}", b"{'a': 1}", b'{"a":1,}',
    # wrong types, missing and extra fields
    doc_bytes({**GOOD, "event_id": 5}), doc_bytes({**GOOD, "event_id": ""}), doc_bytes({**GOOD, "event_id": "x" * 129}),
    doc_bytes({**GOOD, "event_id": "-x"}), doc_bytes({**GOOD, "event_id": None}), doc_bytes({**GOOD, "type": "Login"}),
    doc_bytes({**GOOD, "type": ["login"]}), doc_bytes({**GOOD, "channel": ""}), doc_bytes({**GOOD, "source": {}}),
    doc_bytes({k: v for k, v in GOOD.items() if k not in ("event_id", "type")}), doc_bytes({}),
    doc_bytes({**GOOD, "extra": 1, "more": 2}), doc_bytes({**GOOD, "identifiers": []}),
    doc_bytes({**GOOD, "identifiers": {"email": ""}}), doc_bytes({**GOOD, "identifiers": {"email": "x" * 257}}),
    doc_bytes({**GOOD, "identifiers": {"Email": "a@b.c"}}), doc_bytes({**GOOD, "identifiers": {"email": None}}),
    doc_bytes({**GOOD, "identifiers": {f"t{i}": "v" for i in range(17)}}),
    doc_bytes({**GOOD, "attributes": {f"a{i}": i for i in range(65)}}), doc_bytes({**GOOD, "attributes": None}),
    doc_bytes({**GOOD, "attributes": {"Bad": 1}}), doc_bytes({**GOOD, "attributes": {"x": [1]}}),
    doc_bytes({**GOOD, "attributes": {"x": {"y": {"z": 1}}}, "identifiers": 3}),
    # schema_version: 1.0 passes both; true, "1", 2, 1e0 as text, big numbers
    doc_bytes({**GOOD, "schema_version": 1.0}), doc_bytes({**GOOD, "schema_version": True}),
    doc_bytes({**GOOD, "schema_version": "1"}), doc_bytes({**GOOD, "schema_version": 2}),
    doc_bytes({**GOOD, "schema_version": 2**64 + 1}), doc_bytes({**GOOD, "schema_version": float("nan")}),
    doc_bytes(GOOD).replace(b'"schema_version": 1', b'"schema_version": 1e0'),
    doc_bytes(GOOD).replace(b'"schema_version": 1', b'"schema_version": 1.0000000000000001'),
    # numbers orjson reads differently or not at all: NaN, Infinity, integers beyond 64 bits, 1e400
    doc_bytes({**GOOD, "attributes": {"amount": float("nan")}}),
    doc_bytes({**GOOD, "attributes": {"amount": float("inf"), "other": float("-inf")}}),
    doc_bytes({**GOOD, "attributes": {"amount": 2**64}}), doc_bytes({**GOOD, "attributes": {"amount": 2**64 - 1}}),
    doc_bytes({**GOOD, "attributes": {"amount": -(2**63) - 1}}),
    doc_bytes({**GOOD, "attributes": {"amount": -(2**63)}}),
    doc_bytes({**GOOD, "attributes": {"amount": 10**400}}), doc_bytes({**GOOD, "attributes": {"amount": 1e19}}),
    doc_bytes(GOOD).replace(b"12.5", b"1e400"), doc_bytes(GOOD).replace(b"12.5", b"-0"),
    doc_bytes(GOOD).replace(b"12.5", b"-0.0"), doc_bytes(GOOD).replace(b"12.5", b"1E2"),
    doc_bytes(GOOD).replace(b"12.5", b"1" * 4301), doc_bytes(GOOD).replace(b"12.5", b"1" * 4300),
    doc_bytes(GOOD).replace(b"12.5", b"012"), doc_bytes(GOOD).replace(b"12.5", b"+1"),
    # strings: lone surrogates (escaped, and raw as bytes that are not UTF-8), BOM, controls, newlines
    doc_bytes({**GOOD, "identifiers": {"email": "a\ud800@x.org"}}),
    doc_bytes({**GOOD, "identifiers": {"email": "a\ud800@x.org"}}, ascii_only=False),
    doc_bytes({**GOOD, "attributes": {"page": "\udfff"}}), doc_bytes({**GOOD, "event_id": "\ud83d\ude00"}),
    doc_bytes({**GOOD, "attributes": {"page": "\ud83d\ude00 ok"}}, ascii_only=False),
    doc_bytes({**GOOD, "identifiers": {"email": "\ufeffann@x.org"}}), doc_bytes({**GOOD, "event_id": "\ufeffWEB-1"}),
    doc_bytes(GOOD).replace(b"/login", b"/lo\x01gin"), doc_bytes(GOOD).replace(b"/login", b"/lo\tgin"),
    doc_bytes({**GOOD, "type": "login\n"}), doc_bytes({**GOOD, "channel": "web\n"}),
    doc_bytes({**GOOD, "event_id": "WEB-1\n"}), doc_bytes({**GOOD, "event_time": "2026-01-01T00:11:37Z\n"}),
    doc_bytes({**GOOD, "identifiers": {"email\n": "a@b.c"}}), doc_bytes({**GOOD, "attributes": {"page\n": 1}}),
    doc_bytes({**GOOD, "event_time": "\uff12\uff10\uff12\uff16-01-01T00:00:00Z"}),
    doc_bytes({**GOOD, "event_time": "\u0662\u0660\u0662\u0666-01-01T00:00:00Z"}),
    doc_bytes({**GOOD, "event_time": "2026-01-01T00:00:00"}), doc_bytes({**GOOD, "event_time": "2026-13-01T00:00:00Z"}),
    doc_bytes({**GOOD, "event_time": "2026-01-01T00:00:00.1234567890Z"}),
    doc_bytes({**GOOD, "identifiers": {"email": "ann\u2028@x.org"}}, ascii_only=False),
    doc_bytes({**GOOD, "identifiers": {"shoe_size": "42", "email": 5}}),
    # duplicate keys: both decoders keep the last value at the first key's place
    doc_bytes(GOOD)[:-1] + b', "event_id": "WEB-2"}', doc_bytes(GOOD)[:-1] + b', "event_id": 7}',
    doc_bytes(GOOD).replace(b'{"cookie_id"', b'{"email": 5, "cookie_id"')
    .replace(b'"crm_id"', b'"email": "a@b.c", "crm_id"'),
    # nesting: within orjson's limit of 1,024 levels but past json's recursion limit, and beyond
    *[nested(d).encode() for d in (1, 2, 100, 1023, 1024, 1025, 5000, 30_000)],
    *[doc_bytes({**GOOD, "attributes": {"x": 1}}).replace(b"1}}", nested(d).encode() + b"}}") for d in (3, 600, 5000)],
    *[(b'{"a":' * d + b"1" + b"}" * d) for d in (10, 3000)],
]


@pytest.mark.parametrize("raw", HOSTILE, ids=range(len(HOSTILE)))
def test_the_fast_path_gives_the_reference_outcome_for_hostile_input(raw: bytes) -> None:
    assert_same(raw)


def test_the_same_outcome_at_every_depth_around_the_recursion_limit() -> None:
    """json's decoder fails with RecursionError at a depth that depends on the caller's stack,
    orjson at 1,025 levels: every depth on either side gives the reference outcome."""
    for depth in range(700, 1100):
        assert_same(nested(depth).encode())
        assert_same(doc_bytes(GOOD).replace(b"12.5", nested(depth).encode()))


def test_valid_events_take_the_fast_path_and_equal_the_reference_events(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ucid.cli import app

    out = tmp_path / "s.jsonl"
    result = CliRunner().invoke(app, ["generate", "-n", "30", "-d", "3", "--out", str(tmp_path / "l"),
                                      "--stream", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    lines = [*out.read_bytes().splitlines(), doc_bytes(GOOD), doc_bytes({**GOOD, "schema_version": 1.0})]
    for line in lines:
        assert fast_document(line, VALIDATOR) is not None, line
        assert assert_same(line)[0] == "event"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (doc_bytes({**GOOD, "type": "login\n"}), "fastjsonschema's $ is \\Z: stricter"),
        (doc_bytes({**GOOD, "attributes": {"amount": 2**64}}), "orjson rounds the integer to a float"),
        (doc_bytes({**GOOD, "attributes": {"amount": 1e19}}), "a float that may be a rounded integer"),
        (doc_bytes({**GOOD, "attributes": {"amount": float("nan")}}), "orjson refuses NaN"),
    ],
)
def test_where_the_fast_path_cannot_vouch_the_reference_path_decides(raw: bytes, why: str) -> None:
    assert fast_document(raw, VALIDATOR) is None, why
    assert assert_same(raw)[0] == "event"


def test_an_integer_beyond_64_bits_stays_an_exact_int() -> None:
    ev = parse_event(doc_bytes({**GOOD, "attributes": {"amount": 2**64 + 1}}), VALIDATOR, POLICY)
    assert ev.attributes["amount"] == 2**64 + 1 and type(ev.attributes["amount"]) is int
    assert rounded_number({"a": {"b": [1.0, -(2.0**63)]}}) and not rounded_number({"a": [1.5, 2**70]})


def with_property(name: str, schema: dict) -> dict:
    return {"properties": {**SCHEMA_DOC["properties"], name: schema}}


UNTRUSTED = [  # (change to the schema, the part reported, an event on which fastjsonschema would err)
    ({"$defs": {"x": {"type": "string"}}}, "#/$defs", GOOD),
    # 2020-12 keyword unknown to fastjsonschema 2.22: ignored there, so [1] would pass
    (with_property("tags", {"type": "array", "prefixItems": [{"type": "string"}]}),
     "#/properties/tags/prefixItems", {**GOOD, "tags": [1]}),
    # fastjsonschema would fill in the default (it writes into the event); jsonschema never does
    ({**with_property("channel", {"type": "string", "default": "web"}),
      "required": [k for k in SCHEMA_DOC["required"] if k != "channel"]},
     "#/properties/channel/default", {k: v for k, v in GOOD.items() if k != "channel"}),
    # "$" rewritten to "\\Z" inside a lookahead loosens it: "a\n" would pass fastjsonschema only
    (with_property("note", {"type": "string", "pattern": "^a(?!$)"}), "#/properties/note/pattern",
     {**GOOD, "note": "a\n"}),
    ({"unevaluatedProperties": False}, "#/unevaluatedProperties", GOOD),
]


@pytest.mark.parametrize(("change", "untrusted", "doc"), UNTRUSTED, ids=[u for _, u, _ in UNTRUSTED])
def test_a_schema_keyword_the_fast_validator_is_not_trusted_with_turns_it_off(change, untrusted, doc) -> None:
    schema = compile_schema({**SCHEMA_DOC, **change})
    assert schema.fast is None and any(part.startswith(untrusted) for part in schema.untrusted)


@pytest.mark.parametrize(("change", "untrusted", "doc"), UNTRUSTED, ids=[u for _, u, _ in UNTRUSTED])
def test_a_schema_the_fast_validator_is_not_trusted_with_gives_the_reference_outcome(change, untrusted, doc) -> None:
    schema = compile_schema({**SCHEMA_DOC, **change})
    reference = Draft202012Validator({**SCHEMA_DOC, **change})
    for raw in (doc_bytes(doc), doc_bytes(GOOD), doc_bytes({**GOOD, "schema_version": 2})):
        assert outcome(parse_event, raw, schema) == outcome(reference_parse, raw, reference)


def test_a_schema_without_a_compiled_check_is_logged_once_with_why(tmp_path) -> None:
    import structlog

    path = tmp_path / "event.schema.json"
    path.write_text(json.dumps({**SCHEMA_DOC, "unevaluatedProperties": False}), encoding="utf-8")
    with structlog.testing.capture_logs() as logs:
        assert load_schema(path).fast is None
        load_schema(path)  # cached: not logged again
    warned = [e for e in logs if e["log_level"] == "warning"]
    assert len(warned) == 1 and "#/unevaluatedProperties" in warned[0]["why"] and warned[0]["schema"] == str(path)
    with structlog.testing.capture_logs() as logs:
        load_schema(REPO / "conf" / "events" / "event.schema.json")
    assert logs == []


def test_the_event_schema_is_compiled_for_the_fast_path() -> None:
    assert VALIDATOR.fast is not None and VALIDATOR.untrusted == ()
    assert load_schema(SpeedSettings().schema_path(Settings().conf_dir)) is VALIDATOR  # cached per path


# property-based: mutations of valid events, serialized as a careless producer would

TRICKY_CHARS = st.sampled_from(["\n", "\t", "\x00", "\x7f", "\u200b", "\u202e", "\ufeff", "\u2028", "\ud800",
                                "\udfff", "\U0001f600", "\uff12", "\u0662", "é", "$", "\\", '"', "A", "z", "_"])
ANY_CHAR = st.one_of(st.characters(), st.characters(categories=["Cs"]), TRICKY_CHARS)
TEXT = st.one_of(st.text(ANY_CHAR, max_size=12), st.sampled_from(
    ["", "login", "web", "WEB-1", "login\n", "x" * 129, "x" * 300, "a@b.c", "2026-01-01T00:11:37.845Z",
     "2026-02-30T00:00:00Z", "2026-01-01T00:00:00+25:00", "2026-01-01T00:00:00", "0000000000", " c1 "]))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=2**62, max_value=2**66),
                    st.floats(), st.sampled_from([0.0, -0.0, 1e19, -(2.0**63), 2.0**64, 1e308]), TEXT)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6)
ID_TYPES = st.sampled_from([*sorted(POLICY.types), "shoe_size", "Email", "email\n", ""])
NAMES = st.one_of(st.sampled_from(["page", "amount", "phone", "session_id", "x", "Bad", "a" * 65, "page\n"]), TEXT)


@st.composite
def events(draw) -> dict:
    """A valid event, then up to three edits: a field replaced by any JSON value, removed or added,
    an identifier or attribute set to a value or removed."""
    doc = {**GOOD, "identifiers": dict(GOOD["identifiers"]), "attributes": dict(GOOD["attributes"])}
    doc["identifiers"] = draw(st.dictionaries(ID_TYPES, st.one_of(TEXT, st.just("c759784366")), min_size=1,
                                              max_size=3)) if draw(st.booleans()) else doc["identifiers"]
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["top", "top", "identifiers", "attributes", "drop"]))
        if where == "top":
            doc[draw(st.sampled_from([*GOOD, "extra"]))] = draw(JSON_VALUES)
        elif where == "drop":
            doc.pop(draw(st.sampled_from(list(GOOD))), None)
        elif isinstance(doc.get(where), dict):
            key = draw(ID_TYPES if where == "identifiers" else NAMES)
            if draw(st.booleans()):
                doc[where][key] = draw(JSON_VALUES)
            else:
                doc[where].pop(key, None)
    return doc


@settings(deadline=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(events(), st.booleans())
def test_property_mutated_events_get_the_reference_outcome(doc: dict, ascii_only: bool) -> None:
    assert_same(doc_bytes(doc, ascii_only))


@settings(deadline=None, max_examples=300)
@given(st.from_regex(r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,25})?([eE][+-]?[0-9]{1,3})?", fullmatch=True))
def test_property_any_number_literal_decodes_as_the_reference_does(literal: str) -> None:
    raw = doc_bytes(GOOD).replace(b"12.5", literal.encode())
    assert assert_same(raw)[0] == "event"  # the same int or the same double as json's, by repr


@settings(deadline=None, max_examples=300)
@given(events(), st.integers(0, 400), st.binary(min_size=0, max_size=4), st.integers(0, 4))
def test_property_damaged_bytes_get_the_reference_outcome(doc: dict, at: int, insert: bytes, cut: int) -> None:
    raw = doc_bytes(doc)
    at = min(at, len(raw))
    assert_same(raw[:at] + insert + raw[at + cut:])


def test_the_size_limits_are_checked_alike() -> None:
    limits = EventLimits(event_bytes=2048, attribute_bytes=512)
    for raw in (doc_bytes({**GOOD, "attributes": {"note": "é" * 256}}),
                doc_bytes({**GOOD, "attributes": {"note": "é" * 257}}),
                doc_bytes({**GOOD, "attributes": {"page": "/" + "x" * 3000}}), b"{" * 5000):
        assert_same(raw, limits)


def test_no_message_escapes_as_anything_but_a_dead_letter() -> None:
    """A message the decoder cannot take whole (nested past the stack, a 5,000-digit integer, a
    lone surrogate in a value) is a dead letter with its reason, never an exception that would
    make the consumer retry its batch for ever; the reason does not depend on the stack depth."""
    too_deep = ("dead letter", f"not JSON: nested more than {MAX_DEPTH} levels")
    def objects(depth: int) -> bytes:
        return b'{"a":' * depth + b"1" + b"}" * depth

    for depth in (MAX_DEPTH + 1, 700, 999, 1000, 1001, 5000, 10_000):  # 10,000 levels: 60 KB, under the size limit
        assert outcome(parse_event, objects(depth), VALIDATOR) == too_deep
    assert outcome(parse_event, objects(MAX_DEPTH), VALIDATOR)[1].startswith("<root>:")  # the schema's turn
    digits = doc_bytes(GOOD).replace(b"12.5", b"9" * 5000)
    kind, reason = outcome(parse_event, digits, VALIDATOR)
    assert kind == "dead letter" and reason.startswith("not JSON: Exceeds the limit (4300 digits)")
    for surrogate in (doc_bytes({**GOOD, "attributes": {"page": "a\ud800"}}),
                      doc_bytes({**GOOD, "identifiers": {"email": "a\udfff@b.c"}})):
        assert outcome(parse_event, surrogate, VALIDATOR)[:1] == ("dead letter",)
        assert "lone surrogate" in outcome(parse_event, surrogate, VALIDATOR)[1]
