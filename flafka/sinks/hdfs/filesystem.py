"""HDFS behind flafka's errors and a time limit per call (the client boundary of the HDFS sink).

The client is ``hdfs-native`` (a Rust client speaking the NameNode's RPC, no JVM): it takes the
``hdfs://namenode:8020/...`` addresses Flume configurations already hold, and its ``hsync`` makes a
batch durable on the DataNodes and visible to readers at its new length while the file stays open, so
each batch costs one write and one sync instead of reopening the file (WebHDFS appends close the file
every time: 5 to 7 times slower here, see docs/design-notes.md and ``bench/hdfs_clients_bench.py``).

Its calls have no timeout of their own (a NameNode that does not answer holds a call for minutes), and
it releases the GIL while it waits. So every call runs in a worker thread and is given up after
``call_timeout`` seconds, as Flume's ``hdfs.callTimeout`` does: the sink then treats the file as failed.
A given-up call may still finish later in its thread; nothing waits for it.

Errors come out as :class:`HdfsError` (a :class:`~flafka.errors.DeliveryError`): ``retriable`` is true
for what may pass (the cluster unreachable, a DataNode pipeline failing, a time-out), false for what will
not (a path that exists, a missing parent it cannot create, permission denied).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import hdfs_native

from flafka.errors import DeliveryError

__all__ = ["HdfsError", "HdfsFile", "HdfsFileSystem", "PathExists", "PathMissing", "split_url"]

T = TypeVar("T")


class HdfsError(DeliveryError):
    """An HDFS call failed; ``retriable`` says whether trying again later may succeed."""


class PathExists(HdfsError):
    """The target path exists (create or rename onto it)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retriable=False)


class PathMissing(HdfsError):
    """The path (or a rename's source) does not exist."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retriable=False)


def split_url(path: str) -> tuple[str | None, str]:
    """``hdfs://nn:8020/a/b`` → (``hdfs://nn:8020``, ``/a/b``); a bare ``/a/b`` → (None, ``/a/b``): the
    default file system of ``HADOOP_CONF_DIR``'s ``fs.defaultFS``."""
    parts = urlsplit(path)
    if parts.scheme:
        return f"{parts.scheme}://{parts.netloc}", parts.path or "/"
    return None, path


def _translate(what: str, exc: BaseException) -> HdfsError:
    detail = str(exc).split("\n", 1)[0]
    if isinstance(exc, FileExistsError):
        return PathExists(f"{what}: {detail}")
    if isinstance(exc, FileNotFoundError):
        return PathMissing(f"{what}: {detail}")
    if isinstance(exc, PermissionError):
        return HdfsError(f"{what}: permission denied: {detail}", retriable=False)
    # Connection failures, DataNode pipeline errors ("All nodes failed for write"), NameNode in safe mode or
    # restarting: the cluster's state, which may change.
    return HdfsError(f"{what}: {type(exc).__name__}: {detail}", retriable=True)


