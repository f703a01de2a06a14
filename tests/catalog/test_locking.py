"""The indexing lock: one job per data directory, released by a killed holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog import db
from catalog.locking import LOCK_FILE_NAME, IndexingLock, IndexingLockedError
from catalog.settings import Settings
from recsys.cli import EXIT_LOCKED, main

_HOLDER = """
import sys, time
from pathlib import Path
from catalog.locking import IndexingLock
with IndexingLock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process that holds the lock on `tmp_path` until it is killed."""
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "locked":
        process.kill()
        pytest.fail("the lock holder process did not start")
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)


def test_second_lock_in_process_raises(tmp_path: Path) -> None:
    with IndexingLock(tmp_path), pytest.raises(IndexingLockedError) as raised:
        IndexingLock(tmp_path).acquire()

    assert raised.value.home == tmp_path
    assert raised.value.pid is not None


def test_lock_can_be_taken_again_after_release(tmp_path: Path) -> None:
    with IndexingLock(tmp_path):
        pass
    with IndexingLock(tmp_path) as lock:
        assert lock.path == tmp_path / LOCK_FILE_NAME


def test_lock_creates_missing_home(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    with IndexingLock(home):
        assert (home / LOCK_FILE_NAME).is_file()


def test_other_process_lock_names_its_pid(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    with pytest.raises(IndexingLockedError) as raised:
        IndexingLock(tmp_path).acquire()

    assert raised.value.pid == holder.pid
    assert f"another indexing job holds the lock on {tmp_path} (pid {holder.pid})" in str(
        raised.value
    )


def test_killed_holder_releases_lock(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)

    with IndexingLock(tmp_path) as lock:
        assert lock.path.read_text().strip() == str(os.getpid())


def test_index_command_exits_with_locked_code(
    tmp_path: Path,
    holder: subprocess.Popen[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("MILLINER_DATABASE_URL", raising=False)
    db.upgrade(Settings.from_env(home=tmp_path).database_url)

    code = main(["--home", str(tmp_path), "--no-progress", "index"])

    assert code == EXIT_LOCKED
    assert f"(pid {holder.pid})" in caplog.text
