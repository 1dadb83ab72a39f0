"""Every error the API answers, as one exception type and its JSON body (:class:`Problem`)."""

from __future__ import annotations

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse


class ApiError(Exception):
    """An answer other than 2xx: HTTP ``status``, stable ``code``, human ``detail``."""

    def __init__(self, status: int, code: str, detail, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}


def problem(status: int, code: str, detail, headers: dict | None = None) -> JSONResponse:
    """The JSON answer of an error: ``{"error": code, "detail": detail}``."""
    return JSONResponse({"error": code, "detail": jsonable_encoder(detail)}, status_code=status, headers=headers)


def problem_response(exc: ApiError) -> JSONResponse:
    return problem(exc.status, exc.code, exc.detail, exc.headers)


def unauthorized(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", detail, {"WWW-Authenticate": 'ApiKey header="X-API-Key"'})


def forbidden(detail: str) -> ApiError:
    return ApiError(403, "forbidden", detail)


def not_found(detail: str) -> ApiError:
    return ApiError(404, "not_found", detail)


def invalid(detail) -> ApiError:
    return ApiError(422, "invalid_request", detail)


def unavailable(detail: str, retry_after_s: int) -> ApiError:
    return ApiError(
        503, "unavailable", f"{detail}; retry in {retry_after_s} s", {"Retry-After": str(retry_after_s)}
    )


def too_large(detail: str) -> ApiError:
    return ApiError(413, "payload_too_large", detail)
