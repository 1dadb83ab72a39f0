"""Who is calling: the ``X-API-Key`` header checked against ``api_keys``, then the scope.

A checked key is trusted in-process for ``UCID_SERVING_KEY_CACHE_TTL_S`` (30 s by default), so
the hot path costs no extra Cassandra read; a revocation therefore takes up to that long.
Answers 401 (no key, malformed, unknown, revoked) or 403 (valid key without the scope).

The key of a ``/v1`` call is checked by :class:`serving.gate.RequestGate` before the body is
read, and the record is left in the ASGI scope (``SCOPE_KEY``); :func:`caller` takes it from
there, and checks the key itself only when no gate ran (and leaves it there too: the audit trail,
:mod:`serving.audit`, reads the caller's key from the scope).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from serving import keys
from serving.errors import forbidden, unauthorized
from serving.state import AppState, state_of

HEADER = "X-API-Key"
SCOPE_KEY = "ucid.api_key"
"""ASGI scope entry holding the :class:`keys.KeyRecord` the gate checked."""
api_key_header = APIKeyHeader(
    name=HEADER, auto_error=False, description="API key from `ucid keys create`: ucid_<id>_<secret>"
)


async def authenticate(state: AppState, token: str | None) -> keys.KeyRecord:
    """The key record of ``token``; raises 401 when it is not a valid key."""
    if not token:
        raise unauthorized(f"missing API key: send it in the {HEADER} header")
    try:
        key_id, secret = keys.parse(token)
    except keys.BadKey as exc:
        raise unauthorized(str(exc)) from exc
    record = await state.key_cache.get(state.require_store(), key_id)
    if record is None or not keys.matches(record, secret):
        raise unauthorized("unknown API key")
    if not record.active:
        raise unauthorized(f"API key {key_id} was revoked")
    return record


async def caller(request: Request, token: Annotated[str | None, Security(api_key_header)]) -> keys.KeyRecord:
    """The key record of the caller (as the gate checked it); raises 401 when there is no valid key."""
    checked = request.scope.get(SCOPE_KEY)
    if checked is None:  # no gate ran: check it here, and leave it where the audit looks for it
        checked = request.scope[SCOPE_KEY] = await authenticate(state_of(request), token)
    return checked


Caller = Annotated[keys.KeyRecord, Depends(caller)]


def require(scope: str):
    """A dependency that lets the call through only for a key holding ``scope`` (else 403)."""
    if scope not in keys.SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    async def check(record: Caller) -> keys.KeyRecord:
        if scope not in record.scopes:
            has = ", ".join(sorted(record.scopes)) or "none"
            raise forbidden(f"API key {record.key_id} ({record.name}) lacks scope {scope!r} (has: {has})")
        return record

    return Depends(check)
