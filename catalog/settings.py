"""Where a milliner run keeps its files, read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings"]


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Locations of everything a run writes.

    Attributes:
        home: the data directory (`MILLINER_HOME`, default `./var`). It holds
            the SQLite catalog, `models/`, `index/` and `reports/`.
        database_url: SQLAlchemy URL of the catalog (`MILLINER_DATABASE_URL`,
            default a SQLite file `milliner.db` inside `home`).
    """

    home: Path
    database_url: str

    @classmethod
    def from_env(cls, *, home: Path | None = None) -> Settings:
        """Read the settings; an explicit `home` wins over `MILLINER_HOME`."""
        resolved = Path(home or os.environ.get("MILLINER_HOME") or "var").resolve()
        url = os.environ.get("MILLINER_DATABASE_URL") or f"sqlite:///{resolved / 'milliner.db'}"
        return cls(home=resolved, database_url=url)

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    def ensure_dirs(self) -> None:
        """Create the data directory and its sub-directories if they are missing."""
        for path in (self.home, self.models_dir, self.index_dir, self.reports_dir):
            path.mkdir(parents=True, exist_ok=True)
