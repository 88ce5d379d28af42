"""Flume's HDFS sink (``hdfs``, ``org.apache.flume.sink.hdfs.HDFSEventSink``, reference §3.6).

Each transaction takes up to ``hdfs.batchSize`` events, places each in its bucket (``hdfs.path`` and
``hdfs.filePrefix`` with their escapes expanded), encodes them into the buckets' open files
(``hdfs.fileType``), ends the batch in every file it touched with one write and one ``hsync`` (all files
at once, up to ``hdfs.threadsPoolSize``), records the files' committed lengths in the local journal
and only then commits the take. A take therefore commits only once its batch is durable **and**
visible in HDFS (Flume's ``hflush`` makes it visible, not durable).

The guarantee beyond Flume's (see :mod:`flafka.sinks.hdfs.journal` and :mod:`flafka.sinks.hdfs.bucket`):

* a failed or timed-out batch never leaves a torn or doubled record: every file it touched is closed
  through the NameNode, cut back to its committed length and renamed, and the retried batch goes to new
  files;
* a file a crash (``kill -9``) left open is repaired the same way at the next start, from the journal:
  none keeps its in-use suffix;
* an event that cannot be placed (a time escape without a ``timestamp`` header, a missing or unsafe
  ``%{header}`` with ``hdfs.headerEscapes = strict``, a ``timestamp`` a SequenceFile key cannot hold, a
  header the serializer cannot encode, a path HDFS refuses) is a bad event: dead-lettered to the sink's
  ``deadLetterChannel`` or dropped, counted, logged once per kind; it never holds the batch;
* the NameNode or a DataNode restarting fails the batches in flight (rolled back, files repaired), and
  the sink resumes by itself once HDFS answers.

Roll and idle timers are checked before each take and, while the channel is empty, at least every 5 s
(the sink runner's wait); a graceful stop closes and renames every file.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from flafka.bucket_path import UnplaceableEvent
from flafka.dead_letters import BadEvent
from flafka.errors import DeliveryError
from flafka.event import Event
from flafka.hadoop import WRITE_FORMATS
from flafka.logging_once import OncePerKind
from flafka.sinks.base import BatchSink, Status
from flafka.sinks.hdfs.bucket import Bucket, Naming, Repairs
from flafka.sinks.hdfs.config import HdfsSinkConfig
from flafka.sinks.hdfs.filesystem import HdfsError, HdfsFileSystem
from flafka.sinks.hdfs.formats import DataStreamFormat, FileFormat, SequenceFileFormat
from flafka.sinks.hdfs.journal import Journal
from flafka.sinks.rolling import Roll, RollPolicy

__all__ = ["HdfsSink"]

log = logging.getLogger(__name__)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class HdfsSink(BatchSink):
    """See the module docstring."""

    config_class = HdfsSinkConfig
    config: HdfsSinkConfig

    def __init__(self, name: str, config: HdfsSinkConfig, *, clock: Callable[[], float] = time.monotonic,
                 wall_ms: Callable[[], int] = _wall_ms) -> None:
        super().__init__(name, config)
        self.batch_size = config.batch_size
        self._clock = clock
        self._wall_ms = wall_ms
        self._once = OncePerKind(log)
        self._lock = threading.Lock()  # deliver, timers and stop: stop() may come from another thread
        self._path = config.bucket_path(config.path)
        self._prefix = config.bucket_path(config.file_prefix)
        codec = config.codec_or_none()
        self._naming = Naming(config.file_suffix or (codec.extension if codec is not None else ""),
                              config.in_use_prefix, "" if config.empty_in_use_suffix else config.in_use_suffix)
        self._policy = RollPolicy(interval=config.roll_interval, size=config.roll_size, count=config.roll_count,
                                  idle=config.idle_timeout)
        if config.file_type == "SequenceFile":
            value_type = WRITE_FORMATS[config.write_format]
            self._new_format: Callable[[], FileFormat] = lambda: SequenceFileFormat(value_type, codec)
        else:
            serializer = config.serializer
            self._new_format = lambda: DataStreamFormat(serializer.build, codec)
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()  # least recently written first
        self._touched: list[Bucket] = []
        self._fs: HdfsFileSystem | None = None
        self._journal: Journal | None = None
        self._repairs: Repairs | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        config = self.config
        self._fs = HdfsFileSystem(config.call_timeout_ms / 1000.0, config_dir=config.hadoop_conf_dir,
                                  kerberos_principal=config.kerberos_principal,
                                  kerberos_keytab=config.kerberos_keytab)
        self._journal = Journal(config.journal_directory(self.name), f"HDFS sink {self.name}")
        self._repairs = Repairs(self._fs, self._journal, close_tries=config.close_tries,
                                retry_interval=config.retry_interval, clock=self._clock,
                                owner=f"HDFS sink {self.name}")
        left = list(self._journal.files.values())
        for record in left:
            self._repairs.add(record, None)
        if left:
            log.info("HDFS sink %s repairs the files its last run left open. files=%d", self.name, len(left))
            self._repairs.run(everything=True)
        log.info("HDFS sink %s started. path=%s fileType=%s batchSize=%d", self.name, config.path,
                 config.file_type, config.batch_size)

    def stop(self) -> None:
        with self._lock:
            for key in list(self._buckets):
                self._close_bucket(key, None)
            if self._repairs is not None and len(self._repairs):
                self._repairs.run(everything=True)
                if len(self._repairs):
                    log.warning("HDFS sink %s stops with files it could not close; the next start repairs them. "
                                "files=%d", self.name, len(self._repairs))
            if self._journal is not None:
                self._journal.close()
                self._journal = None
        log.info("HDFS sink %s stopped. events_written=%d bad_events=%d", self.name,
                 self.counter.event_drain_success_count, self.counter.event_dead_letter_count
                 + self.counter.event_drop_count)

    def process(self) -> Status:
        with self._lock:
            self._timers()
            return super().process()

    # -- the batch --------------------------------------------------------------------------------

    def deliver(self, events: list[Event]) -> None:
        fs, journal = self._fs, self._journal
        assert fs is not None, "deliver() before start()"
        assert journal is not None
        now_ms = self._wall_ms()
        bad: list[BadEvent] = []
        groups: dict[str, tuple[str, str, list[Event]]] = {}
        path, prefix = self._path, self._prefix
        for event in events:
            headers = event.headers
            try:
                directory = path.render(headers, now_ms)
                name = prefix.render(headers, now_ms)
            except UnplaceableEvent as exc:
                bad.append((event, exc.kind, exc.reason))
                continue
            key = f"{directory}\0{name}"
            group = groups.get(key)
            if group is None:
                groups[key] = (directory.rstrip("/"), name, [event])
            else:
                group[2].append(event)
        touched: list[Bucket] = []
        try:
            for key, (directory, name, group_events) in groups.items():
                bucket = self._bucket(key, directory, name, now_ms)
                try:
                    unwritable = bucket.append(group_events, now_ms)
                except HdfsError as exc:
                    if exc.retriable:
                        raise
                    # HDFS refuses this bucket's path (a name it cannot hold, permission): its events are bad.
                    bad += [(e, "path", f"HDFS refused {directory}/{name}: {exc}") for e in group_events]
                    self._buckets.pop(key, None)
                    continue
                touched.append(bucket)
                bad += [(e, "serializer", reason) for e, reason in unwritable]
            self._sync(fs, journal, touched)
        except HdfsError as exc:
            with self.counter.lock:
                self.counter.connection_failed_count += 1
            for bucket in touched:
                bucket.failed()
            if exc.retriable:
                fs.reset()  # connect afresh: the NameNode may have restarted
            assert self._repairs is not None
            self._repairs.run()
            raise DeliveryError(f"HDFS sink {self.name} could not write a batch of {len(events)} events; the batch "
                                f"is rolled back and the files it touched are repaired. {exc}",
                                retriable=exc.retriable) from exc
        self._touched = touched
        if bad:
            self.set_aside(bad)

    def _sync(self, fs: HdfsFileSystem, journal: Journal, buckets: list[Bucket]) -> None:
        """End the batch in every file it touched (in parallel), then record their committed lengths."""
        work = [(file, data) for bucket in buckets for file, data in bucket.end_batch()]
        limit = self.config.threads_pool_size
        for start in range(0, len(work), limit):
            chunk = work[start:start + limit]
            errors = fs.call_all([file.hdfs.write_and_sync_call(data) for file, data in chunk])
            failure = next((e for e in errors if e is not None), None)
            if failure is not None:
                raise failure
        journal.committed({file.record.in_use: file.record.committed + len(data) for file, data in work})
        now = self._clock()
        for file, _ in work:
            file.pending = False
            file.rolling.flushed(now)  # arms the idle timer

    def after_commit(self) -> None:
        touched, self._touched = self._touched, []
        for bucket in touched:
            bucket.after_commit()
        while len(self._buckets) > self.config.max_open_files:
            eldest = next(iter(self._buckets))
            self._close_bucket(eldest, None)

    # -- buckets ----------------------------------------------------------------------------------

    def _bucket(self, key: str, directory: str, prefix: str, now_ms: int) -> Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            assert self._fs is not None
            assert self._journal is not None
            assert self._repairs is not None
            bucket = Bucket(key, directory, prefix, fs=self._fs, journal=self._journal, repairs=self._repairs,
                            naming=self._naming, policy=self._policy, new_format=self._new_format,
                            clock=self._clock, counter=now_ms, sink_counter=self.counter)
            self._buckets[key] = bucket
        else:
            self._buckets.move_to_end(key)
        return bucket

    def _timers(self) -> None:
        """Close files whose roll interval or idle time is up; retry the repairs that are due."""
        now = self._clock()
        for key, bucket in list(self._buckets.items()):
            why = bucket.due(now)
            if why is Roll.IDLE:
                self._close_bucket(key, why)  # Flume drops an idle bucket's writer too
            elif why is not None:
                bucket.close(why)
                with self.counter.lock:
                    self.counter.connection_closed_count += 1
        if self._repairs is not None and len(self._repairs):
            self._repairs.run()

    def _close_bucket(self, key: str, why: Roll | None) -> None:
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            return
        had_file = bucket.current is not None
        bucket.after_commit()
        bucket.close(why)
        if had_file:
            with self.counter.lock:
                self.counter.connection_closed_count += 1
