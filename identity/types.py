"""Identifier types: the registry, their normalizers, validators and blocked values.

An identifier is the pair ``(type, normalized value)``; two records share a customer only through
equal identifiers, so normalization decides what "equal" means and must be the same everywhere
(batch, speed, serving lookups). Every normalizer here is a pure function of the raw string and
the type's settings, and is cached because real data repeats values a lot (phone parsing costs
~60 µs).

A raw value ends in exactly one of three ways, never silently dropped:

* absent   -- ``None`` or blank: there is no value, nothing to count as an error;
* rejected -- a :class:`Rejection` with the type, the raw value and a reason, of kind
  ``invalid`` (does not normalize / validate, or holds a control or invisible character) or
  ``blocked`` (a known junk value, or a placeholder such as ``0000000000`` for an id type);
* accepted -- the normalized string.

Control and invisible characters (NUL, right-to-left override, zero-width space...) are refused
before any normalizer runs: two values that look the same on screen but differ by an invisible
character would otherwise be two customers, and one could impersonate the other. The check is by
Unicode category, not a hand list, so it covers what Unicode adds.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import phonenumbers

Identifier = tuple[str, str]
"""``(type name, normalized value)`` -- a node of the identity graph."""

Kind = Literal["email", "phone", "id"]
Case = Literal["upper", "lower", "preserve"]

RECORD_TYPE = "_record"
"""Reserved pseudo type of the node that stands for a record with no usable identifier."""

BUILTIN_KINDS: dict[str, tuple[Kind, Case]] = {
    "email": ("email", "lower"),
    "phone": ("phone", "preserve"),
    "crm_id": ("id", "upper"),
    "billing_account": ("id", "upper"),
    "loyalty_id": ("id", "upper"),
    # cookies and device ids are opaque tokens: case may be significant, keep it
    "cookie_id": ("id", "preserve"),
    "device_id": ("id", "lower"),
}
"""Types every deployment knows; ``rules.yaml`` may tune them and add more."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """A raw identifier value that was not used, and why (``kind`` is ``invalid`` or ``blocked``)."""

    type: str
    raw: str
    reason: str
    kind: Literal["invalid", "blocked"] = "invalid"
    source: str = ""
    record_id: str = ""


@dataclass(frozen=True, slots=True)
class IdentifierType:
    """How values of one identifier type are normalized and validated (not how they link)."""

    name: str
    kind: Kind
    case: Case = "preserve"
    strip: str | None = None  # regex; every match is removed (ids only)
    pattern: str | None = None  # regex the normalized value must fullmatch (ids only)
    min_length: int = 1
    max_length: int = 256
    gmail_rules: bool = False  # gmail/googlemail: drop dots and +tag, googlemail -> gmail
    strip_plus_tags: bool = False  # any provider: drop the +tag of the local part
    region: str | None = None  # phone default region (ISO 3166 alpha-2) for national numbers
    phone_check: Literal["valid", "possible"] = "valid"


HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs"})
"""Unicode categories refused inside an identifier: controls (NUL, tab, escape...), format
characters (the bidi controls such as U+202E right-to-left override, zero-width space and
joiner, byte-order mark, soft hyphen), line and paragraph separators, private-use and surrogate
code points. None of them belongs in an identifier, and none is visible."""


def hidden_character(raw: str) -> str | None:
    """Why ``raw`` is refused for holding a control or invisible character, or ``None``.

    Leading and trailing whitespace (a CSV's newline, a tab) is not counted: every normalizer
    trims it. The reason names the character and its position (in the trimmed value), never
    echoes the character itself.
    """
    text = raw.strip()
    if text.isprintable():  # fast path: str.isprintable is False for every hidden category
        return None
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if category in HIDDEN_CATEGORIES:
            name = unicodedata.name(char, "") or {"Cc": "control", "Cs": "surrogate", "Co": "private use"}.get(
                category, "unnamed")
            return f"control or invisible character U+{ord(char):04X} ({name}) at position {index}"
    return None


# Pragmatic, not RFC 5322: what CRMs accept as an address and mail actually reaches.
_EMAIL = re.compile(r"^[^\s@\"(),:;<>\[\]\\]+@(?:[\w-]+\.)+[\w-]{2,}$")
EMAIL_MAX = 254  # RFC 5321: the longest address a mail path can carry
_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
_PHONE_PUNCT = re.compile(r"[\s().\-/]")

Normalized = tuple[str | None, str | None]
"""``(value, None)`` when accepted, ``(None, reason)`` when invalid."""


def normalize_email(raw: str, gmail_rules: bool = False, strip_plus_tags: bool = False) -> Normalized:
    """Trim and lowercase; optionally apply provider rules. Promises: idempotent on its output."""
    value = raw.strip().lower()
    if value.startswith("mailto:"):
        value = value[7:]
    if len(value) > EMAIL_MAX:
        return None, f"longer than {EMAIL_MAX} characters"
    if not _EMAIL.match(value):
        return None, "not an e-mail address"
    local, domain = value.rsplit("@", 1)
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return None, "misplaced dot in the local part"
    if gmail_rules and domain in _GMAIL_DOMAINS:
        # Gmail ignores dots and +tags, so these spellings reach one mailbox (one person).
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
    elif strip_plus_tags:
        local = local.split("+", 1)[0]
    if not local:
        return None, "empty local part"
    return f"{local}@{domain}", None


def normalize_phone(raw: str, region: str | None, check: str = "valid") -> Normalized:
    """Parse with ``phonenumbers`` and format as E.164; national numbers need ``region``."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]  # international call prefix used in most of the world
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        return None, f"not a phone number ({exc.args[0] if exc.args else exc})"
    ok = phonenumbers.is_valid_number(number) if check == "valid" else phonenumbers.is_possible_number(number)
    if not ok:
        return None, f"not a {check} phone number for its region"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def normalize_id(
    raw: str,
    case: str = "preserve",
    strip: re.Pattern[str] | None = None,
    pattern: re.Pattern[str] | None = None,
    min_length: int = 1,
    max_length: int = 256,
) -> Normalized:
    """Trim, remove ``strip`` matches, apply the case rule, then check length and ``pattern``."""
    value = raw.strip()
    if strip is not None:
        value = strip.sub("", value)
    if case == "upper":
        value = value.upper()
    elif case == "lower":
        value = value.lower()
    if len(value) < min_length:
        return None, f"shorter than {min_length} characters"
    if len(value) > max_length:
        return None, f"longer than {max_length} characters"
    if pattern is not None and not pattern.fullmatch(value):
        return None, f"does not match pattern {pattern.pattern!r}"
    return value, None


def make_normalizer(spec: IdentifierType, default_region: str | None = None) -> Callable[[str], Normalized]:
    """A cached normalizer for one type; the cache is per type so settings never leak across."""
    if spec.kind == "email":

        def fn(raw: str) -> Normalized:
            return normalize_email(raw, spec.gmail_rules, spec.strip_plus_tags)

    elif spec.kind == "phone":
        region = spec.region or default_region

        @lru_cache(maxsize=1 << 18)
        def parse(compact: str) -> Normalized:
            return normalize_phone(compact, region, spec.phone_check)

        def fn(raw: str) -> Normalized:
            # "(415) 555-0132" and "415.555.0132" parse alike: share one cache entry, as parsing
            # is the costliest step of the whole pipeline
            return parse(_PHONE_PUNCT.sub("", raw))

    else:
        strip = re.compile(spec.strip) if spec.strip else None
        pattern = re.compile(spec.pattern) if spec.pattern else None

        def fn(raw: str) -> Normalized:
            return normalize_id(raw, spec.case, strip, pattern, spec.min_length, spec.max_length)

    return lru_cache(maxsize=1 << 18)(fn)


@dataclass(frozen=True, slots=True)
class Blocklist:
    """Junk values of one type: exact (compared raw *and* normalized) and regex (fullmatch)."""

    raw: frozenset[str] = frozenset()  # casefolded, trimmed raw spellings
    exact: frozenset[str] = frozenset()  # normalized values
    regexes: tuple[re.Pattern[str], ...] = ()
    placeholders: tuple[re.Pattern[str], ...] = ()  # fullmatch the normalized value (id types)

    @classmethod
    def build(
        cls,
        exact: Iterable[str],
        regexes: Iterable[str],
        normalize: Callable[[str], Normalized],
        placeholders: Iterable[str] = (),
    ) -> Blocklist:
        """Normalize the exact values with the type's own normalizer, so spellings don't matter."""
        raw_values, normalized = set(), set()
        for value in exact:
            raw_values.add(value.strip().casefold())
            norm, _ = normalize(value)
            if norm is not None:
                normalized.add(norm)
        return cls(frozenset(raw_values), frozenset(normalized), tuple(re.compile(r) for r in regexes),
                   tuple(re.compile(p) for p in placeholders))

    def raw_reason(self, raw: str) -> str | None:
        # checked before normalization so that e.g. "N/A" is reported as blocked, not as invalid
        return "blocked value" if raw.strip().casefold() in self.raw else None

    def reason(self, value: str) -> str | None:
        if value in self.exact:
            return "blocked value"
        for rx in self.regexes:
            if rx.fullmatch(value):
                return f"blocked by pattern {rx.pattern!r}"
        for rx in self.placeholders:
            if rx.fullmatch(value):
                return f"placeholder value (matches {rx.pattern!r})"
        return None


Verdict = tuple[Identifier | None, str | None, str | None]
"""``(identifier, rejection kind, reason)``: identifier set when accepted, all ``None`` when
absent. Cached, so every record holding a value shares one identifier tuple (memory)."""


@dataclass(frozen=True, slots=True)
class CompiledType:
    """One identifier type ready for the hot path: normalizer, blocklist and linking rules."""

    spec: IdentifierType
    link: bool
    priority: int  # 1 is the strongest
    limit: int | None  # most identifiers of this type one customer may hold; None = no limit
    normalizer: Callable[[str], Normalized] = field(repr=False)
    blocklist: Blocklist = field(default_factory=Blocklist, repr=False)
    verdict: Callable[[str], Verdict] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the whole raw -> verdict pipeline is cached: real data repeats values a lot
        object.__setattr__(self, "verdict", lru_cache(maxsize=1 << 18)(self._verdict))

    def _verdict(self, raw: str) -> Verdict:
        if not raw.strip():
            return None, None, None
        why = hidden_character(raw)
        if why:
            return None, "invalid", why
        why = self.blocklist.raw_reason(raw)
        if why:
            return None, "blocked", why
        value, why = self.normalizer(raw)
        if value is None:
            return None, "invalid", why or "invalid"
        why = self.blocklist.reason(value)
        if why:
            return None, "blocked", why
        return (self.spec.name, value), None, None

    def accept(self, raw: str | None) -> tuple[str | None, Rejection | None]:
        """``(value, None)``, ``(None, Rejection)``, or ``(None, None)`` when the value is absent."""
        if raw is None:
            return None, None
        if not isinstance(raw, str):
            raw = str(raw)  # ids read from typed files (ints); the normalizer decides validity
        ident, kind, why = self.verdict(raw)
        if kind is None:
            return (ident[1] if ident else None), None
        return None, Rejection(self.spec.name, raw, why or kind, kind)  # type: ignore[arg-type]
