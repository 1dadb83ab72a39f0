"""``/v1/explain``: why two identifiers are the same customer.

Each customer of the answer (one, or two) is recorded in the audit trail (:mod:`serving.audit`)
before it is returned."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request

from identity.aliases import MAX_ALIAS_HOPS
from serving import audit, resolver
from serving import explain as explaining
from serving.auth import require
from serving.errors import invalid, not_found
from serving.models import TYPE_MAX, VALUE_MAX, Explanation
from serving.routes.common import AUTHED, problems, resolution
from serving.state import state_of

router = APIRouter(prefix="/v1", tags=["explain"])


def _q(description: str, max_length: int):
    return Query(min_length=1, max_length=max_length, description=description)


@router.get(
    "/explain",
    response_model=Explanation,
    responses=problems(*AUTHED, 404),
    dependencies=[require("explain")],
    summary="Explain why two identifiers are (or are not) one customer",
)
async def explain(
    request: Request,
    a_type: Annotated[str, _q("type of the first identifier", TYPE_MAX)],
    a_value: Annotated[str, _q("value of the first identifier", VALUE_MAX)],
    b_type: Annotated[str, _q("type of the second identifier", TYPE_MAX)],
    b_value: Annotated[str, _q("value of the second identifier", VALUE_MAX)],
) -> dict:
    """Both identifiers are resolved (404 if either is unknown); when they share a customer,
    ``chain`` is the shortest chain of accepted links between them, each with its rule (the
    identifier-type pair) and the source records holding both ends."""
    state = state_of(request)
    store = state.require_store()
    hops = MAX_ALIAS_HOPS
    answers = []
    for id_type, value in ((a_type, a_value), (b_type, b_value)):
        try:
            found = await resolver.resolve(store, state.policy, id_type, value, hops)
        except resolver.InvalidIdentifier as exc:
            raise invalid(str(exc)) from exc
        if found is None:
            raise not_found(f"no customer holds {id_type}:{value}")
        answers.append(found)
    a, b = answers
    steps, detail = await explaining.chain(store, a, b)
    answer = {
        "a": resolution(a),
        "b": resolution(b),
        "same_customer": a.followed.ucid == b.followed.ucid,
        "chain": steps,
        "detail": detail,
    }
    types_of: dict[str, list[str]] = {}  # one audit row per customer, with the types that led to it
    for found in answers:
        types_of.setdefault(found.followed.ucid, []).append(found.id_type)
    await asyncio.gather(*(audit.record(request, ucid, audit.EXPLAIN, audit.via_identifier(*types))
                           for ucid, types in types_of.items()))
    return answer
