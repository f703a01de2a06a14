"""The FastAPI application: artifacts loaded once at start-up, one router per resource."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from catalog.settings import Settings
from recsys.api.problems import install_problem_handlers
from recsys.api.routes import customers, health, items
from recsys.api.state import ServingState, load_state

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, state: ServingState | None = None) -> FastAPI:
    """Build the API app.

    Args:
        settings: where the artifacts are; read from the environment when None.
        state: artifacts already loaded (tests); loaded at start-up when None.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.serving is None:
            app.state.serving = load_state(settings or Settings.from_env())
        yield
        app.state.serving.engine.dispose()

    app = FastAPI(
        title="milliner",
        version="0.1.0",
        summary="Recommendations that understand head attire.",
        lifespan=lifespan,
    )
    app.state.serving = state
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(customers.router)
    app.include_router(items.router)
    return app
