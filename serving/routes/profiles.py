"""``/v1/profiles``: the 360 document by UCID or by any identifier, the event timeline, the
contact history, and the subject-access export.

Every answer is recorded in the audit trail (:mod:`serving.audit`) before it is returned."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from identity.aliases import MAX_ALIAS_HOPS
from identity.ucids import UCID_PATTERN
from identity.contacts import CHANNELS, DIRECTIONS
from serving import audit, profile, resolver, timeline
from serving import contacts as contact_history
from serving.export import export as export_document
from serving.auth import require
from infra.store.aio import StoreUnavailable
from serving.errors import invalid, not_found, unavailable
from serving.erasure import erase as erase_person
from serving.keys import KeyRecord
from serving.auth import SCOPE_KEY
from serving.models import ContactsPage, Customer360, ErasureReceipt, EventsPage, SubjectExport
from serving.routes.common import AUTHED, IdType, IdValue, problems
from serving.state import AppState, state_of

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])

Ucid = Annotated[str, Path(pattern=UCID_PATTERN, description="a UCID (live, or merged away)")]
Limit = Annotated[int | None, Query(ge=1, le=1000, description="events per page (default 20, max UCID_SERVING_EVENTS_PAGE_MAX)")]
Channel = Annotated[Literal[CHANNELS] | None, Query(description="only contacts on this channel")]  # type: ignore[valid-type]
Direction = Annotated[Literal[DIRECTIONS] | None, Query(description="only contacts in this direction")]  # type: ignore[valid-type]
Cursor = Annotated[str | None, Query(max_length=512, description="`nextCursor` of the previous page")]


def _limit(state: AppState, asked: int | None) -> int:
    limit = asked or state.serving.events_page_default
    if limit > state.serving.events_page_max:
        raise invalid(f"limit {limit} is above the maximum {state.serving.events_page_max}")
    return limit


async def _document(state: AppState, followed: resolver.Followed, requested: str, limit: int | None, cursor: str | None) -> dict:
    try:
        return await profile.document(
            state.require_store(), followed, requested, _limit(state, limit), cursor,
            MAX_ALIAS_HOPS, state.schema_version,
        )
    except timeline.BadCursor as exc:
        raise invalid(str(exc)) from exc


async def follow_live(state: AppState, ucid: str) -> resolver.Followed:
    """The live customer ``ucid`` leads to (itself, or the survivor of a merge); 404 if none."""
    followed = await resolver.follow(state.require_store(), ucid, MAX_ALIAS_HOPS)
    if followed is None:
        raise not_found(f"no live customer for UCID {ucid}")
    return followed


@router.get(
    "/by-identifier",
    response_model=Customer360,
    responses=problems(*AUTHED, 404),
    dependencies=[require("profile:read")],
    summary="360 profile of the customer holding an identifier",
)
async def by_identifier(
    request: Request, id_type: IdType, value: IdValue, limit: Limit = None, cursor: Cursor = None
) -> dict:
    """The customer document of whoever holds ``type:value`` now (normalized as in resolve)."""
    state = state_of(request)
    try:
        found = await resolver.resolve(state.require_store(), state.policy, id_type, value, MAX_ALIAS_HOPS)
    except resolver.InvalidIdentifier as exc:
        raise invalid(str(exc)) from exc
    if found is None:
        raise not_found(f"no customer holds {id_type}:{value}")
    doc = await _document(state, found.followed, f"{id_type}:{found.value}", limit, cursor)
    await audit.record(request, found.followed.ucid, audit.PROFILE_READ, audit.via_identifier(found.id_type))
    return doc


@router.get(
    "/{ucid}",
    response_model=Customer360,
    responses=problems(*AUTHED, 404),
    dependencies=[require("profile:read")],
    summary="360 profile by UCID",
)
async def by_ucid(request: Request, ucid: Ucid, limit: Limit = None, cursor: Cursor = None) -> dict:
    """The rationalized customer document: ``_id``, ``platformHeader`` (versions, freshness of the
    batch and speed parts), ``identity``, ``profile``, consents, preferences, traits and one page
    of ``events``. A merged-away UCID answers with its survivor's document (``_id.merged``)."""
    state = state_of(request)
    followed = await follow_live(state, ucid)
    doc = await _document(state, followed, ucid, limit, cursor)
    await audit.record(request, followed.ucid, audit.PROFILE_READ, audit.VIA_UCID, requested=ucid)
    return doc


