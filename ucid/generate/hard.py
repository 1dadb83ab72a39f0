"""Hard cases (``ucid generate --hard-cases``): records exact rules cannot link, and traps.

In-store registrations (source ``store``) carry a name, a birth date and an address, and often
no identifier the other systems know: a phone with two digits swapped, no e-mail, a loyalty
number with a typo. Names come with nicknames and typos, birth dates with swapped digits or
swapped day and month, addresses in other spellings, and some people have moved. The traps are
people who look alike and are not one: twins (same last name, birth date, address), a parent and
a child of one full name at one address, same-name strangers in one city, and household members
giving another member's e-mail. Every rate is in :mod:`ucid.generate.noise`; the truth names
the real person of each row (trap persons get ``T...`` ids and exist only in ``store``).

Everything here draws from its own random source (seeded by seed and chunk), after the rest of
the chunk is built, so turning the option on adds rows and never changes another row.
"""

from __future__ import annotations

import random
from dataclasses import replace

from identity.match import NICKNAMES
from ucid.generate import noise as nz
from ucid.generate.emit import ChunkOutput
from ucid.generate.ids import Allocator, Clock, derive_seed
from ucid.generate.people import Chunk, Person
from ucid.generate.vocab import CITIES, FIRST_NAMES_F, FIRST_NAMES_M, STREET_NAMES, STREET_SUFFIXES

SOURCE = "store"
_NICKNAMES_OF: dict[str, list[str]] = {}
for _nick, _given in sorted(NICKNAMES.items()):
    _NICKNAMES_OF.setdefault(_given, []).append(_nick)


def hard_rng(seed: int, chunk: int) -> random.Random:
    return random.Random(derive_seed(seed, "hard-cases", chunk))


def _swap_digits(rng: random.Random, text: str) -> str:
    """Two neighbouring digits swapped (the commonest keying error in numbers)."""
    spots = [i for i in range(len(text) - 1) if text[i].isdigit() and text[i + 1].isdigit() and text[i] != text[i + 1]]
    if not spots:
        return text
    i = rng.choice(spots)
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def _first_name(rng: random.Random, first: str) -> str:
    nicks = _NICKNAMES_OF.get(first.lower())
    if nicks and rng.random() < nz.STORE_NICKNAME:
        return rng.choice(nicks).capitalize()
    return nz.typo(rng, first) if rng.random() < nz.STORE_NAME_TYPO else first


def _birth_date(rng: random.Random, value: str) -> str | None:
    if rng.random() < nz.STORE_BIRTH_DATE_MISSING:
        return None
    y, m, d = value.split("-")
    if int(d) <= 12 and m != d and rng.random() < nz.STORE_BIRTH_DATE_SWAPPED:
        return f"{y}-{d}-{m}"
    if rng.random() < nz.STORE_BIRTH_DATE_TYPO:
        return _swap_digits(rng, value)
    return value


def _address(rng: random.Random, street: str, unit: str) -> str:
    line = f"{street}, {unit}" if unit else street
    if rng.random() < nz.STORE_ADDRESS_VARIANT:
        for long, short in STREET_SUFFIXES:
            if line.endswith(long) or f"{long}," in line:
                line = line.replace(long, short + ("." if rng.random() < 0.5 else ""), 1)
                break
        line = line.replace(", Apt ", " #") if rng.random() < 0.5 else line
        if rng.random() < 0.3:
            line = line.upper()
    return line


def _moved(rng: random.Random, p: Person) -> Person:
    """``p`` at a new address (same city, or another one)."""
    suffix = rng.choice(STREET_SUFFIXES)[0]
    street = f"{rng.randint(1, 9999)} {rng.choice(STREET_NAMES)} {suffix}"
    if rng.random() < nz.STORE_MOVER_OTHER_CITY:
        city, state, zip3 = rng.choice(CITIES)
        return replace(p, street=street, unit="", city=city, state=state, postal_code=f"{zip3}{rng.randint(0, 99):02d}")
    return replace(p, street=street, unit="", postal_code=p.postal_code[:3] + f"{rng.randint(0, 99):02d}")


def _store_row(rng: random.Random, out: ChunkOutput, clock: Clock, p: Person, *, phone: str | None,
               email: str | None, loyalty: str | None, day: int) -> dict:
    return {
        "store_reg_id": out.new_id(SOURCE),
        "store_id": f"S{rng.randint(1, 400):03d}",
        "registered_at": clock.at(day, 9 * 3600 + rng.random() * 10 * 3600),
        "first_name": _first_name(rng, p.first),
        "last_name": nz.typo(rng, p.last) if rng.random() < nz.STORE_NAME_TYPO else p.last,
        "birth_date": _birth_date(rng, p.birth_date),
        "address_line": _address(rng, p.street, p.unit),
        "city": p.city,
        "state": p.state,
        "postal_code": None if rng.random() < nz.STORE_POSTAL_CODE_MISSING else p.postal_code,
        "phone": phone,
        "email": email,
        "loyalty_number": loyalty,
    }


