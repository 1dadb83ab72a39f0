"""``/v1/segments``: the segments of conf/segments.yaml with their sizes, and their members in
cursor pages; ``/v1/profiles/{ucid}/segments``: one customer's computed traits, segments and
recent membership changes (docs/segments.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from identity.aliases import MAX_ALIAS_HOPS
from identity.ucids import UCID_PATTERN
from serving import audit, resolver
from serving import segments as seg
from serving.auth import require
from serving.errors import invalid, not_found
from serving.models import ProfileSegments, SegmentList, SegmentMembersPage
from serving.routes.common import AUTHED, problems
from serving.state import AppState, state_of

router = APIRouter(tags=["segments"])

Ucid = Annotated[str, Path(pattern=UCID_PATTERN, description="a UCID (live, or merged away)")]
Name = Annotated[str, Path(max_length=100, description="a segment name of conf/segments.yaml")]
Limit = Annotated[int, Query(ge=1, le=1000, description="members per page (default 100, max UCID_SERVING_EVENTS_PAGE_MAX)")]
Cursor = Annotated[str | None, Query(max_length=512, description="`nextCursor` of the previous page")]


def _definitions(state: AppState):
    if state.segments is None:
        raise not_found("no segments are defined (conf/segments.yaml)")
    return state.segments


@router.get("/v1/segments", response_model=SegmentList, responses=problems(*AUTHED),
            dependencies=[require("segments:read")], summary="Segments with their member counts")
async def list_segments(request: Request) -> dict:
    """Every segment of conf/segments.yaml: name, description, and how many customers are in it
    now (both layers' memberships, as ``/v1/segments/{name}/members`` pages through them)."""
    state = state_of(request)
    defs = _definitions(state)
    store = state.require_store()
    out = []
    for name, definition in sorted(defs.segments.items()):
        out.append({"name": name, "description": definition.description, "members": await store.segment_count(name)})
    return {"segments": out}


@router.get("/v1/segments/{name}/members", response_model=SegmentMembersPage, responses=problems(*AUTHED, 404),
            dependencies=[require("segments:read")], summary="Members of a segment, in cursor pages")
async def members(request: Request, name: Name, limit: Limit = 100, cursor: Cursor = None) -> dict:
    """One page of the segment's members in UCID order; pass ``nextCursor`` back as ``cursor``
    for the next. A page shorter than ``limit`` is the last (``nextCursor`` absent). 404 for a
    segment not defined, 422 for a cursor this API did not issue."""
    state = state_of(request)
    defs = _definitions(state)
    if name not in defs.segments:
        raise not_found(f"no segment {name!r}: one of {', '.join(sorted(defs.segments))}")
    if limit > state.serving.events_page_max:
        raise invalid(f"limit {limit} is above the maximum {state.serving.events_page_max}")
    after = None
    if cursor:
        try:
            after = seg.decode_cursor(cursor)
        except seg.BadCursor as exc:
            raise invalid(str(exc)) from exc
    rows = await state.require_store().segment_members(name, after, limit)
    page = [{"ucid": r["ucid"], "since": r.get("since"), "layer": r.get("layer")} for r in rows]
    nxt = seg.encode_cursor(page[-1]["ucid"]) if len(page) == limit else None
    return {"segment": name, "members": page, "nextCursor": nxt}


@router.get("/v1/profiles/{ucid}/segments", response_model=ProfileSegments, responses=problems(*AUTHED, 404),
            dependencies=[require("profile:read")], summary="A customer's segments and computed traits")
async def profile_segments(request: Request, ucid: Ucid) -> dict:
    """The customer's segments (with when and by which layer each was last written), computed
    traits, and recent membership changes (entered / left, with the cause). A merged-away UCID
    answers with its survivor's."""
    state = state_of(request)
    followed = await resolver.follow(state.require_store(), ucid, MAX_ALIAS_HOPS)
    if followed is None:
        raise not_found(f"no live customer for UCID {ucid}")
    doc = await seg.section(state.require_store(), followed.ucid)
    await audit.record(request, followed.ucid, audit.PROFILE_SEGMENTS, audit.VIA_UCID, requested=ucid)
    return doc
