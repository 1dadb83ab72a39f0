"""Pieces shared by the routes: documented error answers and the resolution shape."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from serving.models import TYPE_MAX, VALUE_MAX, Problem
from serving.resolver import Resolved

IdType = Annotated[str, Query(alias="type", min_length=1, max_length=TYPE_MAX, description="identifier type, e.g. email")]
IdValue = Annotated[str, Query(alias="value", min_length=1, max_length=VALUE_MAX,
                               description="raw value; the server normalizes it (422 with the reason if the type refuses it)")]


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses, all shaped as :class:`Problem`."""
    text = {
        401: "no valid API key",
        403: "the key lacks the scope",
        404: "no such customer",
        413: "request body over UCID_SERVING_MAX_BODY_BYTES (checked before the body is read)",
        422: "invalid input: unknown identifier type, a value the type refuses (invalid, blocked, placeholder, "
             "control or invisible character), bad parameter",
        503: "Cassandra unavailable; retry after the Retry-After seconds",
    }
    return {s: {"model": Problem, "description": text[s]} for s in statuses}


AUTHED = (401, 403, 422, 503)


def resolution(found: Resolved) -> dict:
    row = found.row
    return {
        "type": found.id_type,
        "value": found.value,
        "ucid": found.followed.ucid,
        "merged": bool(found.followed.merged_from),
        "merged_from": list(found.followed.merged_from),
        "source": row.get("source"),
        "first_seen": row.get("first_seen"),
        "last_seen": row.get("last_seen"),
        "layer": row.get("layer"),
    }
