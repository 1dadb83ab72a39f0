"""API keys: ``ucid_<key id>_<secret>``, stored as the SHA-256 of the secret, with scopes.

The secret is 256 random bits, so a plain SHA-256 is enough to make a stolen ``api_keys`` table
useless (no password-style stretching is needed for a random token) and keeps the check cheap.
The full key is shown once, by ``ucid keys create``; it cannot be recovered from the table.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.store import Store

SCOPES = ("resolve", "profile:read", "explain", "privacy:read", "privacy:write", "console", "segments:read")
"""Scopes a key may hold: ``resolve`` (single and batch resolve), ``profile:read`` (360 profile,
timeline and contact history), ``explain`` (why two identifiers are one customer),
``privacy:read`` (the subject-access export: everything held about a person at once, which a
channel system answering one customer does not need), ``privacy:write`` (erasure: deletes a person
everywhere and suppresses their identifiers for good; give it to the privacy office's key only),
``console`` (the agent console at ``/console``: the page works only for a key holding it, and it
gates the console's own reads, the merge history and open triggers; the page also calls resolve,
the profile and explain, so an agent's key holds ``resolve``, ``profile:read``, ``explain`` and
``console``), ``segments:read`` (``/v1/segments``: the segments, their sizes and their members,
a bulk list of customers for a campaign tool; a customer's own segments are ``profile:read``)."""

_KEY = re.compile(r"^ucid_([0-9a-f]{16})_([A-Za-z0-9_-]{20,128})$")


class BadKey(ValueError):
    """A key that is malformed, unknown, or a scope that does not exist."""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One stored key (never the secret itself)."""

    key_id: str
    name: str
    scopes: frozenset[str]
    secret_hash: str
    created_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key() -> tuple[str, str, str]:
    """A fresh ``(key_id, secret, full key)``."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return key_id, secret, f"ucid_{key_id}_{secret}"


def parse(token: str) -> tuple[str, str]:
    """``(key_id, secret)`` of a presented key; raises :class:`BadKey` if it is not one."""
    match = _KEY.match(token.strip())
    if not match:
        raise BadKey("malformed API key: expected ucid_<16 hex>_<secret>")
    return match.group(1), match.group(2)


def matches(record: KeyRecord, secret: str) -> bool:
    """Constant-time check of ``secret`` against the stored hash."""
    return hmac.compare_digest(record.secret_hash, hash_secret(secret))


def check_scopes(scopes: list[str]) -> frozenset[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise BadKey(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    if not scopes:
        raise BadKey(f"a key needs at least one scope: {', '.join(SCOPES)}")
    return frozenset(scopes)


# -- management (blocking driver calls: used by the CLI and tests, not by the API) --------------


def create(store: Store, name: str, scopes: list[str]) -> tuple[KeyRecord, str]:
    """Store a new key; return its record and the full key (shown once, never stored)."""
    granted = check_scopes(scopes)
    key_id, secret, token = new_key()
    record = KeyRecord(key_id, name, granted, hash_secret(secret), datetime.now(UTC))
    store.one("put_api_key", key_id, record.secret_hash, name, set(granted), record.created_at)
    return record, token


def list_keys(store: Store) -> list[KeyRecord]:
    return sorted((record_of(r) for r in store.scan("all_api_keys")), key=lambda k: (k.name, k.key_id))


def revoke(store: Store, key_id: str) -> bool:
    """Mark a key revoked (kept for audit); ``False`` if no such key."""
    if store.one("get_api_key", key_id) is None:
        return False
    store.one("revoke_api_key", datetime.now(UTC), key_id)
    return True


def record_of(row) -> KeyRecord:
    """A :class:`KeyRecord` from an ``api_keys`` row (dict or named tuple)."""
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    return KeyRecord(
        key_id=get("key_id"),
        name=get("name") or "",
        scopes=frozenset(get("scopes") or ()),
        secret_hash=get("secret_hash") or "",
        created_at=get("created_at"),
        revoked_at=get("revoked_at"),
    )


class KeyCache:
    """key id -> (checked at, record or None when unknown)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, KeyRecord | None]] = {}

    async def get(self, store, key_id: str) -> KeyRecord | None:
        now = time.monotonic()
        hit = self._entries.get(key_id)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        row = await store.api_key(key_id)
        record = record_of(row) if row else None
        if len(self._entries) > 10_000:  # a flood of made-up key ids must not grow memory forever
            self._entries.clear()
        self._entries[key_id] = (now, record)
        return record
