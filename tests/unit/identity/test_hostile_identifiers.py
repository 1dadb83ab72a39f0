"""Hostile identifier values: control / invisible characters and placeholder ids are refused by
the identity core, so batch, speed and serving refuse them alike (issue 16, part 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from identity.records import Record, normalize_record
from identity.rules import RulesError, compile_rules, load_policy, rules_from_dict
from identity.types import hidden_character

RULES = Path(__file__).resolve().parents[3] / "conf" / "rules.yaml"


@pytest.fixture(scope="module")
def policy():
    return load_policy(RULES)


HIDDEN = [
    ("ann\x00@x.org", "U+0000"),  # NUL: got a UCID through the API and the speed layer
    ("ann@x.org\u202e", "U+202E"),  # right-to-left override (trailing: strip() keeps it)
    ("an\u200bn@x.org", "U+200B"),  # zero-width space
    ("ann\u2028@x.org", "U+2028"),  # line separator
    ("ann\t@x.org", "U+0009"),  # a tab inside the value
    ("\ufeffann@x.org", "U+FEFF"),  # byte-order mark
    ("ann\ue000@x.org", "U+E000"),  # private use
    ("ann\u2066@x.org", "U+2066"),  # left-to-right isolate (bidi)
]


@pytest.mark.parametrize(("raw", "code"), HIDDEN)
def test_hidden_characters_are_named_with_their_position(raw, code) -> None:
    reason = hidden_character(raw)
    assert reason is not None and code in reason and "position" in reason


@pytest.mark.parametrize("raw", ["ann@x.org", " ann@x.org\n", "\tC123\r\n", "Zoë Ångström", "+44\u00a020 7946 0018",
                                 "日本語", "ann@x.org "])
def test_visible_text_and_surrounding_whitespace_pass(raw) -> None:
    assert hidden_character(raw) is None


@pytest.mark.parametrize("id_type", ["email", "phone", "crm_id", "cookie_id", "device_id", "loyalty_id"])
@pytest.mark.parametrize(("raw", "code"), HIDDEN[:4])
def test_every_type_rejects_hidden_characters_as_invalid(policy, id_type, raw, code) -> None:
    value, rejection = policy.types[id_type].accept(raw.replace("ann", "C12345" if id_type != "email" else "ann"))
    assert value is None and rejection is not None and rejection.kind == "invalid"
    assert code in rejection.reason


def test_a_record_keeps_its_clean_identifiers_and_reports_the_hostile_one(policy) -> None:
    record = Record("crm", "r1", (("email", "ann\x00@x.org"), ("crm_id", "C42")))
    norm, rejected = normalize_record(record, policy)
    assert norm.identifiers == (("crm_id", "C42"),)
    assert [(r.type, r.kind) for r in rejected] == [("email", "invalid")]


@pytest.mark.parametrize("raw", ["0000000000", "1111111", "000-000-0000", "99 99 99", "00"])
@pytest.mark.parametrize("id_type", ["crm_id", "billing_account", "loyalty_id", "cookie_id", "device_id"])
def test_placeholder_ids_are_blocked_by_default(policy, id_type, raw) -> None:
    value, rejection = policy.types[id_type].accept(raw)
    assert value is None and rejection is not None and rejection.kind == "blocked"
    assert rejection.reason.startswith("placeholder value")


@pytest.mark.parametrize("raw", ["C000000001", "1234567", "7", "8000012345", "10"])
def test_real_ids_are_not_placeholders(policy, raw) -> None:
    assert policy.types["crm_id"].accept(raw)[1] is None


def test_placeholders_are_configurable_and_a_type_may_opt_out() -> None:
    base = {"types": {"crm_id": {}, "loyalty_id": {"placeholders": False}}}
    policy = compile_rules(rules_from_dict(base))
    assert policy.types["crm_id"].accept("0000")[1].kind == "blocked"
    assert policy.types["loyalty_id"].accept("0000") == ("0000", None)
    off = compile_rules(rules_from_dict({**base, "id_placeholders": []}))
    assert off.types["crm_id"].accept("0000") == ("0000", None)
    own = compile_rules(rules_from_dict({**base, "id_placeholders": ["X+"]}))
    assert own.types["crm_id"].accept("xxx")[1].kind == "blocked"  # upper-cased, then matched
    assert own.types["crm_id"].accept("0000") == ("0000", None)


def test_placeholders_are_for_id_types_only() -> None:
    with pytest.raises(RulesError, match="placeholders"):
        rules_from_dict({"types": {"email": {"placeholders": False}}})
    with pytest.raises(RulesError, match="bad regex"):
        rules_from_dict({"types": {"crm_id": {}}, "id_placeholders": ["("]})
