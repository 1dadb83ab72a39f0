"""The OpenAPI document, completed with what only the running configuration knows, so that it
says exactly what this server accepts: the identifier types of ``rules.yaml`` (as an enum of
every ``type`` query parameter), the batch maximum ``UCID_SERVING_BATCH_MAX`` (as ``maxItems``),
the page maximum ``UCID_SERVING_EVENTS_PAGE_MAX`` (as the ``maximum`` of every ``limit``), and
the body limit ``UCID_SERVING_MAX_BODY_BYTES`` (in the request body's description), and the
purposes and channels of ``conf/consents.yaml`` (as enums of ``purpose`` / ``channel``).

What no JSON Schema can say is left to the identity core and answered 422 with the reason: a
value the type's rules refuse (not an e-mail address, a blocked or placeholder value, a control
or invisible character)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from identity.consents import Vocabulary
from infra.settings import ServingSettings

TYPE_PARAMETERS = ("type", "a_type", "b_type")
CONSENT_PARAMETERS = ("purpose", "channel")
PAGE_PARAMETERS = ("limit",)


def _set_maximum(schema: dict[str, Any], maximum: int) -> None:
    """Set ``maximum`` on the integer schema, or on the integer branch of an ``anyOf``."""
    for branch in [schema, *schema.get("anyOf", [])]:
        if branch.get("type") == "integer":
            branch["maximum"] = maximum


def install(app: FastAPI, identifier_types: list[str], serving: ServingSettings,
            vocabulary: Vocabulary | None = None) -> None:
    """Make ``app.openapi()`` return the completed document (built once, then cached)."""
    terms = {"purpose": list(vocabulary.purposes), "channel": list(vocabulary.channels)} if vocabulary else {}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            for path in doc["paths"].values():
                for operation in path.values():
                    for param in operation.get("parameters", []):
                        if param["in"] == "query" and param["name"] in TYPE_PARAMETERS:
                            param["schema"]["enum"] = sorted(identifier_types)
                        if param["in"] == "query" and param["name"] in terms:
                            param["schema"]["enum"] = terms[param["name"]]
                        if param["in"] == "query" and param["name"] in PAGE_PARAMETERS:
                            _set_maximum(param["schema"], serving.events_page_max)
                    body = operation.get("requestBody")
                    if body is not None:
                        body["description"] = (
                            f"At most {serving.max_body_bytes:,} bytes (UCID_SERVING_MAX_BODY_BYTES); "
                            "a larger body is answered 413 before it is read."
                        )
            batch = doc["components"]["schemas"]["BatchResolveIn"]["properties"]["identifiers"]
            batch["maxItems"] = serving.batch_max
            doc["components"]["schemas"]["BatchResolveIn"]["description"] = (
                f"Up to {serving.batch_max} identifiers in one call (UCID_SERVING_BATCH_MAX)."
            )
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
