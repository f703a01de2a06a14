"""Commands that need the catalog refuse a database that was never migrated."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from recsys.cli import EXIT_MISSING_ARTIFACT, main


@pytest.mark.parametrize("command", [["import", "--data"], ["index"]])
def test_unmigrated_database_exits_4(
    tmp_path: Path, hm_slice: Path, caplog: pytest.LogCaptureFixture, command: list[str]
) -> None:
    arguments = [*command, str(hm_slice)] if command[-1] == "--data" else command
    with caplog.at_level(logging.ERROR):
        code = main(["--home", str(tmp_path), "--no-progress", *arguments])

    assert code == EXIT_MISSING_ARTIFACT
    assert "run `milliner db upgrade` first" in caplog.text
    assert not list(tmp_path.glob("index/*"))
