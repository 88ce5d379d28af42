"""Durable local file updates: replace a file atomically, and make a directory entry survive a crash.

A rename is atomic but not durable by itself: after a power loss the directory may still hold the old
entry (or none, for a new file) until the directory itself has been synced. So a state file (a
position file, a tracker) is written as: a temporary file in the same directory, its bytes synced,
renamed over the old one, then the directory synced (:func:`write_atomic`). A reader sees either the
old content or the new one, never a mix, and once the call returns the new one stays.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

__all__ = ["fsync_directory", "write_atomic"]

StrPath = str | os.PathLike[str]


def fsync_directory(path: StrPath) -> None:
    """fsync the directory ``path`` so entries created, renamed or removed in it survive a crash.

    A no-op where directories cannot be opened (Windows has no ``O_DIRECTORY``; its rename is durable
    on its own).
    """
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: StrPath, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data``: every byte on disk, or the old file untouched.

    The bytes go to ``<path>.tmp`` (same directory, so the rename cannot cross file systems), which is
    synced, renamed over ``path``, and the directory is synced. The temporary name is fixed so a
    crash leaves at most one stray file, overwritten by the next call; one writer per ``path`` is
    assumed. The directory must exist. On failure the temporary file is removed and the error raised.
    """
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        try:
            view = memoryview(data)
            while view:  # os.write may write less than asked (a signal, a nearly full disk)
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_directory(target.parent)


LOCK_FILE = "in_use.lock"


class DirectoryLocked(OSError):
    """Another holder (in this or another process) has the directory; ``pid`` is the one its lock file names."""

    def __init__(self, directory: str, pid: int | None) -> None:
        super().__init__(f"{directory} is locked" + (f" by pid {pid}" if pid is not None else ""))
        self.directory = directory
        self.pid = pid


def lock_owner(directory: str) -> int | None:
    """The pid written in ``directory``'s lock file, if any."""
    try:
        with open(os.path.join(directory, LOCK_FILE), encoding="ascii") as f:
            text = f.read(32).strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


class DirectoryLock:
    """An exclusive ``flock`` on ``<directory>/in_use.lock``, holding this process's pid.

    ``flock`` locks belong to an open file, so two holders in one process exclude each other too, and a
    process that dies releases its locks: no stale lock is ever left behind.
    """

    def __init__(self, directory: str, fd: int) -> None:
        self.directory = directory
        self._fd = fd

    @classmethod
    def acquire(cls, directory: str) -> DirectoryLock:
        """The lock, or :class:`DirectoryLocked` when someone holds it."""
        fd = os.open(os.path.join(directory, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise DirectoryLocked(directory, lock_owner(directory)) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError:
            os.close(fd)
            raise
        return cls(directory, fd)

    def release(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)  # no pid left behind to mislead a reader
            os.close(self._fd)  # closing drops the flock
            self._fd = -1
