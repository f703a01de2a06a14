"""One error format for every failure: RFC 9457 problem details.

Each domain exception maps to exactly one status code here, and nothing
else in the API builds error responses.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from catalog.errors import NotFoundError
from classifier.errors import InvalidImageError
from recsys.api.errors import (
    AuthenticationError,
    ItemExistsError,
    ModelMismatchError,
    UnsupportedMediaError,
    UploadTooLargeError,
    WritesDisabledError,
)
from recsys.errors import ArtifactMissingError

__all__ = ["install_problem_handlers", "problem", "status_title"]

logger = logging.getLogger(__name__)

_MEDIA_TYPE = "application/problem+json"


# RFC 9110 renamed these two; Python 3.11's HTTPStatus still has the older names.
_RFC9110_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


def status_title(status: int) -> str:
    """Return the RFC 9110 reason phrase of an HTTP status code, used as the problem title."""
    return _RFC9110_TITLES.get(status) or HTTPStatus(status).phrase


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    """Build a problem-details response."""
    body: dict[str, object] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=_MEDIA_TYPE, headers=headers)


def _fixed_status(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """Return a handler that responds with `status` and the exception's message as the detail.

    Only exceptions whose messages are written for clients (ids, limits and
    the fix, no paths or internals) get such a handler.
    """
    title = status_title(status)

    async def handle(_request: Request, error: Exception) -> JSONResponse:
        return problem(status, title, str(error))

    return handle


async def _unauthorised(_request: Request, error: Exception) -> JSONResponse:
    return problem(
        401, "Unauthorized", str(error), headers={"WWW-Authenticate": 'ApiKey header="X-API-Key"'}
    )


async def _not_found(_request: Request, error: Exception) -> JSONResponse:
    not_found = cast(NotFoundError, error)
    return problem(404, "Not Found", str(not_found), kind=not_found.kind, id=not_found.identifier)


async def _invalid_request(_request: Request, error: Exception) -> JSONResponse:
    errors = [
        {"location": ".".join(str(part) for part in item["loc"]), "message": item["msg"]}
        for item in cast(RequestValidationError, error).errors()
    ]
    detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors)
    return problem(422, status_title(422), detail, errors=errors)


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    http_error = cast(StarletteHTTPException, error)
    title = status_title(http_error.status_code)
    # Headers such as Allow on a 405 belong to the response (RFC 9110).
    headers = dict(http_error.headers) if http_error.headers else None
    return problem(http_error.status_code, title, str(http_error.detail), headers=headers)


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    # The traceback goes to the server log only; clients get no internals.
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(
        500, "Internal Server Error", "internal error: the request failed; see the server log"
    )


DATABASE_RETRY_AFTER_S = 1


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    # SQLite raises "database is locked" once its busy timeout has passed
    # while another writer has the lock. That is load, not a bug, so the
    # response carries Retry-After for the client to retry. Every other
    # database error stays a 500.
    if "locked" not in str(error).lower():
        return await _unexpected(request, error)
    logger.warning("database locked on %s %s; responded 503", request.method, request.url.path)
    return problem(
        503,
        "Service Unavailable",
        "the catalog database is busy with another write; retry shortly",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Register the exception handlers that turn errors into problem details."""
    from sqlalchemy.exc import OperationalError

    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(NotFoundError, _not_found)
    # The messages of these name a command to run or a limit; they hold no secret.
    app.add_exception_handler(ArtifactMissingError, _fixed_status(503))
    app.add_exception_handler(ModelMismatchError, _fixed_status(503))
    app.add_exception_handler(WritesDisabledError, _fixed_status(503))
    app.add_exception_handler(AuthenticationError, _unauthorised)
    app.add_exception_handler(ItemExistsError, _fixed_status(409))
    app.add_exception_handler(UploadTooLargeError, _fixed_status(413))
    app.add_exception_handler(UnsupportedMediaError, _fixed_status(415))
    app.add_exception_handler(InvalidImageError, _fixed_status(422))
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
