"""Identifier -> live UCID, the way the lambda contract says (rule 2).

``identifiers`` gives the UCID an identifier was last assigned to; that UCID is followed
through ``ucids`` / ``ucid_aliases`` until one with status ``live``. A UCID the speed layer merged
after the batch snapshot therefore answers with its survivor even though the batch wrote
identifiers pointing at the loser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from identity.rules import Policy
from serving.store import Row, Store
from infra.log import get_logger

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
    """Where a UCID leads: the live ``ucid``, the ``merged_from`` chain walked to reach it
    (first = the UCID asked for), and the live UCID's ``ucids`` row."""

    ucid: str
    merged_from: tuple[str, ...]
    row: Row


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


async def follow(store: Store, ucid: str, max_hops: int) -> Followed | None:
    """Follow ``ucid`` to the live UCID it stands for, or ``None`` (never issued, retired, or a
    broken chain: a cycle, a missing row or more than ``max_hops`` hops, logged as an error)."""
    chain: list[str] = []
    current = ucid
    for _ in range(max_hops + 1):
        row = await store.ucid(current)
        status = (row or {}).get("status")
        if status == "live":
            return Followed(current, tuple(chain), row)  # type: ignore[arg-type]
        if status == "retired":
            return None
        alias = await store.alias(current)
        target = (alias or {}).get("ucid") or (row or {}).get("merged_into")
        if target is None:
            if row is not None or chain:
                log.error("broken ucid chain", ucid=ucid, at=current, status=status, chain=chain)
            return None
        chain.append(current)
        if target in chain:
            log.error("ucid alias cycle", ucid=ucid, chain=chain)
            return None
        current = target
    log.error("ucid alias chain too long", ucid=ucid, chain=chain, max_hops=max_hops)
    return None


async def resolve(store: Store, policy: Policy, id_type: str, raw: str, max_hops: int) -> Resolved | None:
    """Normalize and look up one identifier; ``None`` when no live customer holds it.

    Raises :class:`InvalidIdentifier` before any read when the value cannot be an identifier.
    """
    value = normalize(policy, id_type, raw)
    row = await store.identifier(id_type, value)
    if row is None or not row.get("ucid"):
        return None
    followed = await follow(store, row["ucid"], max_hops)
    if followed is None:
        return None
    return Resolved(id_type, value, row, followed)
