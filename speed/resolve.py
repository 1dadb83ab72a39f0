"""Resolve an identifier to its live UCID the way the contract says (identifiers -> ucid ->
follow merges with the identity core's :func:`~identity.aliases.follow`), with the identity
core's normalization. Used by ``ucid speed profile``, tests and the benchmark."""

from __future__ import annotations

from identity.rules import Policy
from infra.store import Store


def live_ucid(store: Store, ucid: str) -> str | None:
    """The live UCID ``ucid`` leads to; None if none (retired, never issued, broken chain)."""
    return store.follow(ucid).ucid


def resolve_identifier(store: Store, policy: Policy, text: str) -> str | None:
    """``type:raw value`` -> live UCID (None if unknown or invalid); a bare ``U...`` is a UCID."""
    if ":" not in text:
        return live_ucid(store, text)
    type_name, raw = text.split(":", 1)
    ctype = policy.types.get(type_name)
    if ctype is None:
        return None
    ident, kind, _ = ctype.verdict(raw)
    if ident is None or kind is not None:
        return None
    row = store.one("get_identifier", ident[0], ident[1])
    if row is None or row.status == "retired":
        return None
    if row.status == "live":
        return row.ucid
    return live_ucid(store, row.ucid)