@router.get(
    "/{ucid}/events",
    response_model=EventsPage,
    responses=problems(*AUTHED, 404),
    dependencies=[require("profile:read")],
    summary="Event timeline of a customer, newest first",
)
async def events(request: Request, ucid: Ucid, limit: Limit = None, cursor: Cursor = None) -> dict:
    """One page of the customer's events (including those recorded under UCIDs merged into it);
    pass ``nextCursor`` back as ``cursor`` for the next, older page."""
    state = state_of(request)
    page_size = _limit(state, limit)
    if cursor:
        try:
            timeline.decode_cursor(cursor)
        except timeline.BadCursor as exc:
            raise invalid(str(exc)) from exc
    followed = await follow_live(state, ucid)
    store = state.require_store()
    ucids = await profile.members(store, followed.ucid, followed.merged_from)
    rows, nxt = await timeline.page(store, ucids, page_size, cursor)
    page = {"events": profile.events(rows), "nextCursor": nxt}
    await audit.record(request, followed.ucid, audit.PROFILE_EVENTS, audit.VIA_UCID, requested=ucid)
    return page


@router.get(
    "/{ucid}/contacts",
    response_model=ContactsPage,
    responses=problems(*AUTHED, 404),
    dependencies=[require("profile:read")],
    summary="Contact history of a customer, newest first",
)
async def contacts(request: Request, ucid: Ucid, channel: Channel = None, direction: Direction = None,
                   limit: Limit = None, cursor: Cursor = None) -> dict:
    """One page of the customer's contacts -- outbound (e-mail campaigns with the responses),
    inbound (web / app sessions), assisted (contact-center calls and chats with their outcome) --
    from every UCID merged into it, with the speed layer's events since the batch snapshot folded
    in; optionally on one ``channel`` / in one ``direction``. Pass ``nextCursor`` back as ``cursor``
    for the next, older page."""
    state = state_of(request)
    page_size = _limit(state, limit)
    if cursor:
        try:
            timeline.decode_cursor(cursor)
        except timeline.BadCursor as exc:
            raise invalid(str(exc)) from exc
    followed = await follow_live(state, ucid)
    store = state.require_store()
    ucids = await profile.members(store, followed.ucid, followed.merged_from)
    _, updates = await profile.batch_and_speed(store, followed.ucid, ucids)
    history = await contact_history.history(store, ucids, updates)
    chosen, nxt = contact_history.page(history, page_size, cursor, channel, direction)
    answer = {"contacts": [contact_history.as_json(c) for c in chosen], "nextCursor": nxt}
    await audit.record(request, followed.ucid, audit.PROFILE_CONTACTS, audit.VIA_UCID, requested=ucid)
    return answer


@router.get(
    "/{ucid}/export",
    response_model=SubjectExport,
    responses=problems(*AUTHED, 404),
    dependencies=[require("privacy:read")],
    summary="Subject access: everything held about a customer, in one document",
)
async def export(request: Request, ucid: Ucid) -> dict:
    """Every identifier (with source and first / last seen), the profile, consents, the whole
    timeline and contact history, the identity changes and links of the customer, across every
    UCID merged into it (``ucid privacy export`` gives the same document). Needs the
    ``privacy:read`` scope."""
    state = state_of(request)
    followed = await follow_live(state, ucid)
    doc = await export_document(state.require_store(), followed, ucid, MAX_ALIAS_HOPS, state.schema_version)
    await audit.record(request, followed.ucid, audit.EXPORT, audit.VIA_UCID, requested=ucid)
    return doc


@router.delete(
    "/{ucid}",
    status_code=202,
    response_model=ErasureReceipt,
    responses=problems(*AUTHED, 404),
    dependencies=[require("privacy:write")],
    summary="Erasure: delete a customer and suppress their identifiers for good",
)
async def erase(request: Request, ucid: Ucid) -> dict:
    """Erase the customer (a merged-away UCID erases its survivor, with every UCID merged into it)
    from the serving store at once, and put every identifier and UCID of theirs on the suppression
    list, so neither layer brings them back (a replayed topic, a re-delivered extract). Answers 202
    with the receipt: the Delta tables and landing files are cleaned by the lake step (``ucid
    privacy finish``, see ``pending``). Needs the ``privacy:write`` scope; recorded in the audit
    trail (action ``erasure``)."""
    state = state_of(request)
    followed = await follow_live(state, ucid)
    key: KeyRecord = request.scope[SCOPE_KEY]
    try:
        return await erase_person(state.require_store(), followed, ucid, MAX_ALIAS_HOPS, state.suppression_key,
                                  key.key_id, key.name, audit.VIA_UCID,
                                  segments=tuple(sorted(state.segments.segments)) if state.segments else ())
    except StoreUnavailable as exc:
        raise unavailable(f"the erasure did not complete ({exc}); repeat it", state.serving.retry_after_s) from exc
