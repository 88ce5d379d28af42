"""The HDFS sink's local journal: which HDFS files it has open and how many of their bytes are committed.

A take commits only after its batch is synced in HDFS, but a file can hold more than the committed
batches: a batch whose sync or take commit failed, or the bytes a crash left behind the last sync. The
journal records, on local disk and before the take commits, each open file's *committed length* (the
bytes of batches whose take is about to commit). Whoever finds a file open in the journal — this sink
after a failed batch, or the next start after a crash — recovers its lease, cuts it back to that length
(no torn or doubled record survives; a length of 0 deletes it) and renames it to its final name.

The window between the journal's fsync and the take's commit is the one place a crash still doubles a
batch: the file keeps it and the channel delivers it again. Committing the take first would lose the
batch in the same window instead; at-least-once is the guarantee.

Format: ``journal.log`` holds one JSON object per line, appended and fsynced (``open``, ``length``,
``closed``); when it grows past a limit, the live state is written whole with an atomic replace. The
directory is locked for as long as the sink runs: two sinks sharing it would repair each other's files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from flafka.errors import DeliveryError
from flafka.fsutil import DirectoryLock, DirectoryLocked, write_atomic

__all__ = ["Journal", "OpenFile"]

_LOG = "journal.log"
_COMPACT_BYTES = 1 << 20  # rewrite the log whole beyond this: replay stays fast, the file small


@dataclass
class OpenFile:
    """An HDFS file of this sink that is open (or was, when the process died)."""

    in_use: str  # the path it is written under (with inUsePrefix/inUseSuffix)
    final: str  # the path it gets when closed
    committed: int = 0  # bytes of committed batches; anything beyond is cut off on repair


class Journal:
    """See the module docstring. Not thread-safe: the sink's runner thread is its only user."""

    def __init__(self, directory: str | Path, owner: str) -> None:
        self.directory = Path(directory).expanduser()
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._lock = DirectoryLock.acquire(str(self.directory))
        except DirectoryLocked as exc:
            who = "this process" if exc.pid == os.getpid() else f"pid {exc.pid}" if exc.pid else "another process"
            raise DeliveryError(f"{owner} cannot use journal directory {self.directory}: {who} holds it; give each "
                                "HDFS sink its own hdfs.journalDir", retriable=False) from None
        self._path = self.directory / _LOG
        self.files: dict[str, OpenFile] = self._replay()
        self._compact()

    def close(self) -> None:
        self._lock.release()

    # -- recording --------------------------------------------------------------------------------

    def opened(self, file: OpenFile) -> None:
        self.files[file.in_use] = file
        self._append([{"op": "open", "path": file.in_use, "final": file.final}])

    def committed(self, lengths: dict[str, int]) -> None:
        """Record committed lengths (one fsync for the whole batch)."""
        if not lengths:
            return
        for path, length in lengths.items():
            self.files[path].committed = length
        self._append([{"op": "length", "path": p, "length": n} for p, n in lengths.items()])

    def closed(self, path: str) -> None:
        """``path`` is closed and renamed (or deleted): nothing to repair any more."""
        if self.files.pop(path, None) is not None:
            self._append([{"op": "closed", "path": path}])

    # -- storage ----------------------------------------------------------------------------------

    def _append(self, records: Iterable[dict[str, object]]) -> None:
        data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size > _COMPACT_BYTES:
            self._compact()

    def _compact(self) -> None:
        records: list[dict[str, object]] = []
        for file in self.files.values():
            records.append({"op": "open", "path": file.in_use, "final": file.final})
            records.append({"op": "length", "path": file.in_use, "length": file.committed})
        write_atomic(self._path, "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode())

    def _replay(self) -> dict[str, OpenFile]:
        files: dict[str, OpenFile] = {}
        try:
            lines = self._path.read_bytes().splitlines()
        except FileNotFoundError:
            return files
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line torn by a crash: the one record it held was not fsynced, so never relied on
            path = record.get("path")
            op = record.get("op")
            if op == "open":
                files[path] = OpenFile(path, record["final"])
            elif op == "length" and path in files:
                files[path].committed = int(record["length"])
            elif op == "closed":
                files.pop(path, None)
        return files
