"""Directory locks and the checkpoint file of the file channel.

Each directory a channel uses holds ``in_use.lock``, locked with ``flock`` for as long as the
channel runs and naming the owner's pid; the kernel drops the lock when the process dies, so a crash
never leaves a stale lock behind. ``flock`` locks belong to an open file, so two channels of one
process exclude each other as well as two processes do.

The checkpoint (``checkpoint.json`` in checkpointDir, and in backupCheckpointDir with dual
checkpoints) is small and replaced atomically (write a temporary file, fsync, rename, fsync the
directory). It names the oldest live segment, so replay knows which segments were fully consumed and
that none is missing, and the next event id, so ids never go back.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from dataclasses import asdict, dataclass

from flafka.errors import ChannelError

LOCK_FILE = "in_use.lock"
CHECKPOINT_FILE = "checkpoint.json"
CHECKPOINT_FORMAT = 1


class DirectoryInUse(ChannelError):
    """Another channel (in this or another process) holds the directory."""

    retriable = False


def lock_owner(directory: str) -> int | None:
    """The pid written in ``directory``'s lock file, if any."""
    try:
        with open(os.path.join(directory, LOCK_FILE), encoding="ascii") as f:
            text = f.read(32).strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


class DirLock:
    """An exclusive ``flock`` on ``<directory>/in_use.lock``, holding this process's pid."""

    def __init__(self, directory: str, fd: int) -> None:
        self.directory = directory
        self._fd = fd

    @classmethod
    def acquire(cls, directory: str) -> DirLock:
        fd = os.open(os.path.join(directory, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            pid = lock_owner(directory)
            if pid == os.getpid():
                who = f"another channel of this process (pid {pid})"
            else:
                who = "another process" + (f" (pid {pid})" if pid is not None else "")
            raise DirectoryInUse(
                f"channel directory {directory} is in use by {who}; each file channel needs its own "
                "checkpointDir and dataDirs") from None
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


@dataclass(frozen=True)
class Checkpoint:
    first_segment: int
    next_event_id: int
    size: int  # events queued when written (informational)
    written_at_ms: int
    format: int = CHECKPOINT_FORMAT


def write_checkpoint(directory: str, checkpoint: Checkpoint) -> None:
    path = os.path.join(directory, CHECKPOINT_FILE)
    tmp = path + ".tmp"
    data = json.dumps(asdict(checkpoint), sort_keys=True).encode("ascii") + b"\n"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_checkpoint(directory: str) -> tuple[Checkpoint | None, str | None]:
    """(checkpoint, problem): (None, None) when there is none, (None, why) when it is unreadable."""
    path = os.path.join(directory, CHECKPOINT_FILE)
    try:
        with open(path, "rb") as f:
            raw = json.loads(f.read(1 << 16))
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as exc:
        return None, f"{path} is unreadable ({exc})"
    try:
        if raw.get("format") != CHECKPOINT_FORMAT:
            return None, f"{path} has format {raw.get('format')!r}, expected {CHECKPOINT_FORMAT}"
        checkpoint = Checkpoint(**{k: int(raw[k]) for k in ("first_segment", "next_event_id", "size",
                                                              "written_at_ms")})
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        return None, f"{path} is not a valid checkpoint ({type(exc).__name__}: {exc})"
    if checkpoint.first_segment < 0 or checkpoint.next_event_id < 0:
        return None, f"{path} holds negative numbers"
    return checkpoint, None
