"""One error format for every failure: RFC 9457 problem details.

Each domain exception maps to exactly one status code here, and nothing
else in the API builds error responses.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from catalog.errors import NotFoundError
from recsys.errors import ArtifactMissingError

__all__ = ["install_problem_handlers", "problem"]

logger = logging.getLogger(__name__)

_MEDIA_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: object) -> JSONResponse:
    """Build a problem-details response."""
    body: dict[str, object] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=_MEDIA_TYPE)


async def _not_found(_request: Request, error: Exception) -> JSONResponse:
    not_found = cast(NotFoundError, error)
    return problem(404, "Not Found", str(not_found), kind=not_found.kind, id=not_found.identifier)


async def _artifact_missing(_request: Request, error: Exception) -> JSONResponse:
    # The message names a command to run on the server; it holds no secret.
    return problem(503, "Service Unavailable", str(error))


async def _invalid_request(_request: Request, error: Exception) -> JSONResponse:
    errors = [
        {"location": ".".join(str(part) for part in item["loc"]), "message": item["msg"]}
        for item in cast(RequestValidationError, error).errors()
    ]
    detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors)
    return problem(422, "Unprocessable Content", detail, errors=errors)


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    http_error = cast(StarletteHTTPException, error)
    title = HTTPStatus(http_error.status_code).phrase
    return problem(http_error.status_code, title, str(http_error.detail))


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    # The traceback goes to the server log only; clients get no internals.
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Internal Server Error", "the server failed to answer; see its log")


def install_problem_handlers(app: FastAPI) -> None:
    """Register the exception handlers that turn errors into problem details."""
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(ArtifactMissingError, _artifact_missing)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
