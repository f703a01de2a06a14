"""Exceptions raised by the HTTP layer; `problems.py` maps each to one status code."""

from __future__ import annotations

from recsys.errors import RecsysError

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ItemExistsError",
    "ModelMismatchError",
    "UnsupportedMediaError",
    "UploadTooLargeError",
    "WritesDisabledError",
]


class ApiError(RecsysError):
    """Base class of the errors that only the HTTP layer raises."""


class UnsupportedMediaError(ApiError):
    """An upload is not a JPEG, PNG or WebP file."""


class UploadTooLargeError(ApiError):
    """An upload or request body is larger than `Settings.max_upload_bytes`."""


class AuthenticationError(ApiError):
    """A write request has no `X-API-Key` header or a key the server does not accept."""


class WritesDisabledError(ApiError):
    """The server has no API key configured, so it accepts no write request."""


class ModelMismatchError(ApiError):
    """The embedding model loaded by the server differs from the one the index was built with."""


class ItemExistsError(ApiError):
    """`POST /v1/items` was called with an article id that is already in the catalog."""

    def __init__(self, article_id: str) -> None:
        super().__init__(
            f"item {article_id!r} already exists: use PUT /v1/items/{article_id} to change it"
        )
        self.article_id = article_id
