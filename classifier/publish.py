"""Versioned, atomically published artifact directories.

Used for classifier models here and, through `recsys.artifacts`, for the
similarity index and the ranker. An artifact kind lives in one root directory::

    <root>/v20261204T200501123456-3f2a/   files of one version
    <root>/CURRENT                        name of the version in use

A new version is written under a hidden temporary name, renamed into place,
and only then named in `CURRENT` (itself replaced with `os.replace`), so a
crash at any point leaves the previous version in use and whole.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from classifier.errors import ModelLoadError

__all__ = ["current_version_dir", "publish_version", "write_json_atomic"]

logger = logging.getLogger(__name__)

_CURRENT = "CURRENT"
_KEEP_VERSIONS = 3


def write_json_atomic(path: Path, data: Any) -> None:
    """Write `data` as JSON to `path` through a temporary file and a rename."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    temporary.write_text(
        json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str),
        encoding="utf-8",
    )
    os.replace(temporary, path)


def current_version_dir(root: Path, *, produced_by: str) -> Path:
    """Return the directory of the version named in `root/CURRENT`.

    Raises:
        ModelLoadError: nothing was published yet, or `CURRENT` names a missing
            version. The message names the command `produced_by`.
    """
    pointer = root / _CURRENT
    if not pointer.is_file():
        raise ModelLoadError(f"nothing published under {root}: run `{produced_by}` first")
    version = pointer.read_text(encoding="utf-8").strip()
    directory = root / version
    if not version or not directory.is_dir():
        raise ModelLoadError(
            f"{pointer} names version {version!r}, which is missing: run `{produced_by}` again"
        )
    return directory


@contextmanager
def publish_version(root: Path) -> Iterator[tuple[Path, str]]:
    """Yield (staging directory, version name); publish it as the current version on exit.

    If the block raises, the staging directory is removed and `CURRENT` keeps
    naming the previous version. Only the newest three versions are kept.
    """
    root.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    version = f"v{stamp}-{secrets.token_hex(2)}"
    staging = root / f".{version}.tmp"
    staging.mkdir()
    try:
        yield staging, version
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    final = root / version
    os.replace(staging, final)
    pointer_tmp = root / f".{_CURRENT}.{secrets.token_hex(4)}.tmp"
    pointer_tmp.write_text(version + "\n", encoding="utf-8")
    os.replace(pointer_tmp, root / _CURRENT)
    logger.info("published %s", final)
    versions = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("v"))
    for old in versions[:-_KEEP_VERSIONS]:
        if old.name != version:
            shutil.rmtree(old, ignore_errors=True)
