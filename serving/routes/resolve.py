"""``/v1/resolve``: identifier -> UCID, one at a time or in batches."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from identity.aliases import MAX_ALIAS_HOPS
from serving import resolver
from serving.auth import require
from serving.errors import invalid, not_found
from serving.models import (
    BatchItem,
    BatchResolveIn,
    BatchResolveOut,
    IdentifierIn,
    Resolution,
)
from serving.routes.common import AUTHED, IdType, IdValue, problems, resolution
from serving.state import state_of

router = APIRouter(prefix="/v1", tags=["resolve"])


@router.get(
    "/resolve",
    response_model=Resolution,
    responses=problems(*AUTHED, 404),
    dependencies=[require("resolve")],
    summary="Resolve one identifier to its UCID",
)
async def resolve_one(request: Request, id_type: IdType, value: IdValue) -> dict:
    """Normalize ``value`` with the identity core's rules for ``type`` and answer the live UCID
    that holds it. A UCID merged away answers with its survivor, ``merged: true`` and the alias
    chain in ``merged_from``. 422 for an unknown type or a value the type rejects (invalid or
    blocked, with the reason); 404 when no customer holds it."""
    state = state_of(request)
    try:
        found = await resolver.resolve(
            state.require_store(), state.policy, id_type, value, MAX_ALIAS_HOPS
        )
    except resolver.InvalidIdentifier as exc:
        raise invalid(str(exc)) from exc
    if found is None:
        raise not_found(f"no customer holds {id_type}:{value}")
    return resolution(found)


@router.post(
    "/resolve/batch",
    response_model=BatchResolveOut,
    responses=problems(*AUTHED, 413),
    dependencies=[require("resolve")],
    summary="Resolve many identifiers in one call",
)
async def resolve_batch(request: Request, body: BatchResolveIn) -> dict:
    """Resolve up to ``UCID_SERVING_BATCH_MAX`` identifiers (default 100; more is a 422). Every
    identifier gets an answer in request order: ``found``, ``not_found`` or ``invalid`` with the
    reason, so one bad value never fails the whole batch."""
    state = state_of(request)
    limit = state.serving.batch_max
    if len(body.identifiers) > limit:
        raise invalid(f"{len(body.identifiers)} identifiers in one call; the maximum is {limit}")
    store = state.require_store()
    unique = list(dict.fromkeys((i.type, i.value) for i in body.identifiers))

    async def one(key: tuple[str, str]) -> BatchItem:
        id_type, value = key
        try:
            found = await resolver.resolve(store, state.policy, id_type, value, MAX_ALIAS_HOPS)
        except resolver.InvalidIdentifier as exc:
            return BatchItem(type=id_type, value=value, status="invalid", detail=str(exc))
        if found is None:
            return BatchItem(type=id_type, value=value, status="not_found")
        return BatchItem(type=id_type, value=value, status="found", resolution=Resolution(**resolution(found)))

    answers = dict(zip(unique, await asyncio.gather(*(one(k) for k in unique)), strict=True))
    results = [answers[(i.type, i.value)] for i in body.identifiers]
    counts = {s: sum(1 for r in results if r.status == s) for s in ("found", "not_found", "invalid")}
    return {"results": results, **counts}


__all__ = ["router", "IdentifierIn"]
