"""Consents per purpose and channel: statements, the fold, and the contactability decision.

A :class:`Statement` says that, at ``time_ms`` (event time), ``source`` recorded the customer's
``status`` (``opt_in`` / ``opt_out``) for one ``purpose`` (service, marketing, profiling) on one
``channel`` (email, sms, phone, push, post), on a ``legal_basis`` (consent, legitimate_interest,
contract, legal_obligation). The vocabulary is configuration (``conf/consents.yaml``, compiled
into a :class:`Vocabulary`).

Promises, the same in the batch, the speed layer, the API and the triggers, which all call this
module:

* :func:`fold` keeps, per (purpose, channel), the latest statement by event time; at the same
  event time the most trusted source (lowest ``source_priority``), then the source name
  (alphabetical), then ``opt_out`` before ``opt_in``, then the legal basis name. The order is
  total, so the result depends neither on the order of the statements nor on duplicates.
* :func:`decide` answers allowed / denied with the reason and the statement it rests on; without
  a statement for (purpose, channel) the purpose's configured default applies (service: allowed
  on the legal basis contract; marketing and profiling: denied until the customer opts in).
* An unknown purpose or channel is :class:`UnknownConsentTerm`, never a silent default.

Flat consent names of the sources (``marketing_email``, ``sms``, ``phone``) and of
``consent_change`` events map to (purpose, channel) through ``names`` or the form
``<purpose>_<channel>``; event types such as ``email_unsubscribe`` are statements by themselves
(``events``). Values other than ``opt_in`` / ``opt_out`` and names outside the vocabulary are no
statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from identity.rules import read_yaml, validate_mapping

STATUSES = ("opt_in", "opt_out")
Status = Literal["opt_in", "opt_out"]
LEGAL_BASIS_ATTRIBUTE = "legal_basis"  # the attribute of a consent_change event naming its basis
REASONS = ("opted_in", "opted_out", "default_allowed", "default_denied")


class ConsentConfigError(ValueError):
    """``conf/consents.yaml`` is missing or invalid; the message names the file and the field."""


class UnknownConsentTerm(ValueError):
    """A purpose or channel outside the vocabulary (the API answers 422 with this message)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Purpose(_Strict):
    default: Literal["allowed", "denied"]
    legal_basis: str | None = None


class _Mapped(_Strict):
    purpose: str
    channel: str


class ConsentFile(_Strict):
    version: Literal[1] = 1
    purposes: dict[str, _Purpose] = Field(min_length=1)
    channels: list[str] = Field(min_length=1)
    legal_bases: list[str] = Field(min_length=1)
    default_legal_basis: str
    names: dict[str, _Mapped] = Field(default_factory=dict)
    events: dict[str, dict[str, Status]] = Field(default_factory=dict)
    source_priority: dict[str, int] = Field(default_factory=dict)
    default_priority: int = 100

    @model_validator(mode="after")
    def _terms_known(self) -> ConsentFile:
        if self.default_legal_basis not in self.legal_bases:
            raise ValueError(f"default_legal_basis {self.default_legal_basis!r} is not in legal_bases")
        for name, p in self.purposes.items():
            if p.legal_basis is not None and p.legal_basis not in self.legal_bases:
                raise ValueError(f"purposes.{name}.legal_basis {p.legal_basis!r} is not in legal_bases")
        for name, m in self.names.items():
            if m.purpose not in self.purposes or m.channel not in self.channels:
                raise ValueError(f"names.{name}: unknown purpose or channel ({m.purpose}, {m.channel})")
        for event_type, statuses in self.events.items():
            for name in statuses:
                if name not in self.names and _split(name, self.purposes, self.channels) is None:
                    raise ValueError(f"events.{event_type}: {name!r} is no consent name")
        return self


def _split(name: str, purposes: Mapping[str, Any], channels: Iterable[str]) -> tuple[str, str] | None:
    for channel in channels:
        purpose = name.removesuffix(f"_{channel}")
        if purpose != name and purpose in purposes:
            return purpose, channel
    return None


@dataclass(frozen=True, slots=True)
class Statement:
    """One consent statement; ``time_ms`` is its event time in epoch milliseconds (UTC)."""

    purpose: str
    channel: str
    status: Status
    source: str
    time_ms: int
    legal_basis: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one (purpose, channel): ``reason`` is one of :data:`REASONS`; ``statement``
    is the one it rests on (``None`` for a default); ``legal_basis`` that of the statement, or the
    purpose's for a default that allows."""

    allowed: bool
    reason: str
    statement: Statement | None
    legal_basis: str | None


