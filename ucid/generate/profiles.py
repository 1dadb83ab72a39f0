"""Profile sources: CRM customers, billing accounts, loyalty members and consent captures.

Customers known before the window land in the first day's folder (the initial full extract) with
their historical timestamps; customers who sign up inside the window land on their signup day;
CRM updates (address, e-mail, phone changes) land on the day they happen.
"""

from __future__ import annotations

import random

from ucid.generate import noise as nz
from ucid.generate.emit import ChunkOutput, Row
from ucid.generate.ids import Allocator, Clock
from ucid.generate.people import Chunk, Person
from ucid.generate.vocab import LOYALTY_TIERS, PAYMENT_METHODS, PLANS, STREET_SUFFIXES

_PHONE_FORMAT = {"crm": "national_parens", "billing": "digits", "loyalty": "e164"}
_TIERS = tuple(t for t, _ in LOYALTY_TIERS)
_TIER_WEIGHTS = tuple(w for _, w in LOYALTY_TIERS)


def emit_profiles(rng: random.Random, out: ChunkOutput, clock: Clock, alloc: Allocator, chunk: Chunk) -> None:
    """Write the CRM, billing, loyalty and initial consent rows of the chunk's customers."""
    for p in chunk.customers:
        if p.segment == "crm":
            _crm(rng, out, clock, p)
            if rng.random() < nz.BILLING_RATE:
                for k in range(1 + (rng.random() < nz.SECOND_ACCOUNT_RATE)):
                    _billing(rng, out, clock, alloc, p, k)
        if p.segment == "loyalty_only" or (p.segment == "crm" and rng.random() < nz.LOYALTY_RATE):
            _loyalty(rng, out, clock, alloc, p)
        if p.consent_captured:
            _initial_consent(rng, out, clock, p)


# ------------------------------------------------------------------------------------------------
# field helpers shared by the profile sources
# ------------------------------------------------------------------------------------------------
def profile_email(rng: random.Random, p: Person, email: str, source: str, missing: float) -> str | None:
    """An e-mail as ``source`` stores it: maybe missing, junk, mistyped or badly formatted."""
    if rng.random() < missing:
        return None
    if rng.random() < nz.JUNK_EMAIL_RATE.get(source, 0.0):
        return rng.choice(nz.JUNK_EMAILS)
    if rng.random() < nz.EMAIL_DOMAIN_TYPO_RATE.get(source, 0.0):
        return nz.messy_email(rng, nz.typo_domain(rng, email), source)
    if email not in p.known_emails:
        p.known_emails.append(email)
    return nz.messy_email(rng, email, source)


def profile_phone(rng: random.Random, digits: str, source: str, missing: float) -> str | None:
    """A phone as ``source`` stores it: maybe missing, junk, or in another format."""
    if rng.random() < missing:
        return None
    if rng.random() < nz.JUNK_PHONE_RATE.get(source, 0.0):
        return rng.choice(nz.JUNK_PHONES)
    return nz.format_phone(rng, digits, _PHONE_FORMAT[source])


def _address_line(rng: random.Random, p: Person) -> str:
    street = p.street
    if rng.random() < nz.ADDRESS_ABBREVIATION_RATE:
        number, name, suffix = street.split(" ", 2) if street.count(" ") >= 2 else (street, "", "")
        street = f"{number} {name} {_abbreviate(suffix)}".strip()
    line = f"{street}, {p.unit}" if p.unit else street
    if rng.random() < nz.ADDRESS_CASE_RATE:
        line = line.upper()
    return line


def _abbreviate(suffix: str) -> str:
    for long, short in STREET_SUFFIXES:
        if suffix.endswith(long):
            return suffix[: -len(long)] + short
    return suffix


def _stale_phone(rng: random.Random, p: Person) -> str:
    """The phone a pre-window record shows: the given-up number for some recycled-number owners."""
    if p.old_phone and rng.random() < nz.RECYCLED_STALE_RECORD_RATE:
        return p.old_phone
    return p.contact_phone()


def _days_with_event(rng: random.Random, first_day: int, days: int, per_day: float) -> list[int]:
    return [d for d in range(first_day, days) if rng.random() < per_day]


# ------------------------------------------------------------------------------------------------
# CRM
# ------------------------------------------------------------------------------------------------
def _crm_row(
    rng: random.Random, out: ChunkOutput, p: Person, crm_id: str, *, change_type: str,
    updated_ms: int, email: str | None, alt_email: str | None, phone: str | None,
    typo_boost: float = 0.0,
) -> Row:
    miss = nz.MISSING_RATE["crm"]
    first, last = nz.messy_name(rng, p.first, "crm"), nz.messy_name(rng, p.last, "crm")
    if typo_boost and rng.random() < typo_boost:
        first = nz.typo(rng, first)
    has_address = rng.random() >= miss["address"]
    return {
        "change_id": out.new_id("crm"),
        "change_type": change_type,
        "crm_id": crm_id,
        "first_name": first,
        "last_name": last,
        "gender": p.gender,
        "birth_date": None if rng.random() < miss["birth_date"] else p.birth_date,
        "email": profile_email(rng, p, email, "crm", miss["email"]) if email else None,
        "alt_email": profile_email(rng, p, alt_email, "crm", 0.0) if alt_email else None,
        "phone": profile_phone(rng, phone, "crm", miss["phone"]) if phone else None,
        "address_line": _address_line(rng, p) if has_address else None,
        "city": p.city if has_address else None,
        "state": p.state if has_address else None,
        "postal_code": p.postal_code if has_address else None,
        "country": "US",
        "customer_since": p.since_ms,
        "updated_at": updated_ms,
    }


