"""Consent statements in the speed layer: written per applied event, read back for triggers.

Each applied event's statements (:meth:`identity.consents.Vocabulary.event_statements`: the
consent attributes of a ``consent_change``, the opt-out an ``email_unsubscribe`` is) become rows
of ``consent_statements`` (migration 009) keyed by their content, so a replay writes the same rows
and the batch publishes the same rows for the same events. The source of a statement is the
event's ``source`` (the emitting system), its time the event time.

A trigger rule that names a purpose and channel fires only for a customer whose decision
(:func:`identity.consents.decide` over the statements of the UCID and of the UCIDs merged into
it) allows it; the decision is taken on every statement known when the trigger is emitted, so an
opt-out applied before then stops it, whatever its event time.
"""

from __future__ import annotations

from typing import Any

from identity.consents import Decision, Statement, Vocabulary, decide
from infra.store import Store, ms, ts
from speed.contract import Event
from speed.profile_store import aliases_of
from speed.triggers import TriggerRule


def consent_writes(vocabulary: Vocabulary, ucid: str, event: Event, now_ms: int) -> list[tuple[str, tuple]]:
    """The ``put_consent`` writes of one applied event of ``ucid`` (none for most events)."""
    return [("put_consent", (ucid, s.purpose, s.channel, ts(s.time_ms), s.source, s.status, s.legal_basis,
                             ts(now_ms)))
            for s in vocabulary.event_statements(event.type, event.attributes, event.source, event.time_ms)]


def statement_of(row: Any) -> Statement:
    """A ``consent_statements`` row (driver row or dict) as a :class:`Statement`."""
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    return Statement(get("purpose"), get("channel"), get("status"), get("source"), ms(get("event_time")),
                     get("legal_basis"))


def read_statements(store: Store, ucid: str) -> list[Statement]:
    """Every statement of ``ucid`` and of the UCIDs merged into it."""
    return [statement_of(r) for u in aliases_of(store, ucid) for r in store.all("get_consents", u)]


def check_rules(vocabulary: Vocabulary, rules: list[TriggerRule]) -> None:
    """Raise ``UnknownConsentTerm`` if a rule names a purpose or channel outside the vocabulary."""
    for rule in rules:
        if rule.purpose is not None:
            vocabulary.check(rule.purpose, rule.channel or "")


def trigger_decision(store: Store, vocabulary: Vocabulary, rule: TriggerRule, ucid: str) -> Decision | None:
    """The consent decision a fire of ``rule`` for ``ucid`` rests on; ``None`` for a rule that
    names no purpose (it needs none: not a contact of the customer)."""
    if rule.purpose is None or rule.channel is None:
        return None
    return decide(vocabulary, read_statements(store, ucid), rule.purpose, rule.channel)
