"""The agent console: the page at ``/console`` (static files, no build step) and its own reads.

The page and its assets are public: they hold no data. Everything the page shows comes from
``/v1`` calls carrying the agent's key, which must hold :data:`NEEDS`: ``console`` (checked by the
page through ``/v1/console/session``, and required by the console's own read below), and the
scopes of the existing endpoints it calls (``resolve``, ``profile:read``, ``explain``).

* ``GET /v1/console/session``: the key's name and scopes, the scopes it lacks, and the identifier
  types a search may try (not audited: no customer data);
* ``GET /v1/console/customers/{ucid}/history``: the merge history and open triggers of a customer
  (audited as ``console.history`` before it is answered).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from serving import audit, profile, triggers
from serving.auth import Caller, require
from serving.export import change_json
from serving.models import ConsoleHistory, ConsoleSession
from serving.routes.common import AUTHED, problems
from serving.routes.profiles import Ucid, follow_live
from serving.state import state_of

PAGE_DIR = Path(__file__).resolve().parents[1] / "console"
NEEDS = ("console", "resolve", "profile:read", "explain")
# the page loads only its own files and talks only to this server; nothing inline runs
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

router = APIRouter(tags=["console"])


@router.get("/console", include_in_schema=False)
async def page() -> FileResponse:
    """The console page (public: it holds no data; the agent's key is asked for in the page)."""
    return FileResponse(PAGE_DIR / "index.html", media_type="text/html",
                        headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache",
                                 "X-Content-Type-Options": "nosniff"})


@router.get(
    "/v1/console/session",
    response_model=ConsoleSession,
    responses=problems(401, 403, 503),
    dependencies=[require("console")],
    summary="The agent console's check of its key: scopes held and lacking, identifier types",
)
async def session(request: Request, key: Caller) -> dict:
    """Answers for a key holding ``console`` (403 otherwise): ``missing`` lists the other scopes
    the console's calls need (``resolve``, ``profile:read``, ``explain``) that the key lacks."""
    return {"keyId": key.key_id, "name": key.name, "scopes": sorted(key.scopes),
            "missing": [s for s in NEEDS if s not in key.scopes],
            "identifierTypes": list(state_of(request).policy.types)}


@router.get(
    "/v1/console/customers/{ucid}/history",
    response_model=ConsoleHistory,
    responses=problems(*AUTHED, 404),
    dependencies=[require("console")],
    summary="Merge history and open triggers of a customer (the agent console's read)",
)
async def history(request: Request, ucid: Ucid) -> dict:
    """The identity changes (merges, retirements) of the customer and of every UCID merged into
    it, newest first, and its open triggers: absence rules waiting for their due time, and rules
    fired in a window not over yet (:mod:`serving.triggers`). A merged-away UCID answers for its
    survivor."""
    state = state_of(request)
    followed = await follow_live(state, ucid)
    store = state.require_store()
    ucids = await profile.members(store, followed.ucid, followed.merged_from)
    changes, open_now = await asyncio.gather(
        asyncio.gather(*(store.changes(u) for u in ucids)),
        triggers.open_triggers(store, list(state.trigger_rules), list(state.trigger_shards), ucids,
                               datetime.now(UTC)),
    )
    rows = sorted((r for part in changes for r in part), key=lambda r: r.get("changed_at") or datetime.min,
                  reverse=True)
    answer = {"ucid": followed.ucid, "requested": ucid, "ucids": ucids,
              "identityChanges": [change_json(r) for r in rows], "triggers": open_now}
    await audit.record(request, followed.ucid, audit.CONSOLE_HISTORY, audit.VIA_UCID, requested=ucid)
    return answer


def install(app: FastAPI) -> None:
    """Serve the page's script and style at ``/console/assets`` (the page itself is a route)."""
    app.mount("/console/assets", StaticFiles(directory=PAGE_DIR / "assets"), name="console-assets")
