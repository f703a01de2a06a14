"""The HTTP API for storefronts."""

from recsys.api.app import create_app

__all__ = ["create_app"]
