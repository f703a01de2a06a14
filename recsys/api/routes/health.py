"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from recsys.api.dependencies import State
from recsys.api.schemas import HealthPublic, ReadinessPublic

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthPublic)
def health() -> HealthPublic:
    """Return "ok" while the process is alive, loaded or not."""
    return HealthPublic(status="ok")


@router.get(
    "/ready",
    response_model=ReadinessPublic,
    responses={503: {"description": "The artifacts are not loaded yet."}},
)
def ready(state: State) -> ReadinessPublic:
    """Return the loaded artifact versions; 503 until the index and the ranker are loaded."""
    return ReadinessPublic(
        status="ready",
        index_version=state.index_version,
        index_size=len(state.live),
        embedding_model=state.index.model_version,
        ranker_version=state.ranker_version,
        classifier_version=state.classifier_version,
        classifier_error=state.classifier_error,
    )


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Return request counts, latency histograms and artifact versions in Prometheus format."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
