"""The files of one bucket (one rendered ``hdfs.path`` + ``hdfs.filePrefix``), Flume's ``BucketWriter``.

A bucket writes one file at a time, named as Flume names them: ``<path>/<inUsePrefix><prefix>.<counter>
<suffix><inUseSuffix>`` while open, renamed to ``<path>/<prefix>.<counter><suffix>`` when closed; the
counter starts at the bucket's creation time in ms and grows by one per file (and skips a name that
exists). ``<suffix>`` is ``hdfs.fileSuffix``, else the codec's extension (``.gz``).

Within a batch, the roll policy is checked before each event (``rollCount``, ``rollSize``): a full
file is not closed at once, it waits for the batch's take to commit (:meth:`Bucket.after_commit`),
because until then its last batch may still be cut off. So a batch can touch several files of a bucket;
:meth:`Bucket.sync` ends the batch in each of them (one write and one ``hsync`` per file) and returns
their new committed lengths for the journal.

Files that failed, and files whose close failed, go to :class:`Repairs`, which closes them through the
NameNode (lease recovery), cuts them back to their committed length (a file of length 0 is deleted) and
renames them to their final name, retrying every ``hdfs.retryInterval`` seconds, at most
``hdfs.closeTries`` times (0: until it succeeds), and again at the next start from the journal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flafka.event import Event
from flafka.logging_once import OncePerKind
from flafka.monitoring.counters import SinkCounter
from flafka.serializers.base import Unwritable
from flafka.sinks.hdfs.filesystem import HdfsError, HdfsFile, HdfsFileSystem, PathExists
from flafka.sinks.hdfs.formats import FileFormat
from flafka.sinks.hdfs.journal import Journal, OpenFile
from flafka.sinks.rolling import Roll, RollingFile, RollPolicy

__all__ = ["Bucket", "Naming", "Repairs"]

log = logging.getLogger(__name__)

_LEASE_WAIT_S = 30.0  # how long one repair waits for the NameNode to close a file it recovers
_CUTBACK = ".flafka-cutback"  # a file's committed bytes, written aside while a torn file is cut back


@dataclass(frozen=True)
class Naming:
    """How files are named (``hdfs.filePrefix`` is rendered per bucket; the rest is the sink's)."""

    suffix: str  # hdfs.fileSuffix, else the codec's extension
    in_use_prefix: str
    in_use_suffix: str

    def names(self, directory: str, prefix: str, counter: int) -> tuple[str, str]:
        """(in-use path, final path) of the file number ``counter``."""
        name = f"{prefix}.{counter}{self.suffix}"
        return f"{directory}/{self.in_use_prefix}{name}{self.in_use_suffix}", f"{directory}/{name}"


class _File:
    """One open file of a bucket."""

    __slots__ = ("format", "hdfs", "pending", "record", "rolling")

    def __init__(self, hdfs: HdfsFile, record: OpenFile, rolling: RollingFile, file_format: FileFormat) -> None:
        self.hdfs = hdfs
        self.record = record
        self.rolling = rolling
        self.format = file_format
        self.pending = False  # events written into the format since the last sync


class Bucket:
    """See the module docstring. Used by the sink's runner thread only."""

    def __init__(self, key: str, directory: str, prefix: str, *, fs: HdfsFileSystem, journal: Journal,
                 repairs: Repairs, naming: Naming, policy: RollPolicy, new_format: Callable[[], FileFormat],
                 clock: Callable[[], float], counter: int, sink_counter: SinkCounter) -> None:
        self.key = key
        self.directory = directory
        self.prefix = prefix
        self._fs = fs
        self._journal = journal
        self._repairs = repairs
        self._naming = naming
        self._policy = policy
        self._new_format = new_format
        self._clock = clock
        self._counter = counter
        self._sink_counter = sink_counter
        self.current: _File | None = None
        self._rolled: list[_File] = []  # full, waiting for the take to commit before they are closed
        self._directory_made = False

    @property
    def files(self) -> list[_File]:
        return [*self._rolled, *([self.current] if self.current is not None else [])]

    # -- a batch ----------------------------------------------------------------------------------

    def append(self, events: Sequence[Event], now_ms: int) -> list[Unwritable]:
        """Encode ``events`` into the bucket's file(s), rolling before an event that would not fit."""
        bad: list[Unwritable] = []
        start, total = 0, len(events)
        while start < total:
            current = self.current if self.current is not None else self._open()
            rolling = current.rolling
            # The events that go in before the policy says roll (checked before each event, as Flume does).
            end = start
            while end < total and rolling.before_append() is None:
                rolling.appended(1, len(events[end].body))
                end += 1
            if end > start:
                bad += current.format.write(events[start:end], now_ms)
                current.pending = True
                start = end
            if start < total:  # full before events[start]: it is closed once the take commits
                self._roll_pending()
        return bad

    def end_batch(self) -> list[tuple[_File, bytes]]:
        """The bytes each file the batch touched must append and sync to end the batch."""
        return [(file, file.format.end_batch()) for file in self.files if file.pending]

    def after_commit(self) -> None:
        """The batch's take committed: close the files that filled up during it."""
        rolled, self._rolled = self._rolled, []
        for file in rolled:
            self._close(file, Roll.COUNT)

    def failed(self) -> None:
        """The batch failed: every file it touched is abandoned and repaired (cut back, renamed)."""
        for file in self.files:
            if file.pending or file in self._rolled:
                file.rolling.write_failed()
                self._repairs.add(file.record, file.hdfs)
        self._rolled = []
        if self.current is not None and self.current.rolling.failed:
            self.current = None

    # -- timers and close --------------------------------------------------------------------------

    def due(self, now: float) -> Roll | None:
        current = self.current
        return None if current is None else current.rolling.due(now)

    def close(self, why: Roll | None = None) -> None:
        """Close the current file (between batches: everything in it is committed)."""
        current, self.current = self.current, None
        if current is not None:
            self._close(current, why)

    def _roll_pending(self) -> None:
        if self.current is not None:
            self._rolled.append(self.current)
            self.current = None

    def _open(self) -> _File:
        if not self._directory_made:
            self._fs.mkdirs(self.directory)
            self._directory_made = True
        while True:
            in_use, final = self._naming.names(self.directory, self.prefix, self._counter)
            self._counter += 1
            if in_use in self._journal.files or self._fs.info(in_use) is not None:
                continue  # a name from an earlier run: take the next number
            record = OpenFile(in_use, final)
            # Journal first: a kill between the create and a journal entry after it stranded an in-use file no
            # later start knew of (seen in CI after ten kill -9). Entered first, the next start removes it (nothing
            # committed) if the create went through.
            self._journal.opened(record)
            try:
                hdfs = self._fs.create(in_use)
            except PathExists:
                self._journal.closed(in_use)  # another writer took the name in between: not ours to repair
                continue
            except HdfsError:
                self._repairs.add(record, None)  # the create may have gone through without its answer
                raise
            break
        with self._sink_counter.lock:
            self._sink_counter.connection_created_count += 1
        previous = self.current
        file = _File(hdfs, record, self._policy.open(self._clock(), previous.rolling if previous else None),
                     self._new_format())
        self.current = file
        log.debug("HDFS sink opened %s", in_use)
        return file

    def _close(self, file: _File, why: Roll | None) -> None:
        """Write the trailer, close and rename; a failure hands the file to the repairs."""
        record = file.record
        try:
            trailer = file.format.end_file()
            if trailer:
                file.hdfs.write_and_sync(trailer)
                self._journal.committed({record.in_use: record.committed + len(trailer)})
            file.hdfs.close()
            _rename(self._fs, record)
        except HdfsError as exc:
            log.warning("HDFS sink could not close %s; it is recovered and renamed later. %s", record.in_use, exc)
            self._repairs.add(record, None)
            return
        self._journal.closed(record.in_use)
        log.info("HDFS sink closed %s. reason=%s", record.final, why.value if why else "stop")


def _rename(fs: HdfsFileSystem, record: OpenFile) -> str:
    """Rename ``record``'s in-use file to its final name (or the next free variant of it); the name used."""
    if record.in_use == record.final:
        return record.final
    target = record.final
    for n in range(1, 1000):
        try:
            fs.rename(record.in_use, target)
            return target
        except PathExists:
            target = f"{record.final}-{n}"  # never overwrite a file: keep both, visibly
    raise HdfsError(f"no free name for {record.final}", retriable=False)


class Repairs:
    """Files to close through the NameNode, cut back to their committed length and rename (module docstring)."""

    def __init__(self, fs: HdfsFileSystem, journal: Journal, *, close_tries: int, retry_interval: float,
                 clock: Callable[[], float] = time.monotonic, owner: str = "HDFS sink") -> None:
        self._fs = fs
        self._journal = journal
        self._close_tries = close_tries
        self._retry_interval = retry_interval
        self._clock = clock
        self._owner = owner
        self._once = OncePerKind(log)
        self._queue: dict[str, tuple[OpenFile, int, float]] = {}  # in-use path → (record, tries, next try)

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, record: OpenFile, hdfs: HdfsFile | None) -> None:
        # The writer (``hdfs``) is let go of without a close: its pipeline may be what failed, and a close could
        # make bytes that were never committed part of the file. Lease recovery closes it at the NameNode.
        del hdfs
        self._queue.setdefault(record.in_use, (record, 0, 0.0))

    def run(self, *, everything: bool = False) -> None:
        """Try the repairs that are due (all with ``everything``)."""
        now = self._clock()
        for path, (record, tried, next_try) in list(self._queue.items()):
            if not everything and next_try > now:
                continue
            try:
                repair(self._fs, record)
            except HdfsError as exc:
                tries = tried + 1
                if 0 < self._close_tries <= tries:
                    del self._queue[path]
                    log.error("%s gave up repairing %s after %d tries (hdfs.closeTries); it keeps its in-use name "
                              "until the next start. %s", self._owner, path, tries, exc)
                    continue
                self._queue[path] = (record, tries, now + max(self._retry_interval, 0.0))
                self._once.log(logging.WARNING, f"repair:{type(exc).__name__}",
                               f"{self._owner} could not repair {path} yet; it tries again in "
                               f"{self._retry_interval:g}s. {exc}")
                continue
            del self._queue[path]
            self._journal.closed(path)