class _Call:
    """One HDFS call running in its own thread (hdfs-native releases the GIL while it waits)."""

    def __init__(self, what: str, fn: Callable[[], Any]) -> None:
        self.what = what
        self._fn = fn
        self._outcome: tuple[bool, Any] | None = None
        self._thread = threading.Thread(target=self._run, name="hdfs-call", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._outcome = (True, self._fn())
        except BaseException as exc:
            self._outcome = (False, exc)

    def result(self, deadline: float) -> Any:
        self._thread.join(max(0.0, deadline - time.monotonic()))
        outcome = self._outcome
        if outcome is None:
            raise HdfsError(f"{self.what}: no answer in time (hdfs.callTimeout)", retriable=True)
        ok, value = outcome
        if ok:
            return value
        raise _translate(self.what, value) from value


@dataclass(frozen=True)
class FileInfo:
    path: str
    length: int
    is_dir: bool


class HdfsFile:
    """One file open for writing; every call is bounded by the file system's call timeout."""

    def __init__(self, fs: HdfsFileSystem, path: str, writer: Any) -> None:
        self._fs = fs
        self.path = path
        self._writer = writer

    def write_and_sync(self, data: bytes) -> None:
        """Append ``data`` and ``hsync``: when this returns, the bytes are durable and visible at the new length."""
        self._fs.call(*self.write_and_sync_call(data))

    def write_and_sync_call(self, data: bytes) -> tuple[str, Callable[[], None]]:
        """:meth:`write_and_sync` as a call for :meth:`HdfsFileSystem.call_all` (files synced in parallel)."""
        writer = self._writer

        def run() -> None:
            writer.write(data)
            writer.hsync()

        return f"writing {len(data)} bytes to {self.path}", run

    def close(self) -> None:
        self._fs.call(f"closing {self.path}", self._writer.close)


class HdfsFileSystem:
    """The HDFS clients of one sink (one per NameNode address), with a time limit on every call."""

    def __init__(self, call_timeout: float, *, config_dir: str | None = None,
                 kerberos_principal: str | None = None, kerberos_keytab: str | None = None) -> None:
        self._call_timeout = call_timeout
        self._config_dir = config_dir
        self._principal = kerberos_principal
        self._keytab = kerberos_keytab
        self._clients: dict[str | None, Any] = {}
        self._lock = threading.Lock()

    def call(self, what: str, fn: Callable[[], T], timeout: float | None = None) -> T:
        """Run ``fn`` in a worker thread; its result, or :class:`HdfsError` on failure or after the time limit."""
        pending = _Call(what, fn)
        result: T = pending.result(time.monotonic() + (self._call_timeout if timeout is None else timeout))
        return result

    def call_all(self, calls: list[tuple[str, Callable[[], object]]]) -> list[HdfsError | None]:
        """Run ``calls`` at once (one thread each) within one time limit; the error of each, None for success."""
        running = [_Call(what, fn) for what, fn in calls]
        deadline = time.monotonic() + self._call_timeout
        errors: list[HdfsError | None] = []
        for pending in running:
            try:
                pending.result(deadline)
                errors.append(None)
            except HdfsError as exc:
                errors.append(exc)
        return errors

    def reset(self) -> None:
        """Drop the clients: the next call connects afresh (after the NameNode restarted, say)."""
        with self._lock:
            self._clients.clear()

    def _client(self, address: str | None) -> Any:
        with self._lock:
            client = self._clients.get(address)
            if client is None:
                client = hdfs_native.Client(address, config_dir=self._config_dir,
                                            kerberos_principal=self._principal, kerberos_keytab=self._keytab)
                self._clients[address] = client
            return client

    def _on(self, path: str) -> tuple[Any, str]:
        address, local = split_url(path)
        return self._client(address), local

    # -- operations (each bounded and translated) ------------------------------------------------

    def create(self, path: str) -> HdfsFile:
        """A new file (parents created); :class:`PathExists` when it exists."""
        client, local = self._on(path)
        writer = self.call(f"creating {path}", lambda: client.create(local))
        return HdfsFile(self, path, writer)

    def mkdirs(self, path: str) -> None:
        client, local = self._on(path)
        self.call(f"creating directory {path}", lambda: client.mkdirs(local, create_parent=True))

    def rename(self, source: str, target: str) -> None:
        """Rename; :class:`PathExists` when ``target`` exists, :class:`PathMissing` when ``source`` does not."""
        client, local = self._on(source)
        _, target_local = split_url(target)
        self.call(f"renaming {source} to {target_local}", lambda: client.rename(local, target_local))

    def info(self, path: str) -> FileInfo | None:
        client, local = self._on(path)
        try:
            status = self.call(f"reading the status of {path}", lambda: client.get_file_info(local))
        except PathMissing:
            return None
        return FileInfo(path, int(status.length), bool(status.isdir))

    def delete(self, path: str) -> bool:
        client, local = self._on(path)
        return bool(self.call(f"deleting {path}", lambda: client.delete(local)))

    def read(self, path: str, length: int) -> bytes:
        """The first ``length`` bytes of a closed file."""
        client, local = self._on(path)

        def run() -> bytes:
            reader = client.read(local)
            try:
                return bytes(reader.read(length))
            finally:
                reader.close()

        return self.call(f"reading {path}", run)

    def list_files(self, directory: str) -> Iterator[FileInfo]:
        client, local = self._on(directory)
        address, _ = split_url(directory)
        prefix = address or ""
        statuses = self.call(f"listing {directory}", lambda: list(client.list_status(local)))
        for status in statuses:
            yield FileInfo(prefix + str(status.path), int(status.length), bool(status.isdir))

    def recover_lease(self, path: str) -> bool:
        """Ask the NameNode to close ``path`` for a writer that is gone; True once it is closed."""
        client, local = self._on(path)
        return bool(self.call(f"recovering the lease of {path}", lambda: client.recover_lease(local)))
