"""The FastAPI application: ``create_app()`` builds it, its lifespan opens the one Cassandra
session. Nothing connects at import time.

Errors are answered as :class:`serving.models.Problem` JSON: 401 / 403 auth, 404 unknown
customer, 413 body too large, 422 bad input (never a 500), 503 with ``Retry-After`` when
Cassandra is unavailable. The key and the body size are checked before any body is read
(:mod:`serving.gate`).
An unexpected exception is logged with its traceback and answered as a 500 Problem.
"""

from __future__ import annotations

import asyncio
import gc
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from identity.consents import load_vocabulary
from identity.rules import Policy, load_policy
from infra.log import configure, get_logger
from infra.settings import CassandraSettings, ServingSettings, get_settings
from infra.store.aio import AsyncStore, StoreUnavailable
from serving import openapi, triggers
from serving.errors import ApiError, problem
from serving.gate import RequestGate
from serving.keys import KeyCache
from serving.metrics import IDENTIFIER_READS, STORE_ERRORS, MetricsMiddleware
from serving.models import API_VERSION
from serving.routes import console, consents, explain, ops, profiles, resolve, segments
from serving.state import AppState

log = get_logger("serving.app")

DESCRIPTION = """\
Channel systems ask ucid "who is this, and what do we know about them?".

* **resolve** an identifier (type, value) to its unique customer id (UCID), one or many at once;
* read the **360 profile** (the rationalized customer document) by UCID or by any identifier;
* **explain** why two identifiers are the same customer.

Answers combine the batch view with the speed layer's newer writes. Every profile, timeline
and explain answer is recorded in an audit trail (API key, UCID, what, when; never an identifier
value) before it is returned: if it cannot be recorded, the call is answered 503. Every `/v1`
call needs an API key (`X-API-Key` header) with the call's scope: `resolve`, `profile:read`,
`explain`, `privacy:read`, or `console` (the agent console's own reads; the page is at `/console`).
The key is checked before the request body is read. Errors are JSON `{"error", "detail"}`:
401, 403, 404, 413 (body over `UCID_SERVING_MAX_BODY_BYTES`), 422 (a value the schema allows
but the identity core refuses says why: invalid, blocked, placeholder, control character), and
503 with `Retry-After`.
"""


async def _connect(state: AppState) -> bool:
    loop = asyncio.get_running_loop()
    try:
        store = await loop.run_in_executor(None, AsyncStore.connect, state.cassandra, state.serving)
        state.schema_version = await store.schema_version()
    except StoreUnavailable as exc:
        state.connect_error = str(exc)
        log.warning("cassandra not reachable yet", error=str(exc),
                    retry_in_s=state.serving.reconnect_interval_s)
        return False
    if store.coalescer is not None:
        store.coalescer.on_fetch = IDENTIFIER_READS.observe
    state.store, state.connect_error = store, None
    return True


async def _keep_connecting(state: AppState) -> None:
    while not await _connect(state):
        await asyncio.sleep(state.serving.reconnect_interval_s)


@asynccontextmanager
async def lifespan(app: FastAPI):
    """Open the Cassandra session once per process; if Cassandra is down, keep trying in the
    background while the API answers 503 (``/health`` stays 200, ``/ready`` 503)."""
    state: AppState = app.state.ucid
    task = None
    injected = state.store is not None
    if not injected and not await _connect(state):
        task = asyncio.create_task(_keep_connecting(state))
    # what exists now (app, rules, phone metadata, driver) lives as long as the process: keep it
    # out of the collector's scans, or every full collection (~50 ms here) stalls a request
    gc.freeze()
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
        if state.store is not None and not injected:
            await asyncio.get_running_loop().run_in_executor(None, state.store.close)
            state.store = None


def _install_handlers(app: FastAPI, serving: ServingSettings) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return problem(exc.status, exc.code, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        return problem(422, "invalid_request", errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body that is not JSON (FastAPI's 400): bad input, so 422
            return problem(422, "invalid_request", exc.detail)
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status_code, "http_error")
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # every route of the path, not only the first one matched
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return problem(exc.status_code, code, exc.detail, headers)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        STORE_ERRORS.labels(type(exc.__cause__).__name__ if exc.__cause__ else "unavailable").inc()
        log.warning("cassandra unavailable", path=request.url.path, error=str(exc))
        retry = serving.retry_after_s
        return problem(503, "unavailable", f"Cassandra did not answer; retry in {retry} s",
                        {"Retry-After": str(retry)})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", path=request.url.path)
        return problem(500, "internal_error", "unexpected server error (logged)")


def create_app(
    serving: ServingSettings | None = None,
    cassandra: CassandraSettings | None = None,
    policy: Policy | None = None,
    store: AsyncStore | None = None,
) -> FastAPI:
    """The API, configured from settings (or the given objects; ``store`` skips connecting)."""
    settings = get_settings()
    configure(settings.log_level, settings.log_format)
    serving = serving or settings.serving
    cassandra = cassandra or settings.cassandra
    policy = policy or load_policy(settings.conf_dir / "rules.yaml")
    app = FastAPI(
        title="ucid serving API",
        version=f"1.0.0 ({API_VERSION})",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    vocabulary = load_vocabulary(settings.conf_dir / "consents.yaml")
    state = AppState(serving, cassandra, policy, KeyCache(serving.key_cache_ttl_s), store=store, consents=vocabulary,
                     trigger_rules=tuple(triggers.load_rules(settings.speed.triggers_path(settings.conf_dir))),
                     trigger_shards=tuple(triggers.shards()),
                     suppression_key=settings.privacy.key(),
                     segments=_segments(settings, vocabulary))
    app.state.ucid = state
    _install_handlers(app, serving)
    for module in (resolve, segments, profiles, consents, explain, console, ops):
        app.include_router(module.router)
    console.install(app)
    app.add_middleware(RequestGate, state=state)  # inside the metrics: its 401 / 413 are counted
    app.add_middleware(MetricsMiddleware)
    openapi.install(app, list(policy.types), serving, vocabulary)
    return app


def _segments(settings, vocabulary):
    """The definitions of conf/segments.yaml (``None`` without the file)."""
    from identity.segments import load_definitions

    path = settings.conf_dir / "segments.yaml"
    return load_definitions(path, vocabulary) if path.exists() else None


def allowed_methods(request: Request) -> str:
    """The ``Allow`` header of a 405: the methods of every route with the path template of the
    first route the request's path matched (Starlette names only that route's, so ``GET`` and
    ``DELETE`` on ``/v1/profiles/{ucid}`` said ``GET``; ``/v1/profiles/by-identifier`` is its
    own template, GET only)."""
    from starlette.routing import Match

    routes = [r for r in request.app.router.routes if hasattr(r, "methods")]
    first = next((r for r in routes if r.matches(request.scope)[0] != Match.NONE), None)
    if first is None:
        return ""
    methods: set[str] = set()
    for route in routes:
        if route.path == first.path:
            methods |= set(route.methods or ())
    return ", ".join(sorted(methods))
