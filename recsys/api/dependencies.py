"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from recsys.api.state import ServingState
from recsys.errors import ArtifactMissingError

__all__ = ["DbSession", "State"]


def _state(request: Request) -> ServingState:
    state: ServingState | None = getattr(request.app.state, "serving", None)
    if state is None:
        raise ArtifactMissingError(
            "the server has not loaded its artifacts: run `milliner index` and "
            "`milliner train`, then restart it"
        )
    return state


def _session(state: Annotated[ServingState, Depends(_state)]) -> Iterator[Session]:
    with Session(state.engine) as session:
        yield session


State = Annotated[ServingState, Depends(_state)]
DbSession = Annotated[Session, Depends(_session)]
