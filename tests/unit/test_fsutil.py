"""write_atomic and fsync_directory: what is synced, in which order, and what a failure leaves behind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from flafka.fsutil import fsync_directory, write_atomic


class SyncLog:
    """Records every os.fsync as (what, content of the target at that moment), then really syncs."""

    def __init__(self, target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.target = target
        self.synced: list[tuple[str, bytes | None]] = []
        self._real = os.fsync
        monkeypatch.setattr(os, "fsync", self)

    def __call__(self, fd: Any) -> None:
        st = os.fstat(fd)
        what = "directory" if st.st_ino == os.stat(self.target.parent).st_ino else "file"
        current = self.target.read_bytes() if self.target.exists() else None
        self.synced.append((what, current))
        self._real(fd)


def test_write_atomic_syncs_the_file_before_the_rename_and_the_directory_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "positions.json"
    target.write_bytes(b"old")
    log = SyncLog(target, monkeypatch)
    write_atomic(target, b"new")
    # The file's sync happens while the old content is still in place (before the rename), the
    # directory's after it: a crash at any point leaves "old" or a durable "new".
    assert log.synced == [("file", b"old"), ("directory", b"new")]
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["positions.json"]


def test_write_atomic_creates_a_new_file_with_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "tracker"
    old_umask = os.umask(0)
    try:
        write_atomic(target, b"x", mode=0o600)
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b"x"
    assert target.stat().st_mode & 0o777 == 0o600


def test_write_atomic_completes_short_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def one_byte(fd: int, data: Any) -> int:
        return real_write(fd, bytes(data[:1]))

    monkeypatch.setattr(os, "write", one_byte)
    write_atomic(tmp_path / "f", b"several bytes")
    assert (tmp_path / "f").read_bytes() == b"several bytes"


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "positions.json"
    target.write_bytes(b"old")

    def failing_fsync(fd: Any) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="Input/output error"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["positions.json"]


def test_a_stray_temporary_file_from_a_crash_is_overwritten(tmp_path: Path) -> None:
    (tmp_path / "f.tmp").write_bytes(b"half written before a crash, much longer than the new content")
    write_atomic(tmp_path / "f", b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
    assert (tmp_path / "f").read_bytes() == b"new"


def test_fsync_directory_syncs_that_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = SyncLog(tmp_path / "entry", monkeypatch)
    fsync_directory(tmp_path)
    assert log.synced == [("directory", None)]


def test_fsync_directory_of_a_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        fsync_directory(tmp_path / "missing")
