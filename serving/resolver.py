"""Identifier -> live UCID, the way the lambda contract says (rule 2).

One read answers: the writers keep the live UCID on the ``identifiers`` row (``status``
``live``, ``merged_from``; both layers re-point an identifier when its UCID is merged away and
mark it ``retired`` with its UCID). A row without a status (written before migration 004) is
followed through ``ucids`` with the identity core's :func:`~identity.aliases.follow`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from identity.rules import Policy
from infra.log import get_logger
from infra.store.aio import ApiReads, Row, follow_async

log = get_logger("serving.resolver")


class InvalidIdentifier(ValueError):
    """An identifier the API cannot look up: unknown type, or a value the type rejects."""

    def __init__(self, id_type: str, value: str, reason: str) -> None:
        super().__init__(f"{id_type}: {reason}")
        self.id_type = id_type
        self.value = value
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Followed:
    """Where a UCID leads: the live ``ucid`` and the ``merged_from`` chain walked to reach it
    (first = the UCID asked for)."""

    ucid: str
    merged_from: tuple[str, ...]


@dataclass(slots=True)
class Resolved:
    """An identifier found: its normalized ``value``, its ``identifiers`` row and where it leads."""

    id_type: str
    value: str
    row: Row
    followed: Followed
    extra: dict[str, Any] = field(default_factory=dict)


def normalize(policy: Policy, id_type: str, raw: str) -> str:
    """The value the identity core stores for ``raw``; raises :class:`InvalidIdentifier` for an
    unknown type, a blank value, an invalid value or a blocked value, with the core's reason."""
    ctype = policy.types.get(id_type)
    if ctype is None:
        known = ", ".join(sorted(policy.types))
        raise InvalidIdentifier(id_type, raw, f"unknown identifier type {id_type!r} (known: {known})")
    value, rejection = ctype.accept(raw)
    if rejection is not None:
        raise InvalidIdentifier(id_type, raw, f"{rejection.kind} value: {rejection.reason}")
    if value is None:
        raise InvalidIdentifier(id_type, raw, "empty value")
    return value


async def follow(store: ApiReads, ucid: str, max_hops: int) -> Followed | None:
    """Follow ``ucid`` to the live UCID it stands for (the identity core's semantics), or
    ``None``: never issued, retired, or a broken chain (logged as an error)."""
    followed = await follow_async(store, ucid, max_hops)
    if followed.outcome in ("broken", "cycle", "too_long"):
        log.error("broken ucid chain", ucid=ucid, outcome=followed.outcome, chain=list(followed.chain))
    if followed.ucid is None:
        return None
    return Followed(followed.ucid, followed.chain)


async def resolve(store: ApiReads, policy: Policy, id_type: str, raw: str, max_hops: int) -> Resolved | None:
    """Normalize and look up one identifier; ``None`` when no live customer holds it.

    Raises :class:`InvalidIdentifier` before any read when the value cannot be an identifier.
    """
    value = normalize(policy, id_type, raw)
    row = await store.identifier(id_type, value)
    if row is None or not row.get("ucid"):
        return None
    if row.get("status") == "retired":
        return None
    if row.get("status") == "live":  # the writers keep the live UCID on the row: one read
        return Resolved(id_type, value, row, Followed(row["ucid"], tuple(row.get("merged_from") or ())))
    followed = await follow(store, row["ucid"], max_hops)
    if followed is None:
        return None
    return Resolved(id_type, value, row, followed)
