"""``/v1/profiles/{ucid}/consents`` and ``/v1/contactability``: consents per purpose and channel.

Both read like a profile (scope ``profile:read``; a merged-away UCID answers for its survivor,
with the statements of every UCID merged into it) and are recorded in the audit trail before they
are answered. An unknown purpose or channel is a 422 naming the known ones (the OpenAPI schema
lists them as enums: :mod:`serving.openapi`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from identity.aliases import MAX_ALIAS_HOPS
from identity.consents import UnknownConsentTerm, Vocabulary
from identity.ucids import UCID_PATTERN
from serving import audit, consents, profile, resolver
from serving.auth import require
from serving.errors import invalid, not_found
from serving.models import Consents, Contactability
from serving.routes.common import AUTHED, problems
from serving.routes.profiles import Ucid
from serving.state import AppState, state_of

router = APIRouter(tags=["consents"])

CONSENTS_READ = "profile.consents"
CONTACTABILITY = "contactability"

Purpose = Annotated[str, Query(min_length=1, max_length=64, description="purpose, e.g. marketing (conf/consents.yaml)")]
Channel = Annotated[str, Query(min_length=1, max_length=64, description="channel, e.g. email (conf/consents.yaml)")]
UcidQuery = Annotated[str, Query(pattern=UCID_PATTERN, description="a UCID (live, or merged away)")]


def vocabulary_of(state: AppState) -> Vocabulary:
    if state.consents is None:  # create_app always sets it: a wiring bug
        raise RuntimeError("the app has no consent vocabulary")
    return state.consents


async def _held(state: AppState, ucid: str) -> tuple[resolver.Followed, list]:
    followed = await resolver.follow(state.require_store(), ucid, MAX_ALIAS_HOPS)
    if followed is None:
        raise not_found(f"no live customer for UCID {ucid}")
    store = state.require_store()
    members = await profile.members(store, followed.ucid, followed.merged_from)
    return followed, await consents.statements(store, members)


@router.get(
    "/v1/profiles/{ucid}/consents",
    response_model=Consents,
    responses=problems(*AUTHED, 404),
    dependencies=[require("profile:read")],
    summary="Consent statements and the decision per purpose and channel",
)
async def of_customer(request: Request, ucid: Ucid) -> dict:
    """Every consent statement of the customer (batch and speed, including UCIDs merged into it)
    and, for every purpose and channel, whether contact is allowed, why, and the statement the
    answer rests on (the latest by event time)."""
    state = state_of(request)
    followed, held = await _held(state, ucid)
    doc = consents.document(vocabulary_of(state), followed.ucid, held)
    await audit.record(request, followed.ucid, CONSENTS_READ, audit.VIA_UCID, requested=ucid)
    return doc


@router.get(
    "/v1/contactability",
    response_model=Contactability,
    responses=problems(*AUTHED, 404),
    dependencies=[require("profile:read")],
    summary="May this customer be contacted for a purpose on a channel?",
)
async def contactability(request: Request, ucid: UcidQuery, purpose: Purpose, channel: Channel) -> dict:
    """``allowed`` with the ``reason`` and the ``statement`` it rests on; without a statement the
    purpose's default (service: allowed on the contract; marketing, profiling: denied until an
    opt-in). 422 for an unknown purpose or channel."""
    state = state_of(request)
    vocabulary = vocabulary_of(state)
    try:
        vocabulary.check(purpose, channel)
    except UnknownConsentTerm as exc:
        raise invalid(str(exc)) from exc
    followed, held = await _held(state, ucid)
    answer = consents.contactability(vocabulary, followed.ucid, held, purpose, channel)
    await audit.record(request, followed.ucid, CONTACTABILITY, audit.VIA_UCID, requested=ucid)
    return answer