def _registration(rng: random.Random, out: ChunkOutput, clock: Clock, p: Person, household: list[Person]) -> None:
    """One in-store registration of customer ``p`` (maybe since moved)."""
    shown = _moved(rng, p) if rng.random() < nz.STORE_MOVER else p
    phone = None
    if rng.random() >= nz.STORE_PHONE_MISSING:
        digits = p.mobile
        phone = nz.format_phone(rng, _swap_digits(rng, digits) if rng.random() < nz.STORE_PHONE_TRANSPOSED else digits, "digits")
    email = None
    others = [m for m in household if m is not p]
    if others and rng.random() < nz.FAMILY_EMAIL_RATE:
        email = rng.choice(others).emails[0]  # the family address another member uses
    elif rng.random() >= nz.STORE_EMAIL_MISSING:
        email = p.emails[0]
        if rng.random() < nz.STORE_EMAIL_TYPO:
            local, _, domain = email.partition("@")
            email = f"{nz.typo(rng, local)}@{domain}" if rng.random() < 0.5 else nz.typo_domain(rng, email)
    loyalty = None
    if p.loyalty_ids and rng.random() < nz.STORE_LOYALTY_NUMBER:
        loyalty = p.loyalty_ids[0]
        if rng.random() < nz.STORE_LOYALTY_NUMBER_TYPO:
            loyalty = _swap_digits(rng, loyalty) if rng.random() < 0.5 else nz.typo(rng, loyalty)
    day = rng.randrange(p.active_from, clock.days)
    out.add(SOURCE, day, _store_row(rng, out, clock, shown, phone=phone, email=email, loyalty=loyalty, day=day), p)


def _lookalike(rng: random.Random, alloc: Allocator, p: Person, n: int, kind: str) -> Person:
    """A trap person resembling ``p``: ``twin``, ``parent_child`` or ``stranger``."""
    first, birth = p.first, p.birth_date
    street, unit, postal = p.street, p.unit, p.postal_code
    year = int(p.birth_date[:4])
    if kind == "twin":  # another first name; birth date and address shared
        names = FIRST_NAMES_F if rng.random() < 0.5 else FIRST_NAMES_M
        first = rng.choice([x for x in names if x != p.first])
    elif kind == "parent_child":  # one full name, one address, a generation apart
        gap = rng.randint(22, 38) * (-1 if year > 1975 else 1)
        birth = f"{year + gap:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    else:  # stranger: one full name, one city, another address and birth date
        birth = f"{year + rng.randint(-15, 15):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        street = f"{rng.randint(1, 9999)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_SUFFIXES)[0]}"
        unit, postal = "", p.postal_code[:3] + f"{rng.randint(0, 99):02d}"
    local = f"{first.lower()}.{p.last.lower()}{rng.randint(100000, 999999)}".replace("'", "")
    return Person(
        pid=f"T{3 * p.index + n:09d}", index=p.index, segment="lookalike", first=first, last=p.last,
        gender=p.gender, birth_date=birth, street=street, unit=unit, city=p.city, state=p.state,
        postal_code=postal, emails=[f"{local}@mail.com"], mobile=alloc.phone(3 * p.index + 2),
        active_from=0,
    )


def emit_hard_cases(seed: int, out: ChunkOutput, clock: Clock, alloc: Allocator, chunk: Chunk) -> None:
    """Add the chunk's store registrations and trap persons to ``out`` (see the module docstring)."""
    rng = hard_rng(seed, chunk.index)
    households: dict[int, list[Person]] = {}
    for p in chunk.customers:
        if p.household >= 0:
            households.setdefault(p.household, []).append(p)
    for p in chunk.customers:
        household = households.get(p.household, []) if p.household >= 0 else []
        if rng.random() < nz.STORE_REGISTRATION_RATE:
            _registration(rng, out, clock, p, household)
        for n, (kind, rate) in enumerate((("twin", nz.TWIN_RATE), ("parent_child", nz.PARENT_CHILD_RATE),
                                          ("stranger", nz.SAME_NAME_STRANGER_RATE))):
            if rng.random() < rate:
                look = _lookalike(rng, alloc, p, n, kind)
                # only a twin gets a phone of their own (one spare number per customer index)
                phone = nz.format_phone(rng, look.mobile, "digits") if n == 0 and rng.random() < 0.5 else None
                email = look.emails[0] if rng.random() < 0.3 else None
                day = rng.randrange(clock.days)
                out.add(SOURCE, day, _store_row(rng, out, clock, look, phone=phone, email=email, loyalty=None, day=day), look)
