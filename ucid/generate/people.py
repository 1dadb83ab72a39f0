"""The persona model: customers, their households, e-mails, phones and devices, one chunk at a time.

Everything that links people (households, shared devices, recycled phone numbers) is built inside
one chunk, so memory stays bounded by the chunk size whatever the number of customers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from ucid.generate import noise as nz
from ucid.generate.ids import Allocator, Clock, hex_id, uuid_like
from ucid.generate.vocab import (
    APP_VERSIONS,
    CITIES,
    EMAIL_DOMAINS,
    FIRST_NAMES_F,
    FIRST_NAMES_M,
    LAST_NAMES,
    STREET_NAMES,
    STREET_SUFFIXES,
    USER_AGENTS,
)

_DOMAINS = tuple(d for d, _ in EMAIL_DOMAINS)
_DOMAIN_WEIGHTS = tuple(w for _, w in EMAIL_DOMAINS)
_CUSTOMER_SINCE_FROM = date(2012, 1, 1)


@dataclass(slots=True, eq=False)
class Person:
    """One real person: a customer, or an anonymous visitor (``segment == "visitor"``)."""

    pid: str
    index: int
    segment: str  # crm | newsletter | loyalty_only | visitor
    first: str = ""
    last: str = ""
    gender: str = ""
    birth_date: str = ""
    street: str = ""
    unit: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    emails: list[str] = field(default_factory=list)
    mobile: str = ""
    landline: str | None = None
    old_phone: str | None = None  # a number this person gave up; now another customer's mobile
    gives_landline: bool = False  # gives the household landline as contact phone
    household: int = -1
    active_from: int = 0  # first window day the person exists for the company
    since_ms: int = 0  # customer since (epoch ms; before the window for existing customers)
    crm_id: str | None = None
    dup_crm_id: str | None = None
    billing_accounts: list[str] = field(default_factory=list)
    loyalty_ids: list[str] = field(default_factory=list)
    consent: dict[str, str] = field(default_factory=dict)  # category -> opt_in | opt_out
    consent_captured: bool = False
    known_emails: list[str] = field(default_factory=list)  # clean e-mails present in profiles
    devices: list[Device] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)

    @property
    def is_customer(self) -> bool:
        return self.segment != "visitor"

    def contact_phone(self) -> str:
        return self.landline if (self.gives_landline and self.landline) else self.mobile


@dataclass(slots=True, eq=False)
class Device:
    """A browser cookie (``kind == "web"``) or an app install (``kind == "app"``)."""

    kind: str
    device_id: str
    users: list[Person]
    use_prob: float
    never_login: bool
    agent: str  # user agent (web) or platform (app)
    app_version: str = ""


@dataclass(slots=True)
class Chunk:
    index: int
    customers: list[Person]
    visitors: list[Person]
    devices: list[Device]


def _weighted(rng: random.Random, pairs: tuple[tuple[object, int], ...]) -> object:
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


def _email_local(rng: random.Random, first: str, last: str, token: int) -> str:
    f = "".join(ch for ch in first.lower() if ch.isalpha())
    l = "".join(ch for ch in last.lower() if ch.isalpha())
    style = rng.randrange(6)
    if style == 0:
        return f"{f}.{l}{token}"
    if style == 1:
        return f"{f[0]}{l}{token}"
    if style == 2:
        return f"{f}_{l}{token}"
    if style == 3:
        return f"{f}{token}"
    if style == 4:
        return f"{l}.{f}{token}"
    return f"{f}{l[0]}{token}"


def new_customer(rng: random.Random, alloc: Allocator, clock: Clock, index: int) -> Person:
    """A customer with a name, a birth date, an address, e-mails, a mobile and a segment."""
    gender = "F" if rng.random() < 0.5 else "M"
    first = rng.choice(FIRST_NAMES_F if gender == "F" else FIRST_NAMES_M)
    last = rng.choice(LAST_NAMES)
    year = int(rng.triangular(1940, 2006, 1984))
    city, state, zip3 = rng.choice(CITIES)
    suffix = rng.choice(STREET_SUFFIXES)[0]
    n_emails = 1
    if rng.random() < nz.SECOND_EMAIL_RATE:
        n_emails += 1 + (rng.random() < nz.THIRD_EMAIL_RATE / nz.SECOND_EMAIL_RATE)
    emails = []
    for k in range(n_emails):
        local = _email_local(rng, first, last, alloc.email_token(4 * index + k))
        domain = rng.choices(_DOMAINS, weights=_DOMAIN_WEIGHTS)[0]
        emails.append(f"{local}@{domain}")
    if rng.random() < nz.NOT_IN_CRM_RATE:
        segment = "loyalty_only" if rng.random() < nz.NOT_IN_CRM_LOYALTY_SHARE else "newsletter"
    else:
        segment = "crm"
    p = Person(
        pid=f"P{index:09d}",
        index=index,
        segment=segment,
        first=first,
        last=last,
        gender=gender,
        birth_date=f"{year:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        street=f"{rng.randint(1, 9999)} {rng.choice(STREET_NAMES)} {suffix}",
        unit=f"Apt {rng.randint(1, 30)}{rng.choice('ABCD')}" if rng.random() < 0.2 else "",
        city=city,
        state=state,
        postal_code=f"{zip3}{rng.randint(0, 99):02d}",
        emails=emails,
        mobile=alloc.phone(3 * index),
    )
    if rng.random() < nz.EXISTING_CUSTOMER_RATE:
        p.active_from = 0
        since_days = rng.randint(1, (clock.start - _CUSTOMER_SINCE_FROM).days)
        p.since_ms = clock.start_ms - since_days * Clock.DAY_MS + rng.randrange(Clock.DAY_MS)
    else:
        p.active_from = rng.randrange(clock.days)
        p.since_ms = clock.at(p.active_from, 8 * 3600 + rng.random() * 12 * 3600)
    if segment == "crm":
        p.crm_id = alloc.crm_id(index)
        if rng.random() < nz.CRM_DUPLICATE_RATE:
            p.dup_crm_id = alloc.crm_id(Allocator.CRM_DUPLICATE_OFFSET + index)
    p.consent = {c: ("opt_in" if rng.random() < r else "opt_out") for c, r in nz.INITIAL_OPT_IN.items()}
    p.consent_captured = rng.random() < nz.CONSENT_CAPTURE_RATE
    if segment == "newsletter":  # a newsletter subscription is an e-mail opt-in
        p.consent_captured = True
        p.consent["marketing_email"] = "opt_in"
    return p


def _form_households(rng: random.Random, alloc: Allocator, people: list[Person]) -> list[list[Person]]:
    order = list(people)
    rng.shuffle(order)
    members = order[: int(len(order) * nz.HOUSEHOLD_MEMBER_RATE)]
    households: list[list[Person]] = []
    i = 0
    while i + 1 < len(members):
        size = 3 if (rng.random() < nz.HOUSEHOLD_OF_THREE_SHARE and i + 2 < len(members)) else 2
        households.append(members[i : i + size])
        i += size
    for h, group in enumerate(households):
        head = group[0]
        landline = alloc.phone(3 * head.index + 1) if rng.random() < nz.HOUSEHOLD_LANDLINE_RATE else None
        for m in group:
            m.household = h
            m.street, m.unit, m.city, m.state, m.postal_code = (
                head.street, head.unit, head.city, head.state, head.postal_code
            )
            if m is not head and rng.random() < nz.HOUSEHOLD_SAME_LAST_NAME:
                m.last = head.last
            if landline:
                m.landline = landline
                m.gives_landline = rng.random() < nz.LANDLINE_AS_CONTACT_RATE
    return households


def _recycle_phones(rng: random.Random, people: list[Person]) -> None:
    """Give some customers an old number that the operator has since reassigned to someone else."""
    pairs = int(round(len(people) * nz.RECYCLED_PHONE_RATE))
    order = list(people)
    rng.shuffle(order)
    i = 0
    while pairs > 0 and i + 1 < len(order):
        old_owner, new_owner = order[i], order[i + 1]
        i += 2
        if old_owner.household >= 0 and old_owner.household == new_owner.household:
            continue
        if old_owner.active_from > 0:  # only customers known before the window have stale records
            continue
        old_owner.old_phone = new_owner.mobile
        pairs -= 1


def _web_device(rng: random.Random, users: list[Person], never_login: bool = False) -> Device:
    lo, hi = nz.WEB_VISIT_PROB
    return Device("web", uuid_like(rng), users, rng.uniform(lo, hi), never_login, rng.choice(USER_AGENTS))


def _app_device(rng: random.Random, users: list[Person], never_login: bool = False) -> Device:
    lo, hi = nz.APP_USE_PROB
    platform = "ios" if rng.random() < 0.45 else "android"
    device_id = uuid_like(rng).upper() if platform == "ios" else hex_id(rng, 64)
    return Device("app", device_id, users, rng.uniform(lo, hi), never_login, platform,
                  rng.choice(APP_VERSIONS))


def _give_devices(rng: random.Random, people: list[Person], households: list[list[Person]]) -> list[Device]:
    devices: list[Device] = []
    for p in people:
        if rng.random() < nz.WEB_USER_RATE:
            for _ in range(_weighted(rng, nz.WEB_COOKIES_WEIGHTS)):  # type: ignore[arg-type]
                d = _web_device(rng, [p], rng.random() < nz.WEB_NEVER_LOGIN_COOKIE_RATE)
                p.devices.append(d)
                devices.append(d)
        if rng.random() < nz.APP_USER_RATE:
            for _ in range(1 + (rng.random() < nz.APP_SECOND_DEVICE_RATE)):
                d = _app_device(rng, [p], rng.random() < nz.APP_NEVER_LOGIN_DEVICE_RATE)
                p.devices.append(d)
                devices.append(d)
    for group in households:
        if rng.random() < nz.SHARED_DEVICE_HOUSEHOLD_RATE:
            users = group[:2]
            d = _web_device(rng, users) if rng.random() < 0.5 else _app_device(rng, users)
            for u in users:
                u.devices.append(d)
            devices.append(d)
    return devices


def visitors_per_full_chunk() -> int:
    return int(round(nz.CHUNK_SIZE * nz.ANON_VISITORS_PER_CUSTOMER))


def build_chunk(rng: random.Random, alloc: Allocator, clock: Clock, index: int, size: int) -> Chunk:
    """The people of chunk ``index`` (``size`` customers plus their share of anonymous visitors)."""
    first = index * nz.CHUNK_SIZE
    customers = [new_customer(rng, alloc, clock, first + k) for k in range(size)]
    households = _form_households(rng, alloc, customers)
    _recycle_phones(rng, customers)
    devices = _give_devices(rng, customers, households)
    visitors = []
    first_visitor = index * visitors_per_full_chunk()
    for k in range(int(round(size * nz.ANON_VISITORS_PER_CUSTOMER))):
        v = Person(pid=f"V{first_visitor + k:09d}", index=first_visitor + k, segment="visitor")
        v.active_from = rng.randrange(clock.days)
        d = _app_device(rng, [v], True) if rng.random() < nz.ANON_APP_SHARE else _web_device(rng, [v], True)
        v.devices.append(d)
        devices.append(d)
        visitors.append(v)
    return Chunk(index, customers, visitors, devices)
