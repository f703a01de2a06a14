"""One indexing job at a time per data directory, with an advisory file lock.

The lock is `fcntl.flock` on `<home>/indexing.lock`. The kernel releases a
flock when the process that holds it exits, however it exits (`kill -9`
included), so a crashed job never leaves a stale lock behind and nothing has
to clean the file up. The file contains the pid of the holder, only so that
the message for a second job can name it.

`flock` locks are per open file description and only advisory: they keep out
other milliner jobs, not other programs. On NFS, Linux emulates flock with
POSIX byte-range locks, which still works across machines that share the
directory.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from types import TracebackType

from catalog.errors import CatalogError

__all__ = ["LOCK_FILE_NAME", "IndexingLock", "IndexingLockedError"]

logger = logging.getLogger(__name__)

LOCK_FILE_NAME = "indexing.lock"


class IndexingLockedError(CatalogError):
    """Another indexing job holds the lock on the same data directory.

    Attributes:
        home: the data directory.
        pid: the process id written by the holder, or None if it could not be read.
    """

    def __init__(self, home: Path, pid: int | None) -> None:
        holder = f"pid {pid}" if pid is not None else "pid unknown"
        super().__init__(
            f"another indexing job holds the lock on {home} ({holder}): wait for it to "
            "finish, or stop it and run `milliner index` again"
        )
        self.home = home
        self.pid = pid


class IndexingLock:
    """An exclusive, non-blocking lock on a data directory for one indexing job.

    Use it as a context manager::

        with IndexingLock(settings.home):
            ...  # embed, write the catalog, publish the index

    Entering creates `home` if needed and raises `IndexingLockedError` at once
    when another process holds the lock; it never waits. The lock is not
    re-entrant: a second `IndexingLock` on the same home in the same process
    also raises.
    """

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.path = self.home / LOCK_FILE_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            IndexingLockedError: another job holds it.
            OSError: the lock file cannot be created (for example a read-only home).
        """
        if self._fd is not None:
            raise RuntimeError(f"the indexing lock on {self.home} is already held by this object")
        self.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise IndexingLockedError(self.home, pid) from None
        except BaseException:
            os.close(fd)
            raise

        # Only the holder writes, so a reader sees either the old pid or this one.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd
        logger.debug("took the indexing lock %s", self.path)

    def release(self) -> None:
        """Release the lock; does nothing if it is not held."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        # The file stays: if it were removed, a job that opened the old file
        # and a job that creates a new one could both hold a lock.
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        logger.debug("released the indexing lock %s", self.path)

    def __enter__(self) -> IndexingLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
        return int(text)
    except (OSError, UnicodeDecodeError, ValueError):
        return None
