"""Exceptions raised by the classifier package."""

from __future__ import annotations

__all__ = ["ClassifierError", "InvalidImageError", "ModelLoadError"]


class ClassifierError(Exception):
    """Base class of every error the classifier package raises on purpose."""


class InvalidImageError(ClassifierError, ValueError):
    """An image that cannot be decoded, is truncated, or exceeds the pixel limit.

    The message names the source (a file path or "upload") and what to do about it.
    """


class ModelLoadError(ClassifierError):
    """A model weights file is missing, unreadable, or does not fit the network."""