def repair(fs: HdfsFileSystem, record: OpenFile, lease_wait: float = _LEASE_WAIT_S) -> str | None:
    """Close ``record``'s file, cut it back to its committed length, give it its final name; the name it got
    (None when nothing was left: a file without a committed byte is deleted). Safe to run again after any
    interruption: every step checks what the previous run left."""
    in_use, final, committed = record.in_use, record.final, record.committed
    aside = in_use + _CUTBACK
    if in_use != final and fs.info(final) is not None:
        # A previous run got as far as the final name: only leftovers remain.
        for leftover in (in_use, aside):
            if fs.info(leftover) is not None:
                fs.delete(leftover)
        return final
    if fs.info(in_use) is None:
        if fs.info(aside) is not None:  # cut back, the torn file deleted, the copy not yet renamed
            fs.rename(aside, final)
            return final
        return None
    deadline = time.monotonic() + lease_wait
    while not fs.recover_lease(in_use):
        if time.monotonic() > deadline:
            raise HdfsError(f"the NameNode did not close {in_use} within {lease_wait:g}s", retriable=True)
        time.sleep(0.2)  # lease recovery is asynchronous at the NameNode: poll it
    info = fs.info(in_use)
    length = info.length if info is not None else 0
    if committed == 0:
        fs.delete(in_use)
        log.info("HDFS sink deleted %s: it held no committed batch. bytes=%d", in_use, length)
        return None
    if length > committed:
        data = fs.read(in_use, committed)
        if fs.info(aside) is not None:
            fs.delete(aside)
        copy = fs.create(aside)
        copy.write_and_sync(data)
        copy.close()
        if in_use == final:
            fs.delete(in_use)
            fs.rename(aside, final)
        else:
            _rename(fs, OpenFile(aside, final))
            fs.delete(in_use)
        log.warning("HDFS sink cut %s back to its committed length: the bytes after it were never committed. "
                    "committed=%d removed=%d", final, committed, length - committed)
        return final
    if length < committed:
        log.error("HDFS sink found %s shorter than its committed length; the missing bytes were acknowledged by "
                  "HDFS. committed=%d length=%d", in_use, committed, length)
    return _rename(fs, record)