def _crm(rng: random.Random, out: ChunkOutput, clock: Clock, p: Person) -> None:
    assert p.crm_id is not None
    existing = p.active_from == 0 and p.since_ms < clock.start_ms
    day = 0 if existing else p.active_from
    updated = rng.randint(p.since_ms, clock.start_ms - 1) if existing else p.since_ms
    alt = p.emails[1] if len(p.emails) > 1 and rng.random() < nz.CRM_ALT_EMAIL_RATE else None
    phone = _stale_phone(rng, p) if existing else p.contact_phone()
    row = _crm_row(rng, out, p, p.crm_id, change_type="insert", updated_ms=updated,
                   email=p.emails[0], alt_email=alt, phone=phone)
    out.add("crm", day, row, p)

    if p.dup_crm_id:  # the same person registered a second time (another store, another channel)
        r = rng.random()
        email = p.emails[0] if r < nz.CRM_DUPLICATE_SAME_EMAIL else (
            p.emails[-1] if r < nz.CRM_DUPLICATE_SAME_EMAIL + nz.CRM_DUPLICATE_OTHER_EMAIL else None
        )
        phone = p.contact_phone() if rng.random() < nz.CRM_DUPLICATE_SAME_PHONE else None
        dup = _crm_row(rng, out, p, p.dup_crm_id, change_type="insert", updated_ms=updated,
                       email=email, alt_email=None, phone=phone, typo_boost=nz.CRM_DUPLICATE_NAME_TYPO)
        out.add("crm", day, dup, p)

    update_days = _days_with_event(rng, max(day + 1, 1), clock.days, nz.CRM_UPDATE_PER_DAY)
    if p.old_phone and existing and row["phone"] and not update_days and clock.days > 1:
        update_days = [rng.randrange(1, clock.days)] if rng.random() < nz.RECYCLED_OWNER_UPDATES_CRM else []
    for upd_day in update_days[:1]:
        ms = clock.at(upd_day, 9 * 3600 + rng.random() * 10 * 3600)
        kind = rng.random()
        email, phone = p.emails[0], p.contact_phone()
        if kind < 0.25 and len(p.emails) > 1:
            p.emails[0], p.emails[1] = p.emails[1], p.emails[0]  # new preferred address
            email = p.emails[0]
        elif kind < 0.5 and p.landline:
            p.gives_landline = not p.gives_landline
            phone = p.contact_phone()
        elif kind >= 0.5:
            p.street = f"{rng.randint(1, 9999)} {p.street.split(' ', 1)[1]}"
        alt = p.emails[1] if len(p.emails) > 1 and rng.random() < nz.CRM_ALT_EMAIL_RATE else None
        out.add("crm", upd_day, _crm_row(rng, out, p, p.crm_id, change_type="update", updated_ms=ms,
                                         email=email, alt_email=alt, phone=phone), p)


# ------------------------------------------------------------------------------------------------
# billing
# ------------------------------------------------------------------------------------------------
def _billing(rng: random.Random, out: ChunkOutput, clock: Clock, alloc: Allocator, p: Person, k: int) -> None:
    existing = p.since_ms < clock.start_ms
    if existing:
        opened = rng.randint(p.since_ms, clock.start_ms - 1)
        day = 0
    else:
        opened = p.since_ms + rng.randrange(0, 2 * Clock.DAY_MS)
        day = clock.day_of(opened)
        if day >= clock.days:
            return
    plan, amount = rng.choice(PLANS)
    paid_ms = clock.start_ms - rng.randint(1, 30) * Clock.DAY_MS
    miss = nz.MISSING_RATE["billing"]
    first, last = nz.messy_name(rng, p.first, "billing"), nz.messy_name(rng, p.last, "billing")
    holder = f"{last.upper()}, {first.upper()}" if rng.random() < nz.BILLING_LAST_FIRST_RATE else f"{first} {last}"
    email = p.emails[-1] if rng.random() < nz.BILLING_OTHER_EMAIL_RATE else p.emails[0]
    status = "active" if rng.random() < 0.93 else rng.choice(("suspended", "closed"))
    row = {
        "billing_account": alloc.billing_account(2 * p.index + k),
        "crm_id": None if rng.random() < nz.BILLING_CRM_REF_MISSING else p.crm_id,
        "holder_name": holder,
        "email": profile_email(rng, p, email, "billing", miss["email"]),
        "phone": profile_phone(rng, _stale_phone(rng, p) if existing else p.mobile, "billing", miss["phone"]),
        "billing_address": _address_line(rng, p),
        "city": p.city,
        "state": p.state,
        "postal_code": p.postal_code,
        "plan": plan,
        "monthly_amount": amount,
        "currency": "USD",
        "payment_method": rng.choice(PAYMENT_METHODS),
        "last_payment_amount": amount if existing else None,
        "last_payment_date": paid_ms if existing else None,
        "balance_due": round(amount * rng.choice((0, 0, 0, 1, 2)), 2) if status != "closed" else 0.0,
        "status": status,
        "opened_at": opened,
        "updated_at": max(opened, paid_ms) if existing else opened,
    }
    out.add("billing", day, row, p)


