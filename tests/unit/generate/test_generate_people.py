"""Persona model, unique keys, the clock and the noise functions."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ucid.generate import noise as nz
from ucid.generate.ids import Allocator, Clock, chunk_rng, email_space_for
from ucid.generate.people import build_chunk
from ucid.generate.vocab import AREA_CODES


def test_business_keys_are_unique_by_construction() -> None:
    alloc = Allocator(seed=3, email_space=email_space_for(50_000))
    n = 100_000
    for make in (alloc.crm_id, alloc.billing_account, alloc.loyalty_id, alloc.phone, alloc.email_token):
        values = [make(i) for i in range(n if make is not alloc.email_token else 4 * 50_000)]
        assert len(set(values)) == len(values), make.__name__
    assert alloc.crm_id(5) != alloc.crm_id(Allocator.CRM_DUPLICATE_OFFSET + 5)


def test_keys_depend_on_the_seed() -> None:
    a, b = Allocator(1, 10_000), Allocator(2, 10_000)
    assert [a.crm_id(i) for i in range(5)] != [b.crm_id(i) for i in range(5)]


def test_phone_numbers_are_valid_north_american_numbers() -> None:
    alloc = Allocator(seed=1, email_space=10_000)
    for i in range(0, 3_000_000, 997):
        digits = alloc.phone(i)
        assert len(digits) == 10 and int(digits[:3]) in AREA_CODES
        assert phonenumbers.is_valid_number(phonenumbers.parse("+1" + digits)), digits


def test_every_phone_format_reads_back_to_the_same_number() -> None:
    rng = random.Random(0)
    digits = "4155552671"
    seen = set()
    for fmt, template in nz.PHONE_FORMATS.items():
        text = template.format(a=digits[:3], e=digits[3:6], l=digits[6:])
        seen.add(text)
        num = phonenumbers.parse(text, "US")
        assert phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164) == "+14155552671", fmt
    assert len(seen) == len(nz.PHONE_FORMATS)
    assert nz.format_phone(rng, digits, "e164") in seen


def test_junk_phones_are_not_valid_numbers() -> None:
    for junk in nz.JUNK_PHONES:
        try:
            assert not phonenumbers.is_valid_number(phonenumbers.parse(junk, "US"))
        except phonenumbers.NumberParseException:
            pass


@given(st.emails(), st.sampled_from(sorted(nz.EMAIL_CASE_RATE)), st.integers(0, 2**32))
def test_messy_emails_normalize_back(email: str, source: str, seed: int) -> None:
    rng = random.Random(seed)
    messy = nz.messy_email(rng, email.lower(), source)
    assert messy.strip().lower() == email.lower()


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC", min_size=3, max_size=20), st.integers(0, 2**32))
def test_a_typo_is_one_small_edit(name: str, seed: int) -> None:
    out = nz.typo(random.Random(seed), name)
    assert abs(len(out) - len(name)) <= 1
    assert out[0] == name[0]


def test_clock_formats_match_datetime() -> None:
    for ms in (0, 1_767_225_600_000, 1_767_225_600_000 + 123_456_789, 1_600_000_000_123):
        dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
        assert Clock.iso(ms) == dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
        assert Clock.sql(ms) == dt.strftime("%Y-%m-%d %H:%M:%S")
    clock = Clock(date(2026, 1, 1), 3)
    assert clock.day_name(2) == "2026-01-03"
    assert clock.day_of(clock.at(2, 86_399.9)) == 2
    assert clock.day_of(clock.start_ms - 1) == -1


@pytest.fixture(scope="module")
def chunk():  # type: ignore[no-untyped-def]
    clock = Clock(date(2026, 1, 1), 30)
    alloc = Allocator(seed=7, email_space=email_space_for(5_000))
    return build_chunk(chunk_rng(7, 0), alloc, clock, 0, 5_000)


def test_chunk_people(chunk) -> None:  # type: ignore[no-untyped-def]
    customers, visitors = chunk.customers, chunk.visitors
    assert len(customers) == 5_000 and len(visitors) == round(5_000 * nz.ANON_VISITORS_PER_CUSTOMER)
    assert len({p.pid for p in customers + visitors}) == len(customers) + len(visitors)
    emails = [e for p in customers for e in p.emails]
    assert len(set(emails)) == len(emails)
    assert len({p.mobile for p in customers}) == len(customers)
    segments = Counter(p.segment for p in customers)
    assert segments["crm"] / len(customers) == pytest.approx(1 - nz.NOT_IN_CRM_RATE, abs=0.015)
    multi = sum(1 for p in customers if len(p.emails) > 1) / len(customers)
    assert multi == pytest.approx(nz.SECOND_EMAIL_RATE, abs=0.03)


def test_households_share_an_address_and_sometimes_a_landline(chunk) -> None:  # type: ignore[no-untyped-def]
    groups: dict[int, list] = {}
    for p in chunk.customers:
        if p.household >= 0:
            groups.setdefault(p.household, []).append(p)
    assert all(2 <= len(g) <= 3 for g in groups.values())
    members = sum(len(g) for g in groups.values())
    assert members / len(chunk.customers) == pytest.approx(nz.HOUSEHOLD_MEMBER_RATE, abs=0.01)
    for g in groups.values():
        assert len({(m.street, m.postal_code) for m in g}) == 1
        assert len({m.landline for m in g}) == 1
    with_landline = sum(1 for g in groups.values() if g[0].landline) / len(groups)
    assert with_landline == pytest.approx(nz.HOUSEHOLD_LANDLINE_RATE, abs=0.05)


def test_recycled_numbers_and_shared_devices(chunk) -> None:  # type: ignore[no-untyped-def]
    mobiles = {p.mobile: p for p in chunk.customers}
    recycled = [p for p in chunk.customers if p.old_phone]
    assert len(recycled) == round(len(chunk.customers) * nz.RECYCLED_PHONE_RATE)
    for p in recycled:
        new_owner = mobiles[p.old_phone]
        assert new_owner is not p and p.mobile != p.old_phone
    shared = [d for d in chunk.devices if len(d.users) > 1]
    assert shared and all(d.users[0].household == d.users[1].household for d in shared)
    assert all(len(d.users) == 1 and d.never_login for v in chunk.visitors for d in v.devices)
