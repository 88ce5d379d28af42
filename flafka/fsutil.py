"""Durable local file updates: replace a file atomically, and make a directory entry survive a crash.

A rename is atomic but not durable by itself: after a power loss the directory may still hold the old
entry (or none, for a new file) until the directory itself has been synced. So a state file (a
position file, a tracker) is written as: a temporary file in the same directory, its bytes synced,
renamed over the old one, then the directory synced (:func:`write_atomic`). A reader sees either the
old content or the new one, never a mix, and once the call returns the new one stays.
"""

from __future__ import annotations

import contextlib
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
