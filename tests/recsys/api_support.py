"""Helpers shared by the API tests: one loaded serving state and a writable catalog copy."""

from __future__ import annotations

import shutil
import socket
from functools import cache
from pathlib import Path

from catalog.settings import Settings
from recsys.api.state import ServingState, load_state

__all__ = ["ccp_photo", "copy_home", "shared_state"]

# A street photo (550x810) in which the frontal-face cascade finds the face.
CCP_PHOTO = "0004.jpg"


@cache
def _state_for(home: Path, database_url: str) -> ServingState:
    return load_state(Settings(home=home, database_url=database_url))


def shared_state(settings: Settings) -> ServingState:
    """Load the artifacts under `settings.home` once per test session (the embedder is slow)."""
    return _state_for(settings.home, settings.database_url)


def copy_home(settings: Settings, target: Path) -> Settings:
    """Copy a pipeline home (catalog database, index, models) so a test can write to it."""
    shutil.copytree(settings.home, target, symlinks=True)
    return Settings(home=target, database_url=f"sqlite:///{target / 'milliner.db'}")


def ccp_photo(shared_data: Path) -> Path:
    return shared_data / "ccp" / "photos" / CCP_PHOTO


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on at the moment."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
