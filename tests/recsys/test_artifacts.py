"""Versioned publishing never exposes a half-written artifact."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys.artifacts import current_version_dir, publish_version


def test_failed_publish_keeps_previous(tmp_path: Path) -> None:
    with publish_version(tmp_path) as first:
        (first.staging / "data.txt").write_text("one")

    with pytest.raises(RuntimeError), publish_version(tmp_path) as second:
        (second.staging / "data.txt").write_text("half")
        raise RuntimeError("crash while writing")

    current = current_version_dir(tmp_path, produced_by="test")
    assert current == first.final
    assert (current / "data.txt").read_text() == "one"
    assert not second.staging.exists()
    assert not second.final.exists()


def test_old_versions_are_pruned(tmp_path: Path) -> None:
    for number in range(5):
        with publish_version(tmp_path) as publication:
            (publication.staging / "n.txt").write_text(str(number))

    versions = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(versions) == 3
    assert (current_version_dir(tmp_path, produced_by="test") / "n.txt").read_text() == "4"
