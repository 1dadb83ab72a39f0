"""The event contract: valid events parse, every kind of breach gives a clear reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from identity.rules import load_policy
from infra.settings import Settings, SpeedSettings
from speed.contract import (
    ContractError,
    event_key,
    landing_row,
    load_schema,
    parse_event,
)

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
