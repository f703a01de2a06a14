"""Liveness."""

from __future__ import annotations

from fastapi import APIRouter

from recsys.api.schemas import HealthPublic

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthPublic)
def health() -> HealthPublic:
    """Return "ok" while the process is alive, loaded or not."""
    return HealthPublic(status="ok")
