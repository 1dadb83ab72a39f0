"""The audit trail (issue 16): every read of a customer's data is recorded before it is answered.

One row per answered read in ``audit_by_ucid`` (migration 007, append-only): the UCID served,
when (a timeuuid), what (:data:`PROFILE_READ`, :data:`PROFILE_EVENTS`, :data:`PROFILE_CONTACTS`,
:data:`EXPORT`, :data:`EXPLAIN`), which
API key (id and name), how the customer was addressed (``via``: ``ucid``, or
``identifier:<type>``, the type only and never the value: the trail holds nothing personal
besides the UCID) and, when a UCID merged away was asked for, that UCID (``requested_ucid``; the
row is under the survivor that was served).

The routes call :func:`record` after the answer is computed and before it is returned, and await
it: when the row cannot be written (Cassandra down, a keyspace without the table) the call is
answered 503 with the reason and nothing is served. A call answered 401 / 403 / 404 / 422 fails
before it and records nothing.

``/v1/resolve`` (single and batch) is not audited: it answers only the UCID of an identifier the
caller already holds, no data about the customer. ``ucid audit --ucid U`` lists the trail.
"""

from __future__ import annotations

from fastapi import Request

from infra.log import get_logger
from infra.store.aio import MissingTable, StoreUnavailable
from serving.auth import SCOPE_KEY
from serving.errors import unavailable
from serving.keys import KeyRecord
from serving.metrics import STORE_ERRORS
from serving.state import state_of

log = get_logger("serving.audit")

PROFILE_READ = "profile.read"
PROFILE_EVENTS = "profile.events"
PROFILE_CONTACTS = "profile.contacts"
PROFILE_SEGMENTS = "profile.segments"
EXPORT = "export"
EXPLAIN = "explain"
CONSOLE_HISTORY = "console.history"
VIA_UCID = "ucid"


def via_identifier(*types: str) -> str:
    """``identifier:<type>``: how a customer found by an identifier was addressed (the type only).
    An explain whose two identifiers lead to one customer gives both types, comma-separated."""
    if not types:
        raise ValueError("via_identifier needs at least one identifier type")
    return "identifier:" + ",".join(dict.fromkeys(types))


async def record(request: Request, ucid: str, action: str, via: str, requested: str | None = None) -> None:
    """Record that the caller of ``request`` is served ``action`` on customer ``ucid``.

    ``requested`` is the UCID the caller asked for; it is kept only when it differs from
    ``ucid`` (a UCID merged away). Raises a 503 :class:`~serving.errors.ApiError` with the reason
    when the row cannot be written.
    """
    key: KeyRecord | None = request.scope.get(SCOPE_KEY)
    if key is None:  # every audited route requires a scope, so the key was checked: a wiring bug
        raise RuntimeError(f"no checked API key for the audited call {request.url.path}")
    state = state_of(request)
    try:
        await state.require_store().record_access(
            ucid, action, key.key_id, key.name, via, requested if requested != ucid else None
        )
    except StoreUnavailable as exc:
        STORE_ERRORS.labels(type(exc.__cause__).__name__ if exc.__cause__ else "unavailable").inc()
        log.warning("audit write failed: nothing served", ucid=ucid, action=action, key_id=key.key_id,
                    error=str(exc))
        why = ("the keyspace has no audit_by_ucid table (migration 007): run `ucid stack up`"
               if isinstance(exc, MissingTable) else "Cassandra did not answer the audit write")
        raise unavailable(f"the read could not be recorded in the audit trail, so nothing is served: {why}",
                          state.serving.retry_after_s) from exc
