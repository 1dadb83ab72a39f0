"""Resolve an identifier to its live UCID the way the contract says (identifiers -> ucid ->
follow merges), with the identity core's normalization. Used by ``ucid speed profile``, tests
and the benchmark."""

from __future__ import annotations

from identity.rules import Policy

from speed.store import Store

MAX_HOPS = 16


def live_ucid(store: Store, ucid: str) -> str | None:
    """Follow ``ucids.merged_into`` / ``ucid_aliases`` to a live UCID; None if none."""
    current = ucid
    for _ in range(MAX_HOPS):
        row = store.one("get_ucid", current)
        if row is None:
            return None
        if row.status == "live":
            return current
        target = row.merged_into
        if not target:
            alias = store.one("get_alias", current)
            target = alias.ucid if alias else None
        if not target:
            return None
        current = target
    return None


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
    return live_ucid(store, row.ucid) if row else None
