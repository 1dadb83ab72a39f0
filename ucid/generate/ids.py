"""Identifiers that are unique by construction, and the clock of the data set.

Keys that real systems allocate (crm ids, account numbers, phone numbers, e-mail tokens) are
drawn from an affine permutation of a global index, ``(a * i + b) mod m``: distinct indices give
distinct values, so uniqueness across chunks needs no shared state, and the values still look
random. Random-looking ids (cookies, devices) come from the chunk's ``random.Random``.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from ucid.generate.vocab import AREA_CODES, EXCHANGES

_MULT = 2_654_435_761  # prime (Knuth): coprime to every modulus used below, scatters well


def derive_seed(seed: int, *parts: object) -> int:
    """A 64-bit seed derived from the user's seed and a label (stable across Python runs)."""
    text = ":".join(["ucid-generate", str(seed), *(str(p) for p in parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def chunk_rng(seed: int, chunk: int) -> random.Random:
    """The random source of one chunk: a pure function of (seed, chunk index)."""
    return random.Random(derive_seed(seed, "chunk", chunk))


class Allocator:
    """Seed-dependent bijections from global indices to business keys."""

    # index ranges inside each key space, so that kinds of keys never collide
    CRM_DUPLICATE_OFFSET = 600_000_000

    def __init__(self, seed: int, email_space: int) -> None:
        offsets = random.Random(derive_seed(seed, "allocator"))
        self._crm_b = offsets.randrange(10**9)
        self._ba_b = offsets.randrange(10**10)
        self._ly_b = offsets.randrange(10**9)
        self._phone_space = len(AREA_CODES) * len(EXCHANGES) * 10_000
        self._phone_b = offsets.randrange(self._phone_space)
        self._email_space = email_space
        self._email_b = offsets.randrange(email_space)

    def crm_id(self, index: int) -> str:
        return f"C{(_MULT * index + self._crm_b) % 10**9:09d}"

    def billing_account(self, index: int) -> str:
        return f"{8_000_000_000 + (_MULT * index + self._ba_b) % 10**9}"

    def loyalty_id(self, index: int) -> str:
        return f"LY{(_MULT * index + self._ly_b) % 10**9:09d}"

    def phone(self, index: int) -> str:
        """Ten national digits (area code, exchange, line) of a valid North-American number."""
        j = (_MULT * index + self._phone_b) % self._phone_space
        j, line = divmod(j, 10_000)
        area, exchange = divmod(j, len(EXCHANGES))
        return f"{AREA_CODES[area]}{EXCHANGES[exchange]}{line:04d}"

    def email_token(self, index: int) -> int:
        return (_MULT * index + self._email_b) % self._email_space


def email_space_for(customers: int) -> int:
    """Size of the e-mail token space: 4 slots per customer, a power of ten with room to spare."""
    space = 10_000
    while space < 4 * customers:
        space *= 10
    return space


def hex_id(rng: random.Random, bits: int = 128) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def uuid_like(rng: random.Random) -> str:
    """A version-4-looking UUID from the chunk's random source."""
    h = hex_id(rng)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"


class Clock:
    """Times of the data set: epoch milliseconds, days counted from ``start``."""

    DAY_MS = 86_400_000

    def __init__(self, start: date, days: int) -> None:
        self.start = start
        self.days = days
        self.start_ms = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp() * 1000)
        self.end_ms = self.start_ms + days * self.DAY_MS
        self._day_names = [(start + timedelta(days=d)).isoformat() for d in range(days)]

    def day_name(self, day: int) -> str:
        return self._day_names[day]

    def day_of(self, ms: int) -> int:
        return (ms - self.start_ms) // self.DAY_MS

    def at(self, day: int, seconds: float) -> int:
        """Epoch ms of ``seconds`` after midnight UTC of window day ``day``."""
        return self.start_ms + day * self.DAY_MS + int(seconds * 1000)

    @staticmethod
    def iso(ms: int) -> str:
        """ISO-8601 UTC with milliseconds and a ``Z``: ``2026-01-03T08:15:02.123Z``."""
        day, rest = divmod(ms, Clock.DAY_MS)
        secs, milli = divmod(rest, 1000)
        hours, secs = divmod(secs, 3600)
        minutes, secs = divmod(secs, 60)
        return f"{_day_text(day)}T{hours:02d}:{minutes:02d}:{secs:02d}.{milli:03d}Z"

    @staticmethod
    def sql(ms: int) -> str:
        """``2026-01-03 08:15:02`` (UTC, no zone), the way relational extracts print it."""
        day, rest = divmod(ms, Clock.DAY_MS)
        hours, secs = divmod(rest // 1000, 3600)
        minutes, secs = divmod(secs, 60)
        return f"{_day_text(day)} {hours:02d}:{minutes:02d}:{secs:02d}"

    @staticmethod
    def date(ms: int) -> str:
        """``2026-01-03``: the UTC calendar day of ``ms``."""
        return _day_text(ms // Clock.DAY_MS)


@lru_cache(maxsize=65_536)
def _day_text(epoch_day: int) -> str:
    return (_EPOCH + timedelta(days=epoch_day)).isoformat()


_EPOCH = date(1970, 1, 1)


def daytime_seconds(rng: random.Random) -> float:
    """A time of day in seconds, busier in the day and evening than at night (UTC)."""
    hour = rng.choices(range(24), weights=_HOUR_WEIGHTS)[0]
    return hour * 3600 + rng.random() * 3600


_HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 9, 9, 8, 8, 8, 9, 10, 11, 11, 9, 6, 3)