@dataclass(frozen=True)
class Vocabulary:
    """The compiled ``conf/consents.yaml``."""

    config: ConsentFile

    @property
    def purposes(self) -> tuple[str, ...]:
        return tuple(self.config.purposes)

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.config.channels)

    def check(self, purpose: str, channel: str) -> None:
        """Raise :class:`UnknownConsentTerm` naming the known terms if either is unknown."""
        if purpose not in self.config.purposes:
            raise UnknownConsentTerm(f"unknown purpose {purpose!r}: one of {', '.join(self.purposes)}")
        if channel not in self.config.channels:
            raise UnknownConsentTerm(f"unknown channel {channel!r}: one of {', '.join(self.channels)}")

    def term(self, name: str) -> tuple[str, str] | None:
        """(purpose, channel) of a flat consent name, or ``None`` if it is none."""
        mapped = self.config.names.get(name)
        if mapped is not None:
            return mapped.purpose, mapped.channel
        return _split(name, self.config.purposes, self.config.channels)

    def legal_basis(self, value: Any) -> str:
        """``value`` if it is a legal basis of the vocabulary, else the default one."""
        return value if isinstance(value, str) and value in self.config.legal_bases else self.config.default_legal_basis

    def priority(self, source: str) -> int:
        return self.config.source_priority.get(source, self.config.default_priority)

    def statements(self, consents: Mapping[str, Any], source: str, time_ms: int,
                   legal_basis: Any = None) -> list[Statement]:
        """The statements of a flat consent map (name -> ``opt_in`` / ``opt_out``), sorted."""
        basis = self.legal_basis(legal_basis)
        out = []
        for name, value in consents.items():
            pc = self.term(name)
            if pc is not None and value in STATUSES:
                out.append(Statement(pc[0], pc[1], value, source, time_ms, basis))
        return sorted(set(out), key=_order)

    def event_statements(self, event_type: str, attributes: Mapping[str, Any], source: str,
                         time_ms: int) -> list[Statement]:
        """The statements an event makes: a ``consent_change``'s consent attributes (its
        ``legal_basis`` attribute, if any, applies to them all) and those its type implies."""
        basis = attributes.get(LEGAL_BASIS_ATTRIBUTE)
        found = self.statements(attributes, source, time_ms, basis) if event_type == "consent_change" else []
        implied = self.config.events.get(event_type)
        if implied:
            found += self.statements(implied, source, time_ms)
        return sorted(set(found), key=_order)

    def rank(self, s: Statement) -> tuple:
        """Sort key of the fold: the smallest key wins (see the module docstring)."""
        return (-s.time_ms, self.priority(s.source), s.source, 0 if s.status == "opt_out" else 1, s.legal_basis)


def _order(s: Statement) -> tuple:
    return (s.purpose, s.channel, -s.time_ms, s.source, s.status, s.legal_basis)


def fold(vocabulary: Vocabulary, statements: Iterable[Statement]) -> dict[tuple[str, str], Statement]:
    """The winning statement per (purpose, channel) (see the module docstring)."""
    best: dict[tuple[str, str], Statement] = {}
    for s in statements:
        key = (s.purpose, s.channel)
        current = best.get(key)
        if current is None or vocabulary.rank(s) < vocabulary.rank(current):
            best[key] = s
    return best


def decide(vocabulary: Vocabulary, statements: Iterable[Statement], purpose: str, channel: str) -> Decision:
    """May the customer with ``statements`` be contacted for ``purpose`` on ``channel``?

    Raises :class:`UnknownConsentTerm` for a purpose or channel outside the vocabulary."""
    vocabulary.check(purpose, channel)
    won = fold(vocabulary, (s for s in statements if s.purpose == purpose and s.channel == channel))
    statement = won.get((purpose, channel))
    if statement is not None:
        allowed = statement.status == "opt_in"
        return Decision(allowed, "opted_in" if allowed else "opted_out", statement, statement.legal_basis)
    default = vocabulary.config.purposes[purpose]
    if default.default == "allowed":
        return Decision(True, "default_allowed", None, default.legal_basis)
    return Decision(False, "default_denied", None, None)


def decide_all(vocabulary: Vocabulary, statements: Iterable[Statement]) -> dict[tuple[str, str], Decision]:
    """:func:`decide` for every (purpose, channel) of the vocabulary."""
    held = list(statements)
    return {(p, c): decide(vocabulary, held, p, c) for p in vocabulary.purposes for c in vocabulary.channels}


def load_vocabulary(path: Path) -> Vocabulary:
    """Read and validate ``conf/consents.yaml``."""
    return Vocabulary(validate_mapping(ConsentFile, read_yaml(path, ConsentConfigError), str(path), ConsentConfigError))
