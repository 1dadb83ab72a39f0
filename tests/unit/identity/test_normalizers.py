"""Normalizers, validators and blocked values of identifier types."""

from __future__ import annotations

import re

import pytest

from identity.rules import compile_rules, rules_from_dict
from identity.types import (
    Blocklist,
    IdentifierType,
    make_normalizer,
    normalize_email,
    normalize_id,
    normalize_phone,
)

# --- e-mail ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  John.Doe@Example.COM ", "john.doe@example.com"),
        ("mailto:jane@example.org", "jane@example.org"),
        ("j.doe+news@gmail.com", "j.doe+news@gmail.com"),  # provider rules are off by default
        ("a_b-c@sub.domain.co.uk", "a_b-c@sub.domain.co.uk"),
    ],
)
def test_email_trims_and_lowercases(raw: str, expected: str) -> None:
    assert normalize_email(raw) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("J.Doe+news@gmail.com", "jdoe@gmail.com"),
        ("j.d.o.e@googlemail.com", "jdoe@gmail.com"),
        ("j.doe+x@outlook.com", "j.doe+x@outlook.com"),  # gmail rules touch gmail only
    ],
)
def test_email_gmail_rules_when_enabled(raw: str, expected: str) -> None:
    assert normalize_email(raw, gmail_rules=True) == (expected, None)


def test_email_plus_tags_for_every_provider_when_enabled() -> None:
    assert normalize_email("j.doe+x@outlook.com", strip_plus_tags=True) == ("j.doe@outlook.com", None)


@pytest.mark.parametrize(
    "raw", ["not-an-email", "a@b", "@example.com", "a@@example.com", "a b@example.com", ".a@x.com", "a..b@x.com"]
)
def test_email_junk_is_invalid_with_a_reason(raw: str) -> None:
    value, reason = normalize_email(raw)
    assert value is None and reason


def test_email_normalization_is_idempotent() -> None:
    once, _ = normalize_email(" J.Doe+x@GoogleMail.com", gmail_rules=True)
    assert once is not None
    assert normalize_email(once, gmail_rules=True) == (once, None)


# --- phone ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["(415) 555-0132", "415-555-0132", "415 555 0132", "4155550132", "+1 415 555 0132", "+1-415-555-0132",
     "001 415 555 0132", "1 (415) 555-0132", " +14155550132 "],
)
def test_phone_formats_all_become_e164(raw: str) -> None:
    assert normalize_phone(raw, "US") == ("+14155550132", None)


def test_phone_national_number_uses_the_default_region() -> None:
    assert normalize_phone("020 7946 0018", "GB") == ("+442079460018", None)
    assert normalize_phone("06 12 34 56 78", "FR") == ("+33612345678", None)


def test_phone_international_number_needs_no_region() -> None:
    assert normalize_phone("+33 6 12 34 56 78", None) == ("+33612345678", None)
    value, reason = normalize_phone("06 12 34 56 78", None)
    assert value is None and "not a phone number" in reason


@pytest.mark.parametrize("raw", ["abc", "555-1234", "0000000000", "12", "+1 555 555 5555", "call me"])
def test_phone_junk_is_invalid_with_a_reason(raw: str) -> None:
    value, reason = normalize_phone(raw, "US")
    assert value is None and reason


def test_phone_possible_check_is_laxer_than_valid() -> None:
    assert normalize_phone("+1 555 555 5555", "US", "possible")[0] == "+15555555555"
    assert normalize_phone("+1 555 555 5555", "US", "valid")[0] is None


# --- ids ------------------------------------------------------------------------------------


def test_id_case_rules() -> None:
    assert normalize_id(" ab-12 ", "upper") == ("AB-12", None)
    assert normalize_id(" AB-12 ", "lower") == ("ab-12", None)
    assert normalize_id(" aB-12 ", "preserve") == ("aB-12", None)


def test_id_strip_pattern_and_validation() -> None:
    strip = re.compile(r"[\s-]")
    pattern = re.compile(r"C\d{6}")
    assert normalize_id("c 123-456", "upper", strip, pattern) == ("C123456", None)
    value, reason = normalize_id("X123456", "upper", strip, pattern)
    assert value is None and "pattern" in reason


def test_id_length_bounds() -> None:
    assert normalize_id("   ")[0] is None
    assert normalize_id("abcdef", max_length=3)[0] is None
    assert normalize_id("ab", min_length=3)[0] is None


def test_normalizer_is_per_type_and_cached() -> None:
    upper = make_normalizer(IdentifierType("x", "id", case="upper"))
    lower = make_normalizer(IdentifierType("y", "id", case="lower"))
    assert upper("aB") == ("AB", None) and lower("aB") == ("ab", None)
    assert upper.cache_info().currsize == 1  # type: ignore[attr-defined]


# --- blocked values and acceptance ----------------------------------------------------------


def test_blocklist_matches_raw_normalized_and_regex() -> None:
    norm = make_normalizer(IdentifierType("email", "email"))
    block = Blocklist.build(["TEST@test.com", "N/A"], [r".*@example\.com"], norm)
    assert block.raw_reason(" n/a ") == "blocked value"
    assert block.reason("test@test.com") == "blocked value"
    assert block.reason("bob@example.com").startswith("blocked by pattern")
    assert block.reason("bob@example.org") is None


@pytest.fixture(scope="module")
def policy():
    return compile_rules(
        rules_from_dict(
            {
                "default_region": "US",
                "blocked": {"exact": ["N/A"]},
                "types": {
                    "email": {"priority": 2, "blocked": {"exact": ["test@test.com"]}},
                    "phone": {"priority": 3, "blocked": {"regex": [r"\+1(\d)\1{9}"]}},
                    "crm_id": {"priority": 1},
                },
            }
        )
    )


def test_accept_absent_values_are_not_rejections(policy) -> None:
    for raw in (None, "", "   "):
        assert policy.types["email"].accept(raw) == (None, None)


def test_accept_rejects_invalid_and_blocked_with_reasons(policy) -> None:
    value, rej = policy.types["email"].accept(" Test@Test.com")
    assert value is None and rej.kind == "blocked" and rej.raw == " Test@Test.com" and rej.type == "email"
    value, rej = policy.types["phone"].accept("N/A")
    assert value is None and rej.kind == "blocked"  # the global list applies to every type
    value, rej = policy.types["phone"].accept("(222) 222-2222")
    assert value is None and rej.kind in {"blocked", "invalid"}
    value, rej = policy.types["email"].accept("nope")
    assert value is None and rej.kind == "invalid" and rej.reason == "not an e-mail address"


def test_accept_non_string_values_are_stringified(policy) -> None:
    assert policy.types["crm_id"].accept(12345) == ("12345", None)
