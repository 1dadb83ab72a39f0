"""The suppression list of erased people: keyed hashes of their identifiers and UCIDs.

An erasure (docs/privacy.md) deletes a person's rows everywhere it can, but it cannot edit the
Kafka topic, an extract a source system delivers again, or a landing file copied elsewhere. What
keeps the person from coming back is this list: for every identifier the person held, and every
UCID they had, one hash; both layers drop what carries any of them (the speed layer an event, the
batch a record) before it can link or mint.

The hash is ``HMAC-SHA256(key, "<type>:<normalized value>")`` in hex, not a plain or salted
SHA-256: the identifier space is small (phone numbers, e-mails in a leaked list), so anyone who
could read the table could hash every candidate and find out who was erased; without the key
(``UCID_PRIVACY_SUPPRESSION_KEY``, kept out of Cassandra) they cannot. The key must be the same
for every layer and never change while the list is in use: a changed key makes every stored hash
miss.

Values are normalized by the identity core first (:func:`identity.records.normalize_record` with
the rules in force), so ``Ann@X.com`` and ``ann@x.com`` are one hash, exactly as they are one
identifier. Identifiers the rules refuse (invalid, blocked, hidden characters) never link or mint
and are not looked at. Pure Python: no store, no Spark, no Kafka.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Iterable

from identity.records import Record, normalize_record
from identity.rules import Policy
from identity.types import Identifier

UCID_TYPE = "ucid"
"""The type under which an erased UCID is hashed (``ucid:<UCID>``): no identifier type has it."""


def identifier_hash(key: bytes, id_type: str, value: str) -> str:
    """The hex HMAC-SHA256 of ``"<id_type>:<value>"`` under ``key``; ``value`` must already be
    normalized (use :func:`record_hashes` for raw values)."""
    return hmac.new(key, f"{id_type}:{value}".encode(), hashlib.sha256).hexdigest()


def ucid_hash(key: bytes, ucid: str) -> str:
    """The hash of an erased UCID."""
    return identifier_hash(key, UCID_TYPE, ucid)


def hashes(key: bytes, identifiers: Iterable[Identifier]) -> set[str]:
    """The hashes of normalized ``(type, value)`` identifiers."""
    return {identifier_hash(key, t, v) for t, v in identifiers}


def record_hashes(key: bytes, record: Record, policy: Policy) -> set[str]:
    """The hashes of every identifier ``record`` would link through once normalized by the
    identity core (refused values left out, as they never link)."""
    normalized, _ = normalize_record(record, policy)
    return hashes(key, normalized.identifiers)


def suppressed(candidate_hashes: Iterable[str], suppression: Collection[str]) -> bool:
    """Whether any of ``candidate_hashes`` is on the ``suppression`` list."""
    return any(h in suppression for h in candidate_hashes)


def record_suppressed(key: bytes, record: Record, policy: Policy, suppression: Collection[str]) -> bool:
    """Whether ``record`` carries an identifier of an erased person (the check both layers run)."""
    return bool(suppression) and suppressed(record_hashes(key, record, policy), suppression)
