"""FastAPI dependencies shared by the routers.

They are `async def` because none of them waits on anything: FastAPI runs a
plain `def` dependency in its thread pool, which costs a handoff between
threads per dependency and request.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from classifier.taxonomy import Language
from recsys.api.errors import AuthenticationError, WritesDisabledError
from recsys.api.labels import language_from_header
from recsys.api.state import ServingState, StateHolder
from recsys.errors import ArtifactMissingError

__all__ = ["ApiKey", "DbSession", "Holder", "RequestLanguage", "State", "UploadLimit"]


async def _holder(request: Request) -> StateHolder:
    holder: StateHolder = request.app.state.holder
    return holder


async def _state(holder: Annotated[StateHolder, Depends(_holder)]) -> ServingState:
    # Each request reads the reference once, so a reload during the request
    # cannot mix two versions of the artifacts.
    state = holder.current
    if state is None:
        raise ArtifactMissingError(
            "the server has not loaded its artifacts: run `milliner index` and "
            "`milliner train`; the server loads them within a few seconds"
        )
    return state


async def _session(state: Annotated[ServingState, Depends(_state)]) -> AsyncIterator[Session]:
    # Opening a session takes no connection yet, and closing one hands its
    # connection back to the pool; neither blocks the event loop for long.
    with Session(state.engine) as session:
        yield session


async def _language(
    accept_language: Annotated[
        str | None,
        Header(description="`zh-CN` (or any `zh`) for Chinese labels and reasons; else English."),
    ] = None,
) -> Language:
    return language_from_header(accept_language)


async def _api_key(
    state: Annotated[ServingState, Depends(_state)],
    x_api_key: Annotated[
        str | None, Header(description="A key from the server's MILLINER_API_KEYS.")
    ] = None,
) -> str:
    keys = state.settings.api_keys
    if not keys:
        # Refusing every write is safer than leaving the catalog open when a
        # deployment forgot to configure keys.
        raise WritesDisabledError(
            "write endpoints are disabled because the server has no API key: "
            "set MILLINER_API_KEYS (comma separated) and restart it"
        )
    if not x_api_key:
        raise AuthenticationError("missing X-API-Key header: send one of the server's API keys")
    supplied = x_api_key.encode("utf-8")
    # compare_digest takes the same time wherever the strings differ, so the
    # response time does not reveal how much of a key was right. Every key is
    # compared, so the time does not reveal which key matched either.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(supplied, key.encode("utf-8"))
    if not matched:
        raise AuthenticationError("invalid X-API-Key: send one of the server's API keys")
    return x_api_key


async def _upload_limit(state: Annotated[ServingState, Depends(_state)]) -> int:
    return state.settings.max_upload_bytes


Holder = Annotated[StateHolder, Depends(_holder)]
State = Annotated[ServingState, Depends(_state)]
DbSession = Annotated[Session, Depends(_session)]
RequestLanguage = Annotated[Language, Depends(_language)]
ApiKey = Annotated[str, Depends(_api_key)]
UploadLimit = Annotated[int, Depends(_upload_limit)]
