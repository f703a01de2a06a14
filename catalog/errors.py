"""Exceptions raised by the catalog package."""

from __future__ import annotations

__all__ = ["CatalogError", "ImportFileError", "NotFoundError", "SchemaOutdatedError"]


class CatalogError(Exception):
    """Base class of every error the catalog raises on purpose."""


class ImportFileError(CatalogError):
    """An input file is missing or its layout cannot be imported at all."""


class NotFoundError(CatalogError):
    """A customer or item id is not in the catalog.

    Attributes:
        kind: "customer" or "item".
        identifier: the id that was looked up.
    """

    def __init__(self, kind: str, identifier: str, *, message: str | None = None) -> None:
        super().__init__(message or f"{kind} {identifier!r} not found in the catalog")
        self.kind = kind
        self.identifier = identifier


class SchemaOutdatedError(CatalogError):
    """The catalog database is not migrated to the newest schema revision."""