# ------------------------------------------------------------------------------------------------
# loyalty
# ------------------------------------------------------------------------------------------------
def _loyalty(rng: random.Random, out: ChunkOutput, clock: Clock, alloc: Allocator, p: Person) -> None:
    existing = p.since_ms < clock.start_ms and rng.random() < nz.LOYALTY_EXISTING_RATE
    if existing:
        enrolled = rng.randint(p.since_ms, clock.start_ms - 1)
        day = 0
    else:
        day = rng.randrange(p.active_from, clock.days)
        enrolled = clock.at(day, 8 * 3600 + rng.random() * 14 * 3600)
    n = 1 + (rng.random() < nz.LOYALTY_DUPLICATE_RATE)
    for k in range(n):
        p.loyalty_ids.append(alloc.loyalty_id(2 * p.index + k))
        miss = nz.MISSING_RATE["loyalty"]
        email = p.emails[1] if len(p.emails) > 1 and rng.random() < nz.LOYALTY_SECOND_EMAIL_RATE else p.emails[0]
        if k == 1 and rng.random() < nz.LOYALTY_DUPLICATE_OTHER_EMAIL:
            email = p.emails[-1]
        tier = rng.choices(_TIERS, weights=_TIER_WEIGHTS)[0]
        row = {
            "loyalty_id": p.loyalty_ids[-1],
            "first_name": nz.messy_name(rng, p.first, "loyalty"),
            "last_name": nz.messy_name(rng, p.last, "loyalty"),
            "email": profile_email(rng, p, email, "loyalty", miss["email"]),
            "phone": profile_phone(rng, p.mobile, "loyalty", miss["phone"]),
            "birth_date": None if rng.random() < miss["birth_date"] else p.birth_date,
            "postal_code": p.postal_code,
            "tier": tier,
            "points": rng.randint(0, 2000) * (1 + _TIERS.index(tier)) if k == 0 else rng.randint(0, 300),
            "enrolled_at": enrolled,
            "updated_at": enrolled if not existing else rng.randint(enrolled, clock.start_ms - 1),
        }
        out.add("loyalty", day, row, p)


# ------------------------------------------------------------------------------------------------
# consents
# ------------------------------------------------------------------------------------------------
def consent_key(rng: random.Random, p: Person, prefer_email: bool) -> tuple[str | None, str | None]:
    """(crm_id, email) a consent row is keyed by: the crm id, or a known e-mail."""
    if p.crm_id and not (prefer_email and p.known_emails):
        return p.crm_id, None
    email = p.known_emails[0] if p.known_emails else p.emails[0]
    if email not in p.known_emails:
        p.known_emails.append(email)
    return None, nz.messy_email(rng, email, "consents")


def _initial_consent(rng: random.Random, out: ChunkOutput, clock: Clock, p: Person) -> None:
    crm_id, email = consent_key(rng, p, rng.random() < nz.CONSENT_VIA_EMAIL_RATE)
    row = {
        "consent_id": out.new_id("consents"),
        "crm_id": crm_id,
        "email": email,
        "captured_at": 0,
        "capture_channel": "",
        "marketing_email": p.consent["marketing_email"],
        "sms": p.consent["sms"],
        "phone": p.consent["phone"],
    }
    if p.since_ms < clock.start_ms:
        row["captured_at"] = rng.randint(p.since_ms, clock.start_ms - 1)
        row["capture_channel"] = rng.choice(("store", "web", "contact_center", "app"))
        out.add("consents", 0, row, p)
        return
    row["capture_channel"] = "web" if p.segment == "newsletter" else rng.choice(("web", "app", "contact_center"))
    row["captured_at"] = p.since_ms + rng.randrange(60_000, 3_600_000)
    consent_event(out, row, p)


def consent_event(out: ChunkOutput, row: Row, p: Person) -> bool:
    """A consent row captured inside the window: a batch row plus a ``consent_change`` event."""
    return out.add_event(
        "consents", row, p,
        time_ms=row["captured_at"], type_="consent_change",
        channel=row["capture_channel"],
        identifiers={"crm_id": row["crm_id"], "email": row["email"]},
        attributes={c: row[c] for c in ("marketing_email", "sms", "phone")}
        | {"capture_channel": row["capture_channel"]},
    )
