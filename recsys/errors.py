"""Exceptions raised by the recsys package."""

from __future__ import annotations

__all__ = ["ArtifactMissingError", "RecsysError"]


class RecsysError(Exception):
    """Base class of every error recsys raises on purpose."""


class ArtifactMissingError(RecsysError):
    """A published artifact (index, ranker) is missing or unreadable.

    The message names the command that produces it.
    """
