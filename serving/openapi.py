"""The OpenAPI document, completed with what only the running configuration knows: the
identifier types of ``rules.yaml`` (as an enum of every ``type`` query parameter) and the batch
maximum ``UCID_SERVING_BATCH_MAX`` (as ``maxItems``)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

TYPE_PARAMETERS = ("type", "a_type", "b_type")


def install(app: FastAPI, identifier_types: list[str], batch_max: int) -> None:
    """Make ``app.openapi()`` return the completed document (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            for path in doc["paths"].values():
                for operation in path.values():
                    for param in operation.get("parameters", []):
                        if param["in"] == "query" and param["name"] in TYPE_PARAMETERS:
                            param["schema"]["enum"] = sorted(identifier_types)
            batch = doc["components"]["schemas"]["BatchResolveIn"]["properties"]["identifiers"]
            batch["maxItems"] = batch_max
            doc["components"]["schemas"]["BatchResolveIn"]["description"] = (
                f"Up to {batch_max} identifiers in one call (UCID_SERVING_BATCH_MAX)."
            )
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
