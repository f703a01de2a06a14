"""Versioned, atomically published artifact directories (index, ranker).

The mechanism is `classifier.publish`, which classifier models use too:
each version is written under a temporary name, renamed into place, and only
then named in `<root>/CURRENT`, so a crash leaves the previous version in use
and whole. This module gives it the recsys error type and a `Publication`
that names the final directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from classifier import publish
from classifier.errors import ModelLoadError
from recsys.errors import ArtifactMissingError

__all__ = ["Publication", "current_version_dir", "publish_version", "write_json_atomic"]

write_json_atomic = publish.write_json_atomic


@dataclass(frozen=True)
class Publication:
    """A version being written: fill `staging`; it becomes `final` on success."""

    staging: Path
    final: Path


def current_version_dir(root: Path, *, produced_by: str) -> Path:
    """Return the directory of the version named in `root/CURRENT`.

    Raises:
        ArtifactMissingError: nothing was published yet, or `CURRENT` names a
            missing version. The message names the command `produced_by`.
    """
    try:
        return publish.current_version_dir(root, produced_by=produced_by)
    except ModelLoadError as error:
        raise ArtifactMissingError(str(error)) from error


@contextmanager
def publish_version(root: Path) -> Iterator[Publication]:
    """Yield an empty staging directory; publish it as the current version on exit.

    If the block raises, the staging directory is removed and `CURRENT` keeps
    naming the previous version. Only the newest three versions are kept.
    """
    with publish.publish_version(root) as (staging, version):
        yield Publication(staging=staging, final=root / version)
