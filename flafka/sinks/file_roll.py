"""Flume's ``file_roll`` sink: events serialized into files of a local directory, rolled by time.

Each batch taken from the channel is serialized (``sink.serializer``: ``text``, ``header_and_text``,
``avro_event`` or an import path), flushed and ``fsync``-ed before the take commits, so an event
leaves the channel only once its bytes are on disk. A new file is started when ``sink.rollInterval``
seconds have passed since the current one was opened (the roll policy of :mod:`flafka.sinks.rolling`).
File names follow Flume's path managers:

* ``DEFAULT``: ``<prefix><sinkStartMillis>-<n>[.<extension>]``, ``n`` counting from 1;
* ``ROLLTIME``: ``<prefix><yyyyMMddHHmmss>-<n>[.<extension>]`` with the local time at which the file
  is opened, ``n`` restarting at 1 whenever that time stamp changes (Flume's ``RollTimePathManager``).

Roll checks run in ``process()`` on the sink's runner thread, before each take (no timer thread),
as in Flume, where the timer only raises a flag that ``process()`` acts on.

Differences from Flume:

* Durability: Flume flushes the stream but never syncs it; flafka ``fsync``-s the file before each
  commit (and the directory after creating a file).
* A failed write never duplicates events: the file is cut back to its last synced length and
  closed (deleted if it holds no batch), and the retried batch goes to a new file. Flume keeps
  writing to the same stream, so a retried batch may appear twice.
* Files are opened on the first batch after start or after a roll, not on every ``process()`` call,
  so idle periods leave no empty files behind; the roll interval is measured from the file's
  opening, not from a fixed-rate timer started with the sink.
* An existing file is never overwritten (Flume truncates it): the next free ``n`` is used.
* ``sink.directory`` is created when missing (Flume requires it to exist).
* ``sink.pathManager`` accepts ``DEFAULT`` and ``ROLLTIME`` only (no custom Java builder classes).
* An event the serializer cannot write (``avro_event`` or ``header_and_text`` with a header UTF-8
  cannot encode) is set aside: counted in ``EventWriteFail``, sent to the dead-letter channel or
  dropped with a count, logged once per kind; the rest of its batch is written and committed. Flume
  writes such a header as ``?``; a serializer that raises fails its whole batch, in both.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from flafka.config.params import ComponentConfig, Nested, nested, param
from flafka.errors import DeliveryError
from flafka.event import Event
from flafka.fsutil import fsync_directory
from flafka.logging_once import OncePerKind
from flafka.serializers.base import EventSerializer
from flafka.sinks.base import BatchSink, Status
from flafka.sinks.rolling import Roll, RollingFile, RollPolicy

__all__ = ["RollingFileSink", "RollingFileSinkConfig"]

log = logging.getLogger(__name__)

@dataclass(frozen=True, kw_only=True)
class RollingFileSinkConfig(ComponentConfig):
    batch_size_key: ClassVar[str] = "sink.batchSize"

    directory: str = param("sink.directory", doc="Directory the files are written to (created if missing).")
    roll_interval: int = param(
        "sink.rollInterval",
        default=30,
        doc="Seconds after which the current file is closed and a new one started; 0 or less: never.",
    )
    serializer: Nested[EventSerializer] = nested(
        "sink.serializer",
        kind="serializer",
        default="TEXT",
        doc="Event serializer: text, header_and_text, avro_event, or a Python import path "
        "(pkg.module:Class) of an EventSerializer subclass.",
        options_doc="Options passed to the serializer (prefix removed).",
    )
    batch_size: int = param(
        "sink.batchSize", default=100, minimum=1, doc="Most events taken per channel transaction."
    )
    path_manager: str = param(
        "sink.pathManager",
        default="DEFAULT",
        choices=("DEFAULT", "ROLLTIME"),
        doc="File naming: DEFAULT (<prefix><startMillis>-<n>) or ROLLTIME (<prefix><yyyyMMddHHmmss>-<n>).",
    )
    prefix: str = param("sink.pathManager.prefix", default="", doc="Text put before every file name.")
    extension: str = param(
        "sink.pathManager.extension", default="", doc="File name extension, added after a dot when set."
    )


class _OpenFile:
    """The file being written, with what is needed to cut it back after a failed batch."""

    __slots__ = ("batches", "path", "roll", "serializer", "stream", "synced")

    serializer: EventSerializer  # set once constructed; _abandon() does not need it

    def __init__(self, path: Path, stream: io.BufferedWriter, roll: RollingFile):
        self.path = path
        self.stream = stream
        self.roll = roll  # when to roll it; counts its events
        self.synced = 0  # file length known to be on disk; everything after it is uncommitted
        self.batches = 0


class RollingFileSink(BatchSink):
    """See the module docstring."""

    config_class = RollingFileSinkConfig
    config: RollingFileSinkConfig

    def __init__(self, name: str, config: RollingFileSinkConfig) -> None:
        super().__init__(name, config)
        self.batch_size = config.batch_size
        #: Monotonic seconds for roll decisions; tests replace it to move time without waiting.
        self.clock: Callable[[], float] = time.monotonic
        #: Wall-clock seconds for file names (the DEFAULT series start, ROLLTIME stamps).
        self.wall_clock: Callable[[], float] = time.time
        self._directory = Path(config.directory)
        self._roll_policy = RollPolicy(interval=config.roll_interval)
        self._rolltime = config.path_manager == "ROLLTIME"
        self._suffix = "." + config.extension if config.extension else ""
        # Serializes deliver, roll and stop: stop() may come from another thread than the runner.
        self._lock = threading.Lock()
        self._current: _OpenFile | None = None
        self._started = False
        self._series = int(self.wall_clock() * 1000)
        self._last_stamp = ""
        self._index = 0
        self._once = OncePerKind(log)

    def start(self) -> None:
        # The planner reported them with their lines too; the log keeps them beside the sink's start.
        for warning in self.config.serializer.warnings:
            log.warning("File roll sink %s: %s", self.name, warning)
        with self._lock:
            self._started = True
            self._series = int(self.wall_clock() * 1000)
            self._last_stamp = ""
            self._index = 0
        log.info(
            "File roll sink %s started. directory=%s serializer=%s rollInterval=%d",
            self.name, self._directory, self.config.serializer.type_name, self.config.roll_interval,
        )

    def stop(self) -> None:
        with self._lock:
            if self._current is not None:
                self._close(self._current)

    def process(self) -> Status:
        current = self._current
        if current is not None:
            reason = current.roll.due(self.clock())
            if reason is not None:
                with self._lock:
                    if self._current is current:
                        self._close(current, reason)
        return super().process()

    def deliver(self, events: list[Event]) -> None:
        with self._lock:
            current = self._current if self._current is not None else self._open()
            stream = current.stream
            try:
                unwritable = current.serializer.write_batch(events)
                # Serializers written before write_batch returned the unwritable events return None (or,
                # by accident, whatever their last call returned): for them every event was written.
                bad = ([(event, "serializer", reason) for event, reason in unwritable]
                       if isinstance(unwritable, list | tuple) else [])
                current.serializer.flush()
                stream.flush()
                os.fsync(stream.fileno())
                synced = stream.tell()
            except Exception as exc:
                self._abandon(current)
                raise DeliveryError(
                    f"file_roll sink {self.name} could not write {len(events)} events to {current.path}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            current.synced = synced
            current.batches += 1
            body_bytes = sum(len(event.body) for event in events) - sum(len(event.body) for event, _, _ in bad)
            current.roll.appended(len(events) - len(bad), body_bytes)
            current.roll.flushed(self.clock())
        if bad:  # outside the lock: a dead-letter channel may make this wait
            self.set_aside(bad)

    # The methods below run with self._lock held.

    def _next_path(self) -> Path:
        if self._rolltime:
            stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(self.wall_clock()))
            if stamp != self._last_stamp:
                self._last_stamp = stamp
                self._index = 0
        else:
            stamp = str(self._series)
        self._index += 1
        return self._directory / f"{self.config.prefix}{stamp}-{self._index}{self._suffix}"

    def _open(self) -> _OpenFile:
        if not self._started:
            raise DeliveryError(f"file_roll sink {self.name} is not started", retriable=False)
        try:
            if not self._directory.is_dir():
                self._directory.mkdir(parents=True, exist_ok=True)
                log.info("File roll sink %s created its directory. directory=%s", self.name, self._directory)
            while True:
                path = self._next_path()
                try:
                    stream = open(path, "xb")  # noqa: SIM115  # kept open across batches until roll
                except FileExistsError:
                    continue
                break
        except OSError as exc:
            with self.counter.lock:
                self.counter.connection_failed_count += 1
            raise DeliveryError(f"file_roll sink {self.name} could not create a file in "
                                f"{self._directory}: {exc}") from exc
        current = _OpenFile(path, stream, self._roll_policy.open(self.clock()))
        try:
            current.serializer = self.config.serializer.build(stream)
            current.serializer.after_create()
            current.serializer.flush()
            stream.flush()
            os.fsync(stream.fileno())
            fsync_directory(self._directory)
            current.synced = stream.tell()
        except Exception as exc:
            self._abandon(current)
            raise DeliveryError(f"file_roll sink {self.name} could not start file {path}: "
                                f"{type(exc).__name__}: {exc}") from exc
        self._current = current
        with self.counter.lock:
            self.counter.connection_created_count += 1
        log.info("File roll sink %s opened a file. path=%s", self.name, path)
        return current

    def _close(self, current: _OpenFile, reason: Roll | None = None) -> None:
        """Close ``current`` cleanly (rolled for ``reason``, or at stop); on failure keep what was synced
        (every committed batch)."""
        self._current = None
        stream = current.stream
        try:
            current.serializer.before_close()
            current.serializer.flush()
            stream.flush()
            os.fsync(stream.fileno())
            stream.close()
        except Exception as exc:
            # Every committed batch was synced before its commit: only a trailer can be missing.
            self._once.log(logging.ERROR, f"close:{type(exc).__name__}",
                           f"File roll sink {self.name} could not close a file cleanly. path={current.path} "
                           f"error={type(exc).__name__}: {exc}")
            self._abandon(current)
            return
        with self.counter.lock:
            self.counter.connection_closed_count += 1
        log.info("File roll sink %s closed a file. path=%s batches=%d events=%d reason=%s",
                 self.name, current.path, current.batches, current.roll.events,
                 reason.value if reason is not None else "stop")

    def _abandon(self, current: _OpenFile) -> None:
        """Cut ``current`` back to its synced length and close it without flushing its buffer.

        Closing the raw file under the buffered stream drops unwritten bytes of the failed batch
        instead of writing them at the end of the truncated file. A file holding no batch is removed
        and its number reused.
        """
        if self._current is current:
            self._current = None
        with self.counter.lock:
            self.counter.connection_failed_count += 1
        raw = current.stream.raw
        try:
            if current.batches:
                fd = current.stream.fileno()  # fileno() does not flush the buffered bytes
                os.ftruncate(fd, current.synced)
                os.fsync(fd)
            raw.close()
            if current.batches:
                with self.counter.lock:
                    self.counter.connection_closed_count += 1
            else:
                current.path.unlink()
                self._index -= 1
        except (OSError, ValueError) as exc:  # ValueError: the file was already closed
            self._once.log(logging.ERROR, f"abandon:{type(exc).__name__}",
                           f"File roll sink {self.name} could not cut back a failed file; the retried batch "
                           f"may appear twice. path={current.path} error={exc}")
            with contextlib.suppress(OSError):
                raw.close()
            return
        if current.batches:
            log.warning("File roll sink %s closed a file after a failed write, keeping its committed "
                        "batches. path=%s batches=%d events=%d",
                        self.name, current.path, current.batches, current.roll.events)
        else:
            log.warning("File roll sink %s removed a file after a failed write: it held no committed batch. "
                        "path=%s", self.name, current.path)

