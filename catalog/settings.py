"""Settings of a milliner run, read from the environment: file locations and API options."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_RELOAD_INTERVAL_S",
    "Settings",
]

# A 12 MP phone JPEG is 3 to 6 MB, so 10 MB accepts any ordinary photo and
# still bounds the memory one upload can take.
DEFAULT_MAX_UPLOAD_BYTES = 10_000_000
DEFAULT_RELOAD_INTERVAL_S = 5.0

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _env_flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"invalid {name}={value!r}: use 1 or 0")


def _env_number(name: str, default: float, *, integer: bool = False) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"invalid {name}={text!r}: use {kind}") from None
    if value <= 0:
        raise ValueError(f"invalid {name}={text!r}: it must be positive")
    return value


def _env_origins(name: str) -> tuple[str, ...]:
    entries = (origin.strip().rstrip("/") for origin in os.environ.get(name, "").split(","))
    origins = tuple(origin for origin in entries if origin)
    for origin in origins:
        scheme, _, host = origin.partition("://")
        if scheme not in {"http", "https"} or not host or "/" in host:
            raise ValueError(
                f"invalid {name} entry {origin!r}: use scheme://host[:port], "
                "e.g. https://shop.example.com"
            )
    return origins


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Locations of everything a run writes, and the API's options.

    Attributes:
        home: the data directory (`MILLINER_HOME`, default `./var`). It contains
            the SQLite catalog, `models/`, `index/`, `images/` and `reports/`.
        database_url: SQLAlchemy URL of the catalog (`MILLINER_DATABASE_URL`,
            default a SQLite file `milliner.db` inside `home`).
        api_keys: keys accepted in the `X-API-Key` header of write endpoints
            (`MILLINER_API_KEYS`, comma separated). With none, write endpoints
            reject every request.
        max_upload_bytes: largest accepted photo upload, in bytes
            (`MILLINER_MAX_UPLOAD_BYTES`, default 10 MB).
        keep_photos: store "shop this look" uploads under `home/photos`
            (`MILLINER_KEEP_PHOTOS=1`); off by default. Stored photos never
            carry EXIF or GPS metadata.
        reload_interval_s: how often the API checks for newly published
            artifacts, in seconds (`MILLINER_RELOAD_INTERVAL_S`, default 5).
        cors_origins: browser origins allowed to call the API from another
            site (`MILLINER_CORS_ORIGINS`, comma separated, e.g.
            `https://shop.example.com`). Empty by default, so no CORS headers
            are sent and browsers keep other sites out.
    """

    home: Path
    database_url: str
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    keep_photos: bool = False
    reload_interval_s: float = DEFAULT_RELOAD_INTERVAL_S
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, *, home: Path | None = None) -> Settings:
        """Read the settings; an explicit `home` wins over `MILLINER_HOME`.

        Raises:
            ValueError: an environment variable has an invalid value; the
                message names it.
        """
        resolved = Path(home or os.environ.get("MILLINER_HOME") or "var").resolve()
        url = os.environ.get("MILLINER_DATABASE_URL") or f"sqlite:///{resolved / 'milliner.db'}"
        keys = tuple(
            key.strip() for key in os.environ.get("MILLINER_API_KEYS", "").split(",") if key.strip()
        )
        return cls(
            home=resolved,
            database_url=url,
            api_keys=keys,
            max_upload_bytes=int(
                _env_number("MILLINER_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES, integer=True)
            ),
            keep_photos=_env_flag("MILLINER_KEEP_PHOTOS"),
            reload_interval_s=_env_number("MILLINER_RELOAD_INTERVAL_S", DEFAULT_RELOAD_INTERVAL_S),
            cors_origins=_env_origins("MILLINER_CORS_ORIGINS"),
        )

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def images_dir(self) -> Path:
        """Product photos uploaded through the API."""
        return self.home / "images"

    @property
    def photos_dir(self) -> Path:
        """ "Shop this look" uploads, kept only when `keep_photos` is set."""
        return self.home / "photos"

    def ensure_dirs(self) -> None:
        """Create the data directory and its sub-directories if they are missing."""
        for path in (self.home, self.models_dir, self.index_dir, self.reports_dir):
            path.mkdir(parents=True, exist_ok=True)
