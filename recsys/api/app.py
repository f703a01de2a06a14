"""The FastAPI application: artifacts loaded at start-up and reloaded when republished."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import cv2
import torch
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from threadpoolctl import threadpool_limits

from catalog.settings import Settings
from classifier.errors import ModelLoadError
from recsys.api.body_limit import MULTIPART_SLACK_BYTES, BodyLimitMiddleware
from recsys.api.docs_pages import install_docs_pages
from recsys.api.metrics import ApiMetrics, MetricsMiddleware
from recsys.api.problems import install_problem_handlers
from recsys.api.routes import customers, health, items, looks, purchases, shoppers
from recsys.api.state import (
    ServingState,
    StateHolder,
    apply_changes,
    load_published_changes,
    load_state,
)
from recsys.errors import ArtifactMissingError

__all__ = ["create_app", "create_app_from_env"]

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"

_LOAD_ERRORS = (ArtifactMissingError, ModelLoadError, OSError, ValueError, KeyError)


class _Reloader:
    """Loads newly published artifacts in a worker thread and swaps them in whole."""

    def __init__(self, settings: Settings, holder: StateHolder) -> None:
        self._settings = settings
        self._holder = holder
        self._last_error: str | None = None

    def load_once(self) -> None:
        """Load the first state, or the versions published since the current one.

        An error is logged once per distinct message and the current state
        stays in use, so a half-written or broken version never takes down
        a serving process.
        """
        try:
            current = self._holder.current
            if current is None:
                self._holder.set(load_state(self._settings))
            else:
                changes = load_published_changes(current)
                if changes is not None:
                    self._holder.swap(lambda now: apply_changes(now, changes))
        except _LOAD_ERRORS as error:
            message = str(error)
            if message != self._last_error:
                logger.warning("cannot load the published artifacts: %s", message)
                self._last_error = message
            return
        self._last_error = None

    async def run(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await asyncio.to_thread(self.load_once)
            except Exception:
                # An error that load_once does not expect must not end the
                # reloading for the life of the process.
                logger.exception("reloading the published artifacts failed")


def create_app(settings: Settings | None = None, *, state: ServingState | None = None) -> FastAPI:
    """Build the API app.

    Until the index and the ranker are published the app starts anyway: it
    returns 200 on `/health`, and 503 on `/ready` and on every endpoint that
    needs them. A background task checks the `CURRENT` files every
    `settings.reload_interval_s` seconds and swaps in new versions.

    Args:
        settings: where the artifacts are; read from the environment when None.
        state: artifacts already loaded (tests); loaded at start-up when None.
    """
    resolved = settings or (state.settings if state else None) or Settings.from_env()
    holder = StateHolder(state)
    reloader = _Reloader(resolved, holder)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if holder.current is None:
            await asyncio.to_thread(reloader.load_once)
        # Everything loaded so far lives as long as the process. Freezing it
        # keeps the collector's full passes from walking it again and again:
        # those passes were the pauses at the top of the latency tail.
        gc.collect()
        gc.freeze()
        task = asyncio.create_task(reloader.run(resolved.reload_interval_s))
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
            if holder.current is not None:
                holder.current.engine.dispose()

    app = FastAPI(
        title="milliner",
        version="0.1.0",
        summary="Recommendations that understand head attire.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.holder = holder
    app.state.metrics = ApiMetrics(holder)
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(shoppers.router)
    app.include_router(customers.router)
    app.include_router(items.router)
    app.include_router(looks.router)
    app.include_router(purchases.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_docs_pages(app)

    @app.get("/", include_in_schema=False)
    def demo_storefront() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    app.add_middleware(
        BodyLimitMiddleware, max_body_bytes=resolved.max_upload_bytes + MULTIPART_SLACK_BYTES
    )
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    if resolved.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        # Only the configured storefront origins get CORS headers; with none
        # configured the middleware is absent and browsers block other sites.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(resolved.cors_origins),
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=["Accept-Language", "Content-Type", "X-API-Key"],
        )
    return app


def create_app_from_env() -> FastAPI:
    """Build the app from environment settings; the factory `milliner serve` uses.

    It also limits torch, OpenCV and the BLAS library to one thread per
    operation in this process. Requests already run in parallel in the
    server's thread pool, so threads inside each operation oversubscribe the
    cores. On the 2-core development machine under load, one embedding took
    about 2 s with torch's default of 2 threads and 60 ms with 1.
    """
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    threadpool_limits(1)
    return create_app(Settings.from_env())
