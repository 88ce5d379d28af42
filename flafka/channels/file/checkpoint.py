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

import json
import os
from dataclasses import asdict, dataclass

from flafka.errors import ChannelError
from flafka.fsutil import DirectoryLock, DirectoryLocked

CHECKPOINT_FILE = "checkpoint.json"
CHECKPOINT_FORMAT = 1


class DirectoryInUse(ChannelError):
    """Another channel (in this or another process) holds the directory."""

    retriable = False


class DirLock:
    """A file channel's hold on one of its directories (see :class:`flafka.fsutil.DirectoryLock`)."""

    def __init__(self, lock: DirectoryLock) -> None:
        self.directory = lock.directory
        self._lock = lock

    @classmethod
    def acquire(cls, directory: str) -> DirLock:
        try:
            return cls(DirectoryLock.acquire(directory))
        except DirectoryLocked as exc:
            if exc.pid == os.getpid():
                who = f"another channel of this process (pid {exc.pid})"
            else:
                who = "another process" + (f" (pid {exc.pid})" if exc.pid is not None else "")
            raise DirectoryInUse(
                f"channel directory {directory} is in use by {who}; each file channel needs its own "
                "checkpointDir and dataDirs") from None

    def release(self) -> None:
        self._lock.release()


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
