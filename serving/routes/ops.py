"""Operations: liveness, readiness, Prometheus metrics, and the no-op baseline."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from infra.store.aio import StoreUnavailable
from serving import metrics
from serving.auth import Caller
from serving.models import Health, Noop, Problem, Ready
from serving.state import state_of

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health, summary="The process is up (no dependency checked)")
async def health() -> dict:
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=Ready,
    responses={503: {"model": Ready, "description": "Cassandra unreachable or the keyspace not migrated"}},
    summary="Cassandra answers and the keyspace is migrated",
)
async def ready(request: Request) -> Response:
    """200 when Cassandra answers and the serving tables exist, with the applied schema version;
    503 (with ``Retry-After``) otherwise."""
    state = state_of(request)
    body = {"cassandra": False, "keyspace": state.cassandra.keyspace}
    store = state.store
    if store is None:
        body.update(status="unavailable", detail=state.connect_error or "connecting")
        return _unready(body, state.serving.retry_after_s)
    try:
        version = await store.schema_version()
        await store.refresh_tables()
    except StoreUnavailable as exc:
        body.update(status="unavailable", detail=str(exc))
        return _unready(body, state.serving.retry_after_s)
    state.schema_version = version
    body.update(cassandra=True, schema_version=version, speed_layer_table=store.has_speed_updates)
    missing = sorted({"identifiers", "ucids", "ucid_aliases", "api_keys", "audit_by_ucid"} - store.tables)
    if missing:
        body.update(status="unavailable", detail=f"tables missing: {', '.join(missing)}; run `ucid stack up`")
        return _unready(body, state.serving.retry_after_s)
    return JSONResponse({**body, "status": "ready"})


def _unready(body: dict, retry_after_s: int) -> Response:
    return JSONResponse(Ready(**body).model_dump(), status_code=503, headers={"Retry-After": str(retry_after_s)})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
async def prometheus() -> Response:
    data, content_type = metrics.render()
    return Response(data, media_type=content_type)


@router.get(
    "/v1/noop",
    response_model=Noop,
    responses={401: {"model": Problem, "description": "no valid API key"},
               503: {"model": Problem, "description": "Cassandra unavailable"}},
    summary="Does nothing, behind the same auth: the baseline of the serving benchmark",
)
async def noop(_: Caller) -> dict:
    return {"ok": True}
