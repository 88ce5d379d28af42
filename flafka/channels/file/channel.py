"""Flume's durable file channel (``org.apache.flume.channel.file.FileChannel``, reference §3.5).

Events are appended to a segmented log in ``dataDirs`` (format in :mod:`flafka.channels.file.log`)
and survive a crash of the process or the machine: a put commit returns only after its events are
written and fsynced, a take commit only after a TAKE record naming the taken ids is. Memory holds
12 bytes per queued event (where its record is), not the event: a take reads its events back from
the file. Segments are deleted oldest first once every event in them has been taken.

Semantics kept from Flume: capacity is checked at put (a put that does not fit waits up to
``keep-alive`` seconds, then fails with :class:`~flafka.errors.ChannelFullError`); taken events occupy
capacity until their take commits; a rolled-back take returns its events to the head in order; puts
are refused while free disk space would drop below ``minimumRequiredSpace``; the directories are
locked (``in_use.lock``) so two agents cannot share them.

Differences from Flume:

* The on-disk format is flafka's own (Flume's is Java/protobuf): a Flume agent's directories cannot be
  read, and flafka's cannot be read by Flume. Drain a Flume file channel before switching.
* A take waits up to the timeout its caller passes (sinks pass 0, so they see Flume's non-blocking take).
* Takes are not refused for lack of disk space (a take commit writes a few bytes and frees whole
  segments); Flume refuses takes too.
* ``encryption.*`` is refused ("not supported yet"); ``use-log-replay-v1``, ``use-fast-replay`` and
  ``compressBackupCheckpoint`` are accepted and have no effect: there is one replay, and the checkpoint
  is a few hundred bytes of JSON instead of Flume's capacity-sized queue file.
* ``fsyncPerTransaction = false`` fsyncs every ``fsyncInterval`` seconds instead: up to that much of
  committed data (puts and takes) can be lost or redelivered after a machine crash; a process crash
  loses nothing (the data is in the page cache).
* After a failed fsync the channel refuses every commit until it is restarted (counted in
  ``Unhealthy``), unless the failed commit could be undone exactly; Flume goes on.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from flafka.channels.base import Channel, Transaction
from flafka.channels.file.checkpoint import Checkpoint, DirLock, read_checkpoint, write_checkpoint
from flafka.channels.file.log import LogError, Run, Segment, SegmentLog, scan, untaken_runs
from flafka.config.params import ComponentConfig, param, prefixed
from flafka.errors import ChannelError, ChannelFullError, TransactionError
from flafka.event import Event
from flafka.logging_once import OncePerKind
from flafka.monitoring.counters import ChannelCounter

__all__ = ["FileChannel", "FileChannelConfig", "FileChannelCounter", "FileTransaction"]

log = logging.getLogger(__name__)

MAX_FILE_SIZE = 2146435071  # Flume's default and cap
FLOOR_MINIMUM_REQUIRED_SPACE = 1024 * 1024  # Flume's floor
_ENCRYPTION_KEYS = ("encryption.activeKey", "encryption.cipherProvider", "encryption.keyProvider",
                    "encryption.keyProvider.keyStoreFile", "encryption.keyProvider.keyStorePasswordFile",
                    "encryption.keyProvider.keys")


def _path(text: str) -> str:
    return os.path.abspath(os.path.expanduser(text.strip()))


@dataclass(frozen=True, kw_only=True)
class FileChannelConfig(ComponentConfig):
    checkpoint_dir: str = param(
        "checkpointDir", default="~/.flume/file-channel/checkpoint",
        doc="Directory of the checkpoint and the channel's lock file (`in_use.lock`).")
    data_dirs: str = param(
        "dataDirs", default="~/.flume/file-channel/data",
        doc="Comma-separated directories of the log segments; segments rotate across them (put them on "
            "different disks to spread the writes).")
    use_dual_checkpoints: bool = param(
        "useDualCheckpoints", default=False, doc="Also write every checkpoint to backupCheckpointDir.")
    backup_checkpoint_dir: str | None = param(
        "backupCheckpointDir", default=None,
        doc="Directory of the backup checkpoint; required with useDualCheckpoints, must differ from "
            "checkpointDir.")
    compress_backup_checkpoint: bool = param(
        "compressBackupCheckpoint", default=False,
        doc="Accepted, no effect: the checkpoint is a few hundred bytes and is never compressed.")
    transaction_capacity: int = param(
        "transactionCapacity", default=10000, minimum=1, doc="Most events one transaction puts or takes.")
    checkpoint_interval: int = param(
        "checkpointInterval", default=30000, minimum=1, doc="Milliseconds between checkpoints.")
    max_file_size: int = param(
        "maxFileSize", default=MAX_FILE_SIZE, minimum=1,
        doc="Bytes after which a log segment is closed and a new one started (at most 2146435071, as "
            "in Flume).")
    minimum_required_space: int = param(
        "minimumRequiredSpace", default=524288000, minimum=0,
        doc="Free bytes to keep on a data directory's disk: a put commit that would leave less is refused "
            "(at least 1048576, as in Flume).")
    capacity: int = param("capacity", default=1000000, minimum=1, doc="Most events the channel holds.")
    keep_alive: float = param(
        "keep-alive", default=3.0, minimum=0, doc="Seconds a put waits for room before failing.")
    checkpoint_on_close: bool = param(
        "checkpointOnClose", default=True, doc="Write a checkpoint when the channel stops.")
    fsync_per_transaction: bool = param(
        "fsyncPerTransaction", default=True,
        doc="fsync the log at every commit; false fsyncs every fsyncInterval seconds instead (faster, but "
            "a machine crash loses or redelivers up to that much).")
    fsync_interval: int = param(
        "fsyncInterval", default=5, minimum=1,
        doc="Seconds between fsyncs when fsyncPerTransaction is false.")
    use_log_replay_v1: bool = param(
        "use-log-replay-v1", default=False, doc="Accepted, no effect: flafka has one replay.")
    use_fast_replay: bool = param(
        "use-fast-replay", default=False, doc="Accepted, no effect: flafka has one replay.")
    encryption_active_key: str | None = param(
        "encryption.activeKey", default=None, doc="Not supported yet (log encryption).")
    encryption_cipher_provider: str | None = param(
        "encryption.cipherProvider", default=None, doc="Not supported yet (log encryption).")
    encryption_key_provider: str | None = param(
        "encryption.keyProvider", default=None, doc="Not supported yet (log encryption).")
    encryption_key_store_file: str | None = param(
        "encryption.keyProvider.keyStoreFile", default=None, doc="Not supported yet (log encryption).")
    encryption_key_store_password_file: str | None = param(
        "encryption.keyProvider.keyStorePasswordFile", default=None,
        doc="Not supported yet (log encryption).")
    encryption_keys: str | None = param(
        "encryption.keyProvider.keys", default=None, doc="Not supported yet (log encryption).")
    encryption_key_passwords: dict[str, str] = prefixed(
        "encryption.keyProvider.keys.", doc="Not supported yet (log encryption): `<alias>.passwordFile`.")

    def check(self) -> list[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = []
        if self.transaction_capacity > self.capacity:
            problems.append(("transactionCapacity",
                             f"({self.transaction_capacity}) must not exceed capacity ({self.capacity})"))
        if not self.data_directories():
            problems.append(("dataDirs", "names no directory"))
        if self.use_dual_checkpoints:
            if not self.backup_checkpoint_dir:
                problems.append(("backupCheckpointDir", "is required when useDualCheckpoints is true"))
            elif _path(self.backup_checkpoint_dir) == _path(self.checkpoint_dir):
                problems.append(("backupCheckpointDir",
                                 f"must differ from checkpointDir ({_path(self.checkpoint_dir)})"))
        values = dict(zip(_ENCRYPTION_KEYS, (
            self.encryption_active_key, self.encryption_cipher_provider, self.encryption_key_provider,
            self.encryption_key_store_file, self.encryption_key_store_password_file, self.encryption_keys),
            strict=True))
        values.update({"encryption.keyProvider.keys." + k: v for k, v in self.encryption_key_passwords.items()})
        used = [key for key, value in values.items() if value is not None]
        if used:
            problems.append((used[0],
                             "is not supported yet: flafka's file channel does not encrypt its log files "
                             f"(set: {', '.join(used)}); remove the encryption.* properties and use an "
                             "encrypted filesystem for the data directories"))
        return problems

    def check_warnings(self) -> list[tuple[str | None, str]]:
        warnings: list[tuple[str | None, str]] = []
        if self.max_file_size > MAX_FILE_SIZE:
            warnings.append(("maxFileSize", f"({self.max_file_size}) is capped at {MAX_FILE_SIZE}, as in Flume"))
        if self.minimum_required_space < FLOOR_MINIMUM_REQUIRED_SPACE:
            warnings.append(("minimumRequiredSpace",
                             f"({self.minimum_required_space}) is raised to {FLOOR_MINIMUM_REQUIRED_SPACE}, as "
                             "in Flume"))
        if self.backup_checkpoint_dir and not self.use_dual_checkpoints:
            warnings.append(("backupCheckpointDir", "is ignored: useDualCheckpoints is false"))
        return warnings

    def max_events_per_transaction(self) -> int:
        return self.transaction_capacity

    def exclusive_paths(self) -> list[tuple[str, str]]:
        # Each directory is locked (in_use.lock) for the channel: a second channel on one of them fails to
        # start. Nesting is fine: the lock, the checkpoint and the segments are looked up in the directory
        # itself, never below it.
        claimed = [("checkpointDir", self.checkpoint_dir)]
        if self.use_dual_checkpoints and self.backup_checkpoint_dir:
            claimed.append(("backupCheckpointDir", self.backup_checkpoint_dir))
        claimed += [("dataDirs", d.strip()) for d in self.data_dirs.split(",") if d.strip()]
        return claimed

    def data_directories(self) -> list[str]:
        """dataDirs as absolute paths, each once (a directory named twice would hold every segment twice)."""
        return list(dict.fromkeys(_path(d) for d in self.data_dirs.split(",") if d.strip()))

    def backup_directory(self) -> str | None:
        return _path(self.backup_checkpoint_dir) if self.use_dual_checkpoints and self.backup_checkpoint_dir \
            else None

    def effective_max_file_size(self) -> int:
        return min(self.max_file_size, MAX_FILE_SIZE)

    def effective_minimum_required_space(self) -> int:
        return max(self.minimum_required_space, FLOOR_MINIMUM_REQUIRED_SPACE)

    def directories(self) -> tuple[object, ...]:
        """What a running channel cannot change in place."""
        return (_path(self.checkpoint_dir), self.backup_directory(), tuple(self.data_directories()))


class FileChannelCounter(ChannelCounter):
    """Flume's FileChannelCounter keys: ChannelCounter's plus Open, Closed, Unhealthy and error counts."""

    fields: ClassVar[tuple[str, ...]] = (
        *ChannelCounter.fields, "unhealthy", "event_put_error_count", "event_take_error_count",
        "checkpoint_write_error_count", "checkpoint_backup_write_error_count")
    unhealthy: int
    event_put_error_count: int
    event_take_error_count: int
    checkpoint_write_error_count: int
    checkpoint_backup_write_error_count: int

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.open = False

    def snapshot(self) -> dict[str, str]:
        out = super().snapshot()
        out["Open"] = "true" if self.open else "false"
        out["Closed"] = "0" if self.open else "1"
        return out


def _now_ms() -> int:
    return int(time.time() * 1000)


class FileChannel(Channel):
    """See the module docstring.

    ``free_space`` (bytes free on the disk of a directory) and ``clock_ms`` (put time) can be replaced,
    for tests.
    """

    config_class = FileChannelConfig
    config: FileChannelConfig
    counter: FileChannelCounter
    durable = True

    def __init__(self, name: str, config: FileChannelConfig, *,
                 free_space: Callable[[str], int] | None = None,
                 clock_ms: Callable[[], int] | None = None) -> None:
        super().__init__(name, config)
        self.counter = FileChannelCounter(name)
        self._free_space = free_space
        self._clock_ms = clock_ms or _now_ms
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._has_room = threading.Condition(self._lock)
        self._queue: deque[Run] = deque()
        self._size = 0  # events queued (committed, not taken)
        self._in_flight = 0  # taken, not yet committed: still counts against capacity
        self._reserved = 0  # put by open transactions: capacity is checked at put
        self._wake_generation = 0
        self._log: SegmentLog | None = None
        self._dir_locks: list[DirLock] = []
        self._checkpoint_lock = threading.Lock()
        self._stopping = threading.Event()
        self._housekeeper: threading.Thread | None = None
        self._once = OncePerKind(log)
        #: What the last start's replay found wrong, one sentence each (also logged).
        self.replay_problems: list[str] = []
        self._apply(config)

    def _apply(self, config: FileChannelConfig) -> None:
        self.config = config
        self._capacity = config.capacity
        self._tx_capacity = config.transaction_capacity
        self._keep_alive = config.keep_alive
        self.counter.channel_capacity = config.capacity
        if self._log is not None:
            self._log.max_file_size = config.effective_max_file_size()
            self._log.minimum_required_space = config.effective_minimum_required_space()

    # --- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._log is not None:
            return
        began = time.monotonic()
        try:
            self._open()
        except OSError as exc:
            self._close_files()
            raise ChannelError(f"file channel {self.name} cannot start: {exc}") from exc
        except BaseException:
            self._close_files()
            raise
        counter = self.counter
        counter.open = True
        counter.channel_capacity = self._capacity
        counter.channel_size = self._size
        self._stopping.clear()
        self._housekeeper = threading.Thread(target=self._housekeeping, name=f"file-channel-{self.name}",
                                             daemon=True)
        self._housekeeper.start()
        assert self._log is not None
        log.info("File channel %s started. events=%d segments=%d replay_seconds=%.3f data_dirs=%s",
                 self.name, self._size, len(self._log.segments), time.monotonic() - began,
                 ",".join(self._log.dirs))

    def _open(self) -> None:
        config = self.config
        checkpoint_dir = _path(config.checkpoint_dir)
        backup_dir = config.backup_directory()
        directories = [checkpoint_dir, *([backup_dir] if backup_dir else []), *config.data_directories()]
        by_real: dict[str, str] = {}
        for directory in directories:
            os.makedirs(directory, exist_ok=True)
            by_real.setdefault(os.path.realpath(directory), directory)
        for directory in by_real.values():  # a directory reached under two names is locked once
            self._dir_locks.append(DirLock.acquire(directory))
        data_dirs: list[str] = []
        data_reals: set[str] = set()
        for directory in config.data_directories():
            real = os.path.realpath(directory)
            if real not in data_reals:  # one directory under two names would hold every segment twice
                data_reals.add(real)
                data_dirs.append(directory)
        checkpoint = self._read_checkpoints(checkpoint_dir, backup_dir)
        try:
            replay = scan(data_dirs, checkpoint.first_segment if checkpoint else None, repair=True)
        except LogError as exc:
            raise LogError(f"file channel {self.name} cannot start: {exc}") from exc
        except OSError as exc:
            raise ChannelError(f"file channel {self.name} cannot read its log: {exc}") from exc
        if checkpoint is None and replay.segments:
            log.warning("File channel %s found no checkpoint in %s; every segment found was replayed. segments=%d",
                        self.name, checkpoint_dir, len(replay.segments))
        problems = self.replay_problems = []
        for damage in replay.damage:
            problems.append(f"damaged log data: {damage}")
        for first, end in replay.lost_ids:
            problems.append(f"events {first}..{end - 1} are missing between two segments (lost with damaged data)")
        for path in replay.stale:
            log.warning("File channel %s deleted a fully consumed segment left by an interrupted cleanup. path=%s",
                        self.name, path)
        for problem in problems:
            log.error("File channel %s: %s", self.name, problem)
        runs = untaken_runs(replay.segments, replay.taken)
        next_id = replay.next_id
        if checkpoint is not None and not replay.segments:
            next_id = max(next_id, checkpoint.next_event_id)
        segment_log = SegmentLog(self.name, data_dirs, replay.segments, next_id,
                                 max_file_size=config.effective_max_file_size(),
                                 minimum_required_space=config.effective_minimum_required_space(),
                                 free_space=self._free_space)
        segment_log.open(replay.next_seq)
        self._log = segment_log
        self._queue = deque(runs)
        self._size = sum(run[2] - run[1] for run in runs)
        self._in_flight = self._reserved = 0
        self._checkpoint_dir, self._backup_dir = checkpoint_dir, backup_dir
        if not self._write_checkpoint():
            raise ChannelError(f"file channel {self.name} cannot write its checkpoint in {checkpoint_dir}")
        self._reclaim()
        if self._size > self._capacity:
            log.warning("File channel %s holds more events than its capacity; puts wait until sinks take them. "
                        "events=%d capacity=%d", self.name, self._size, self._capacity)

    def _read_checkpoints(self, checkpoint_dir: str, backup_dir: str | None) -> Checkpoint | None:
        found: list[Checkpoint] = []
        for directory in [checkpoint_dir, *([backup_dir] if backup_dir else [])]:
            checkpoint, problem = read_checkpoint(directory)
            if problem is not None:
                log.warning("File channel %s ignores a damaged checkpoint. %s", self.name, problem)
            if checkpoint is not None:
                found.append(checkpoint)
        if not found:
            return None
        # The first segment only moves forward: the highest one is the newest checkpoint.
        return max(found, key=lambda c: (c.first_segment, c.written_at_ms))

    def stop(self) -> None:
        self._stopping.set()
        if self._housekeeper is not None:
            self._housekeeper.join(30.0)
            self._housekeeper = None
        segment_log = self._log
        if segment_log is not None:
            try:
                if not self.config.fsync_per_transaction:
                    segment_log.sync_all()
                if self.config.checkpoint_on_close:
                    self._write_checkpoint()
            except OSError as exc:
                log.error("File channel %s could not sync its log at stop: %s", self.name, exc)
        self._close_files()
        self.counter.open = False
        self.wakeup()
        if segment_log is not None:
            log.info("File channel %s stopped. events=%d", self.name, self._size)

    def _close_files(self) -> None:
        segment_log, self._log = self._log, None
        if segment_log is not None:
            segment_log.close()
        for lock in self._dir_locks:
            lock.release()
        self._dir_locks = []

    def _housekeeping(self) -> None:
        last_checkpoint = last_sync = time.monotonic()
        while True:
            config = self.config
            checkpoint_every = config.checkpoint_interval / 1000.0
            sync_every = None if config.fsync_per_transaction else float(config.fsync_interval)
            now = time.monotonic()
            due = last_checkpoint + checkpoint_every
            if sync_every is not None:
                due = min(due, last_sync + sync_every)
            if self._stopping.wait(max(0.0, due - now)):
                return
            segment_log = self._log
            if segment_log is None:
                return
            now = time.monotonic()
            if sync_every is not None and now >= last_sync + sync_every:
                last_sync = now
                try:
                    segment_log.sync_all()
                except OSError as exc:
                    self._once.log(logging.ERROR, "sync", f"File channel {self.name}: the periodic fsync failed: "
                                   f"{exc}")
            if now >= last_checkpoint + checkpoint_every:
                last_checkpoint = now
                self._write_checkpoint()

    def _write_checkpoint(self, first_segment: int | None = None) -> bool:
        with self._checkpoint_lock:
            return self._write_checkpoint_locked(first_segment)

    def _write_checkpoint_locked(self, first_segment: int | None = None) -> bool:
        segment_log = self._log
        if segment_log is None:
            return False
        with segment_log.write_lock:
            first = segment_log.segments[0].seq if first_segment is None else first_segment
            checkpoint = Checkpoint(first, segment_log.next_id, self._size, self._clock_ms())
        try:
            write_checkpoint(self._checkpoint_dir, checkpoint)
        except OSError as exc:
            with self.counter.lock:
                self.counter.checkpoint_write_error_count += 1
            self._once.log(logging.ERROR, "checkpoint",
                           f"File channel {self.name} could not write its checkpoint in {self._checkpoint_dir}: "
                           f"{exc}; consumed segments are kept until it can")
            return False
        if self._backup_dir is not None:
            try:
                write_checkpoint(self._backup_dir, checkpoint)
            except OSError as exc:
                with self.counter.lock:
                    self.counter.checkpoint_backup_write_error_count += 1
                self._once.log(logging.ERROR, "backup-checkpoint",
                               f"File channel {self.name} could not write its backup checkpoint in "
                               f"{self._backup_dir}: {exc}")
        return True

    def _reclaim(self) -> None:
        """Delete the oldest segments whose events have all been taken (never the newest one)."""
        segment_log = self._log
        if segment_log is None:
            return
        with self._checkpoint_lock:
            while True:
                with segment_log.write_lock:
                    if len(segment_log.segments) < 2:
                        return
                    head, after = segment_log.segments[0], segment_log.segments[1]
                with self._lock:
                    if head.taken < len(head.offsets):
                        return
                # The checkpoint moves past the segment first: a crash in between leaves a stale
                # segment, which the next start deletes, never a missing one.
                if not self._write_checkpoint_locked(after.seq):
                    return
                try:
                    segment_log.drop_head()
                except OSError as exc:
                    self._once.log(logging.ERROR, "unlink", f"File channel {self.name} could not delete "
                                   f"{head.path}: {exc}; the next start deletes it")
                    return
                log.debug("File channel %s deleted a consumed segment. path=%s", self.name, head.path)

    # --- the Channel contract -------------------------------------------------------------------------

    def transaction(self) -> FileTransaction:
        if self._log is None:
            raise ChannelError(f"file channel {self.name} is not started")
        return FileTransaction(self)

    def transaction_capacity(self) -> int:
        return self._tx_capacity

    def size(self) -> int:
        return self._size

    def wait_for_events(self, timeout: float) -> bool:
        with self._lock:
            if self._size:
                return True
            generation = self._wake_generation
            self._not_empty.wait_for(lambda: bool(self._size) or self._wake_generation != generation, timeout)
            return bool(self._size)

    def wakeup(self) -> None:
        with self._lock:
            self._wake_generation += 1
            self._not_empty.notify_all()
            self._has_room.notify_all()

    def reconfigure(self, config: object) -> bool:
        assert isinstance(config, FileChannelConfig)
        if config.directories() != self.config.directories():
            return False
        with self._lock:
            self._apply(config)
            self._has_room.notify_all()
        return True

    def segment_paths(self) -> list[str]:
        """The live segment files, oldest first."""
        segment_log = self._log
        if segment_log is None:
            return []
        with segment_log.write_lock:
            return [s.path for s in segment_log.segments]

    # --- critical sections used by FileTransaction ----------------------------------------------------

    def _reserve(self, count: int) -> None:
        with self._lock:
            def room() -> bool:
                return self._size + self._in_flight + self._reserved + count <= self._capacity

            if not room() and not self._has_room.wait_for(room, self._keep_alive):
                raise ChannelFullError(
                    f"file channel {self.name} is full (capacity {self._capacity} events); could not put "
                    f"{count} events within keep-alive {self._keep_alive:g}s: the sinks are not keeping up")
            self._reserved += count

    def _take(self, max_events: int, timeout: float) -> list[Run]:
        with self._lock:
            queue = self._queue
            if not queue and timeout > 0:
                generation = self._wake_generation
                self._not_empty.wait_for(lambda: bool(queue) or self._wake_generation != generation, timeout)
            runs: list[Run] = []
            wanted = max_events
            while queue and wanted:
                head = queue[0]
                count = head[2] - head[1]
                if count <= wanted:
                    runs.append(queue.popleft())
                    wanted -= count
                else:
                    runs.append([head[0], head[1], head[1] + wanted])
                    head[1] += wanted
                    wanted = 0
            taken = max_events - wanted
            self._size -= taken
            self._in_flight += taken
            return runs

    def _read(self, runs: list[Run]) -> list[Event]:
        segment_log = self._log
        events: list[Event] = []
        try:
            if segment_log is None:
                raise ChannelError(f"file channel {self.name} is stopped")
            bad = segment_log.read(runs, events)
        except (OSError, ChannelError) as exc:
            self._give_back(runs)
            with self.counter.lock:
                self.counter.event_take_error_count += 1
            if isinstance(exc, ChannelError):
                raise
            raise ChannelError(f"file channel {self.name} could not read events back: {exc}") from exc
        if bad:
            with self.counter.lock:
                self.counter.event_take_error_count += bad
        return events

    def _commit(self, puts: Sequence[Event], takes: list[Run]) -> None:
        if not puts and not takes:
            return
        segment_log = self._log
        counter = self.counter
        try:
            if segment_log is None:
                raise ChannelError(f"file channel {self.name} is stopped")
            written = segment_log.write(puts, [(run[1], run[2]) for run in takes], self._clock_ms())
            if self.config.fsync_per_transaction:
                segment_log.sync(written)
        except ChannelError as exc:
            if puts:
                with counter.lock:
                    counter.event_put_error_count += 1
            if takes:
                with counter.lock:
                    counter.event_take_error_count += 1
            if segment_log is not None and segment_log.failed is not None:
                counter.unhealthy = 1
            if not isinstance(exc, ChannelFullError):
                self._once.log(logging.ERROR, "commit", f"File channel {self.name}: a commit failed: {exc}")
            raise
        taken = sum(run[2] - run[1] for run in takes)
        with self._lock:
            if puts:
                segment, first, end = written.segment, written.first_id, written.first_id + written.count
                self._reserved -= len(puts)
                self._size += len(puts)
                queue = self._queue
                if queue and queue[-1][0] is segment and queue[-1][2] == first:
                    queue[-1][2] = end
                else:
                    queue.append([segment, first, end])
                self._not_empty.notify_all()
            if takes:
                self._in_flight -= taken
                for run in takes:
                    run[0].taken += run[2] - run[1]
                self._has_room.notify_all()
            size = self._size
        with counter.lock:
            counter.event_put_success_count += len(puts)
            counter.event_take_success_count += taken
        counter.channel_size = size
        # A take can finish the oldest segment; a put that rotated can make a finished one not the newest.
        head: Segment = segment_log.segments[0]
        if head.taken >= len(head.offsets) and len(segment_log.segments) > 1:
            self._reclaim()

    def _give_back(self, takes: list[Run]) -> None:
        """Return taken runs to the head of the queue, in their order."""
        with self._lock:
            queue = self._queue
            for run in reversed(takes):
                if queue and queue[0][0] is run[0] and queue[0][1] == run[2]:
                    queue[0][1] = run[1]
                else:
                    queue.appendleft([run[0], run[1], run[2]])
                count = run[2] - run[1]
                self._in_flight -= count
                self._size += count
            self._not_empty.notify_all()

    def _rollback(self, put_count: int, takes: list[Run]) -> None:
        if takes:
            self._give_back(takes)
        with self._lock:
            self._reserved -= put_count
            if put_count:
                self._has_room.notify_all()
            self.counter.channel_size = self._size


class FileTransaction(Transaction):
    __slots__ = ("_channel", "_puts", "_taken", "_takes")

    def __init__(self, channel: FileChannel) -> None:
        super().__init__()
        self._channel = channel
        self._puts: list[Event] = []
        self._takes: list[Run] = []
        self._taken = 0

    def _do_put_batch(self, events: Sequence[Event]) -> None:
        channel = self._channel
        with channel.counter.lock:
            channel.counter.event_put_attempt_count += len(events)
        if len(self._puts) + len(events) > channel._tx_capacity:
            raise TransactionError(
                f"file channel {channel.name}: a transaction may put at most transactionCapacity="
                f"{channel._tx_capacity} events; raise transactionCapacity or lower the source's batch size")
        channel._reserve(len(events))
        self._puts.extend(events)

    def _do_take_batch(self, max_events: int, timeout: float) -> list[Event]:
        channel = self._channel
        room = channel._tx_capacity - self._taken
        if room <= 0:
            raise TransactionError(
                f"file channel {channel.name}: a transaction may take at most transactionCapacity="
                f"{channel._tx_capacity} events; lower the sink's batch size")
        runs = channel._take(min(max_events, room), timeout)
        events = channel._read(runs) if runs else []
        with channel.counter.lock:
            channel.counter.event_take_attempt_count += max(1, len(events))
        self._takes.extend(runs)
        self._taken += sum(run[2] - run[1] for run in runs)
        return events

    def _do_commit(self) -> None:
        self._channel._commit(self._puts, self._takes)
        self._puts = []
        self._takes = []
        self._taken = 0

    def _do_rollback(self) -> None:
        puts, self._puts = self._puts, []
        takes, self._takes = self._takes, []
        self._taken = 0
        self._channel._rollback(len(puts), takes)

