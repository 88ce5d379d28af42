"""Flume's TAILDIR source (``taildir``): follows files matching per-group patterns, one event per
line, with positions kept in a JSON position file so a restart resumes without loss or duplicates.

Each ``process()`` call (the agent's runner thread calls it in a loop) lists the files of every
file group (``filegroups.<fg>`` = absolute path whose file-name part is a regular expression), and
reads each file that grew, in batches of ``batchSize`` complete lines (``\\n``-terminated; a
``\\r`` before it is dropped; a partial last line waits for its end). Files are tracked by inode:
a file renamed away from the pattern (log rotation) is still read to its end through the open
descriptor, then the new file under the old name is picked up. A position advances only after
the channel processor accepted the batch; when it raised, ``process()`` returns BACKOFF and the
same lines are read again on the next call. Positions go to ``positionFile`` (Flume's format:
``[{"inode":N,"pos":N,"file":"/abs/path"}]``, so Flume's own file is used on migration) every
``writePosInterval`` ms and at stop, atomically and durably (:func:`flafka.fsutil.write_atomic`).

As in Flume, ``skipToEnd`` applies to files found at start that have no position; a file idle for
``idleTimeout`` ms is closed and its last, unterminated line (if any) is delivered then; a file
that shrank below its position is read again from 0.

Differences from Flume:

* ``process()`` returns READY after any batch was delivered (Flume returns BACKOFF unless
  ``maxBatchCount`` cut a file short), so a busy file is polled at once instead of after the
  growing back-off; an idle source still backs off.
* A file renamed so that it no longer matches is read to its end (Flume stops tracking it and loses
  its unread tail), also across a restart: a position entry whose inode moved to another name in
  the same directory is resumed there. A file renamed to another matching name keeps its
  position (Flume re-reads it from the start).
* A delivery failure returns BACKOFF at once (Flume sleeps inside ``process()`` and retries).
* A ``filegroups.<fg>`` directory that does not exist is logged and polled for instead of failing
  the start.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import time
from dataclasses import dataclass
from typing import ClassVar

from flafka.config.params import ComponentConfig, param, prefixed
from flafka.errors import FlafkaError
from flafka.event import Event
from flafka.fsutil import write_atomic
from flafka.java_regex import compile_java_regex
from flafka.logging_once import OncePerKind
from flafka.sources.base import PollableSource, Status

log = logging.getLogger(__name__)

_LONG_MAX = 2**63 - 1
_READ_SIZE = 1 << 18
BYTE_OFFSET_HEADER = "byteoffset"


@dataclass(frozen=True, kw_only=True)
class TaildirSourceConfig(ComponentConfig):
    batch_size_key: ClassVar[str] = "batchSize"

    filegroups: list[str] = param("filegroups", doc="Space-separated names of the file groups.")
    filegroup_paths: dict[str, str] = prefixed(
        "filegroups.",
        doc="`filegroups.<fg>` = absolute path of the group's files; the file-name part is a regular "
        "expression (the directory part is literal).",
    )
    position_file: str = param(
        "positionFile",
        default="~/.flume/taildir_position.json",
        doc="JSON file recording the inode, path and committed byte position of every tailed file.",
    )
    headers: dict[str, str] = prefixed(
        "headers.", doc="`headers.<fg>.<name>` = value: a static header on every event of file group `<fg>`."
    )
    byte_offset_header: bool = param(
        "byteOffsetHeader", default=False, doc="Add the line's byte offset in its file as header 'byteoffset'."
    )
    skip_to_end: bool = param(
        "skipToEnd", default=False, doc="Start files found at start-up without a recorded position at their end."
    )
    idle_timeout: int = param(
        "idleTimeout",
        default=120000,
        minimum=0,
        doc="Milliseconds without new lines after which a file is closed (its unterminated last line is "
        "delivered then).",
    )
    write_pos_interval: int = param(
        "writePosInterval", default=3000, minimum=0, doc="Milliseconds between writes of the position file."
    )
    batch_size: int = param("batchSize", default=100, minimum=1, doc="Lines per channel transaction.")
    max_batch_count: int = param(
        "maxBatchCount",
        default=_LONG_MAX,
        minimum=1,
        doc="Most consecutive batches read from one file before moving on to the next file.",
    )
    backoff_sleep_increment: int = param(
        "backoffSleepIncrement",
        default=1000,
        minimum=0,
        doc="Milliseconds added to the runner's sleep after each consecutive call that found nothing.",
    )
    max_backoff_sleep: int = param(
        "maxBackoffSleep", default=5000, minimum=0, doc="Longest sleep in ms between calls that find nothing."
    )
    cache_pattern_matching: bool = param(
        "cachePatternMatching",
        default=True,
        doc="Re-list a group's directory only when its modification time changed.",
    )
    file_header: bool = param("fileHeader", default=False, doc="Add the file's absolute path as a header.")
    file_header_key: str = param("fileHeaderKey", default="file", doc="Header name for the absolute path.")

    def check(self) -> list[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = []
        if not self.filegroups:
            problems.append(("filegroups", "must name at least one file group"))
        for group in self.filegroups:
            path = self.filegroup_paths.get(group)
            key = f"filegroups.{group}"
            if path is None:
                problems.append((key, "is required for every name in filegroups"))
                continue
            if not os.path.isabs(path):
                problems.append((key, f"must be an absolute path, got {path!r}"))
                continue
            try:
                compile_java_regex(os.path.basename(path))
            except ValueError as exc:
                problems.append((key, f"file-name part {exc}"))
        for key in self.headers:
            group, dot, name = key.partition(".")
            if not (group and dot and name):
                problems.append((f"headers.{key}", "must be written headers.<filegroup>.<header name>"))
        return problems


@dataclass(slots=True)
class _Group:
    name: str
    directory: str
    pattern: re.Pattern[str]
    headers: dict[str, str]
    cached: list[str] | None = None
    cached_mtime_ns: int = -1
    cached_at_ns: int = 0


class _TailFile:
    """One followed file: its inode, where it is, and the committed position."""

    __slots__ = ("buf", "buf_offset", "fd", "headers", "inode", "last_activity", "last_size", "matched",
                 "path", "pos")

    def __init__(self, inode: int, path: str, pos: int, headers: dict[str, str], now: float) -> None:
        self.inode = inode
        self.path = path
        self.pos = pos  # committed: every line before it was accepted by the channels
        self.headers = headers
        self.fd: int | None = None
        self.buf = b""  # file bytes from buf_offset on, read ahead; valid until the file shrinks
        self.buf_offset = pos
        self.last_activity = now
        self.last_size = -1
        self.matched = True

    def reset(self, pos: int) -> None:
        self.pos = pos
        self.buf = b""
        self.buf_offset = pos

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.buf = b""
        self.buf_offset = self.pos


class TaildirSource(PollableSource):
    """Follows growing files by inode, one event per line, resuming from a JSON position file."""

    config_class = TaildirSourceConfig
    config: TaildirSourceConfig

    def __init__(self, name: str, config: TaildirSourceConfig) -> None:
        super().__init__(name, config)
        self.backoff_sleep_increment_ms = config.backoff_sleep_increment
        self.max_backoff_sleep_ms = config.max_backoff_sleep
        self._position_file = os.path.abspath(os.path.expanduser(config.position_file))
        self._batch = config.batch_size
        self._idle = config.idle_timeout / 1000.0
        self._write_interval = config.write_pos_interval / 1000.0
        self._groups: list[_Group] = []
        for group in config.filegroups:
            path = config.filegroup_paths[group]
            headers = {
                key.partition(".")[2]: value for key, value in config.headers.items() if key.partition(".")[0] == group
            }
            self._groups.append(
                _Group(group, os.path.dirname(path), compile_java_regex(os.path.basename(path)), headers)
            )
        self._files: dict[int, _TailFile] = {}
        self._dirty = False
        self._last_write = 0.0
        self._once = OncePerKind(log)

    # --- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        self._close_all()
        self._files = {}
        now = time.monotonic()
        self._refresh(now, skip_to_end=self.config.skip_to_end)
        self._apply_positions(self._load_positions(), now)
        self._dirty = True
        self._last_write = now
        log.info(
            "Taildir source %s started. files=%d positionFile=%s", self.name, len(self._files), self._position_file
        )

    def stop(self) -> None:
        self._try_write_positions()
        self._close_all()
        log.info("Taildir source %s stopped.", self.name)

    def _close_all(self) -> None:
        for tf in self._files.values():
            tf.close()

    # --- the runner's call ----------------------------------------------------------------------------

    def process(self) -> Status:
        now = time.monotonic()
        delivered = 0
        more = failed = False
        try:
            self._refresh(now, skip_to_end=False)
            # Rotated-away files first: their lines are older than the current file's.
            for tf in sorted(self._files.values(), key=lambda t: t.matched):
                if tf.last_size <= tf.pos:
                    continue  # nothing new since the last call (a partial line keeps last_size ahead)
                count, cut_short, failed = self._tail(tf, now, final=False)
                delivered += count
                more = more or cut_short
                if failed:
                    break
            if not failed:
                self._close_idle(now)
            if self._dirty and now - self._last_write >= self._write_interval:
                self._try_write_positions()
        except Exception as exc:  # an I/O surprise must not end the runner: log, count, back off
            with self.counter.lock:
                self.counter.event_read_fail += 1
            self._once.log(
                logging.ERROR,
                f"process:{type(exc).__name__}",
                f"Taildir source {self.name} failed to tail files. {type(exc).__name__}: {exc}",
                exc_info=exc,
            )
            return Status.BACKOFF
        return Status.READY if (more or delivered) and not failed else Status.BACKOFF

    # --- finding files --------------------------------------------------------------------------------

    def _matching(self, group: _Group) -> list[str]:
        try:
            mtime_ns = os.stat(group.directory).st_mtime_ns
        except OSError:
            self._once.log(
                logging.WARNING,
                f"no-dir:{group.name}",
                f"Taildir source {self.name}: directory {group.directory} of file group {group.name} does "
                "not exist; waiting for it.",
            )
            return []
        # A listing taken within a second of the directory's last change may have missed a file
        # created in the same (coarse) timestamp tick: list again until it is older than that.
        if (
            group.cached is not None
            and self.config.cache_pattern_matching
            and mtime_ns == group.cached_mtime_ns
            and group.cached_at_ns - mtime_ns > 1_000_000_000
        ):
            return group.cached
        now_ns = time.time_ns()
        found: list[tuple[int, str]] = []
        fullmatch = group.pattern.fullmatch
        with os.scandir(group.directory) as entries:
            for entry in entries:
                if not fullmatch(entry.name):
                    continue
                try:
                    st = entry.stat()
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    found.append((st.st_mtime_ns, entry.path))
        found.sort()
        group.cached = [path for _, path in found]
        group.cached_mtime_ns = mtime_ns
        group.cached_at_ns = now_ns
        return group.cached

    def _file_headers(self, group_headers: dict[str, str], path: str) -> dict[str, str]:
        if not self.config.file_header:
            return group_headers
        return {**group_headers, self.config.file_header_key: path}

    def _refresh(self, now: float, *, skip_to_end: bool) -> None:
        files = self._files
        seen: set[int] = set()
        for group in self._groups:
            for path in self._matching(group):
                try:
                    st = os.stat(path)
                except FileNotFoundError:
                    continue
                inode, size = st.st_ino, st.st_size
                tf = files.get(inode)
                if tf is None:
                    start = size if skip_to_end else 0
                    tf = _TailFile(inode, path, start, self._file_headers(group.headers, path), now)
                    files[inode] = tf
                    self._dirty = True
                    log.info("Taildir source %s follows %s (inode %d) from byte %d.", self.name, path, inode, tf.pos)
                elif tf.path != path or not tf.matched:
                    tf.path = path
                    tf.headers = self._file_headers(group.headers, path)
                    tf.matched = True
                    self._dirty = True
                seen.add(inode)
                self._observe(tf, size, now)
        for inode, tf in list(files.items()):
            if inode in seen:
                continue
            tf.matched = False
            if tf.fd is None and not self._reopen_moved(tf):
                log.info("Taildir source %s no longer follows %s (inode %d): it is gone.", self.name, tf.path, inode)
                del files[inode]
                self._dirty = True
                continue
            assert tf.fd is not None
            self._observe(tf, os.fstat(tf.fd).st_size, now)

    def _observe(self, tf: _TailFile, size: int, now: float) -> None:
        if size < tf.pos:
            log.info(
                "Taildir source %s: %s (inode %d) is shorter (%d) than its position %d; reading it again "
                "from 0.", self.name, tf.path, tf.inode, size, tf.pos,
            )
            tf.reset(0)
            self._dirty = True
        if size != tf.last_size:
            tf.last_size = size
            tf.last_activity = now

    def _reopen_moved(self, tf: _TailFile) -> bool:
        """Find ``tf``'s inode under another name in its directory and open it there."""
        directory = os.path.dirname(tf.path)
        try:
            with os.scandir(directory) as entries:
                path = next((e.path for e in entries if e.inode() == tf.inode and e.is_file()), None)
        except OSError:
            return False
        if path is None:
            return False
        tf.path = path
        return self._open(tf)

    def _open(self, tf: _TailFile) -> bool:
        try:
            fd = os.open(tf.path, os.O_RDONLY)
        except OSError:
            return False
        if os.fstat(fd).st_ino != tf.inode:
            os.close(fd)
            return False
        tf.fd = fd
        return True

    # --- reading and delivering -----------------------------------------------------------------------

    def _tail(self, tf: _TailFile, now: float, *, final: bool) -> tuple[int, bool, bool]:
        """Deliver the complete lines of ``tf`` (and its partial last line when ``final``).

        Returns (events delivered, cut short by maxBatchCount, delivery failed).
        """
        if tf.fd is None and not self._open(tf):
            self._once.log(
                logging.WARNING,
                f"open:{tf.path}",
                f"Taildir source {self.name} cannot open {tf.path} (inode {tf.inode}); it is tried again.",
            )
            return 0, False, False
        delivered = 0
        batches = 0
        process_batch = self.channel_processor.process_batch
        while True:
            events, new_pos = self._read_batch(tf, final)
            if not events:
                return delivered, False, False
            try:
                process_batch(events)
            except FlafkaError:
                # Position unchanged: the same lines are read again (from the read-ahead) next call.
                return delivered, False, True
            tf.pos = new_pos
            tf.last_activity = now
            self._dirty = True
            delivered += len(events)
            if len(events) < self._batch:
                return delivered, False, False
            batches += 1
            if batches >= self.config.max_batch_count:
                return delivered, True, False

    def _read_batch(self, tf: _TailFile, final: bool) -> tuple[list[Event], int]:
        fd = tf.fd
        assert fd is not None
        buf, base = tf.buf, tf.buf_offset
        i = tf.pos - base
        if i < 0 or i > len(buf):
            buf, base, i = b"", tf.pos, 0
        events: list[Event] = []
        append = events.append
        headers = tf.headers
        offsets = self.config.byte_offset_header
        limit = self._batch
        find = buf.find
        while len(events) < limit:
            j = find(b"\n", i)
            if j < 0:
                chunk = os.pread(fd, _READ_SIZE, base + len(buf))
                if chunk:
                    buf = buf[i:] + chunk
                    base += i
                    i = 0
                    find = buf.find
                    continue
                if final and i < len(buf):
                    # The unterminated last line of a file being closed (Flume delivers it too).
                    append(Event(buf[i:], self._line_headers(headers, offsets, base + i)))
                    i = len(buf)
                break
            end = j - 1 if j > i and buf[j - 1] == 0x0D else j
            if offsets:
                event_headers = dict(headers)
                event_headers[BYTE_OFFSET_HEADER] = str(base + i)
                append(Event(buf[i:end], event_headers))
            else:
                append(Event(buf[i:end], dict(headers)))
            i = j + 1
        tf.buf, tf.buf_offset = buf, base
        return events, base + i

    @staticmethod
    def _line_headers(headers: dict[str, str], offsets: bool, offset: int) -> dict[str, str]:
        event_headers = dict(headers)
        if offsets:
            event_headers[BYTE_OFFSET_HEADER] = str(offset)
        return event_headers

    def _close_idle(self, now: float) -> None:
        for inode, tf in list(self._files.items()):
            if tf.fd is None or now - tf.last_activity < self._idle:
                continue
            _, _, failed = self._tail(tf, now, final=True)
            if failed:
                continue
            tf.close()
            log.info("Taildir source %s closed idle file %s (inode %d) at byte %d.", self.name, tf.path, inode, tf.pos)
            if not tf.matched:
                del self._files[inode]
                self._dirty = True

    # --- the position file ------------------------------------------------------------------------------

    def _load_positions(self) -> list[tuple[int, int, str]]:
        try:
            with open(self._position_file, "rb") as f:
                data = json.loads(f.read() or b"[]")
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.error(
                "Taildir source %s cannot read position file %s (%s); files start at %s.",
                self.name, self._position_file, exc, "their end" if self.config.skip_to_end else "0",
            )
            return []
        entries: list[tuple[int, int, str]] = []
        for item in data if isinstance(data, list) else []:
            if not isinstance(item, dict):
                continue
            inode, pos, path = item.get("inode"), item.get("pos"), item.get("file")
            if isinstance(inode, int) and isinstance(pos, int) and isinstance(path, str) and pos >= 0:
                entries.append((inode, pos, path))
        return entries

    def _apply_positions(self, entries: list[tuple[int, int, str]], now: float) -> None:
        for inode, pos, path in entries:
            tf = self._files.get(inode)
            if tf is not None:
                # Same inode under a matching name: the recorded position is its position.
                tf.reset(pos)
                self._observe(tf, tf.last_size, now)
                continue
            # A file of one of our groups left the pattern (rotated) while stopped: finish it if it
            # is still in the same directory under another name.
            directory, name = os.path.split(path)
            group = next((g for g in self._groups if g.directory == directory and g.pattern.fullmatch(name)), None)
            if group is None:
                continue
            orphan = _TailFile(inode, path, pos, {}, now)
            if self._reopen_moved(orphan):
                orphan.headers = self._file_headers(group.headers, orphan.path)
                orphan.matched = False
                assert orphan.fd is not None
                self._observe(orphan, os.fstat(orphan.fd).st_size, now)
                self._files[inode] = orphan
                log.info(
                    "Taildir source %s resumes rotated file %s (inode %d) at byte %d.",
                    self.name, orphan.path, inode, pos,
                )

    def _try_write_positions(self) -> None:
        try:
            self._write_positions()
        except OSError as exc:
            self._once.log(
                logging.ERROR,
                f"write-positions:{type(exc).__name__}",
                f"Taildir source {self.name} cannot write position file {self._position_file}; a restart "
                f"would deliver some lines again. {exc}",
            )

    def _write_positions(self) -> None:
        entries = [{"inode": tf.inode, "pos": tf.pos, "file": tf.path} for tf in self._files.values()]
        payload = json.dumps(entries, separators=(",", ":")).encode()
        os.makedirs(os.path.dirname(self._position_file), exist_ok=True)
        write_atomic(self._position_file, payload)
        self._dirty = False
        self._last_write = time.monotonic()
