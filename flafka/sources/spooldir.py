"""Flume's spooling directory source (``spooldir``): delivers complete, immutable files dropped in a
directory, then renames (``name.COMPLETED``), deletes, or marks them done in the tracker directory.

One thread polls the directory (every ``pollDelay`` ms when idle), picks a file by ``consumeOrder``,
reads it in batches through its deserializer (``LINE``, ``AVRO``, see
:mod:`flafka.sources.deserializers`) and hands each batch to the channel processor. A batch the
channels refused is offered again, unchanged, after a back-off that doubles from 250 ms up to
``maxBackoff``. The position is advanced only after a batch was accepted: it is kept in
``<trackerDir>/.flumespool-main.meta`` (JSON: file, its size/mtime/inode identity and the position
after the last accepted event, written with :func:`flafka.fsutil.write_atomic`), so a restart resumes
that file exactly where it stopped: no loss, no duplicates.

Differences from Flume:

* The tracker file is JSON, not Flume's Avro ``DurablePositionTracker`` file; a Flume tracker file
  is ignored with a warning (that one file is then read again from its start).
* Where Flume stops the source (a file modified while being read, a ``.COMPLETED`` name that already
  exists, an undecodable byte with ``decodeErrorPolicy = FAIL``, a file that cannot be renamed),
  flafka logs an error naming the file, leaves the file where it is, stops consuming it and goes
  on with the other files. ``event_read_fail`` counts undecodable input.
* A missing ``spoolDir`` at start is logged and polled for instead of failing the start.
* ``includePattern``/``ignorePattern`` are Python regular expressions matched against the whole file
  name (Java's ``Matcher.matches()``); the common syntax is the same.
* ``consumeOrder = random`` picks uniformly among the candidates of each listing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import random
import threading
from dataclasses import dataclass
from typing import ClassVar

from flafka.config.params import ComponentConfig, Nested, nested, param
from flafka.errors import FlafkaError
from flafka.event import Event
from flafka.fsutil import fsync_directory, write_atomic
from flafka.java_regex import compile_java_regex
from flafka.logging_once import OncePerKind
from flafka.sources.base import EventDrivenSource
from flafka.sources.deserializers import (
    DECODE_ERRORS,
    DeserializerError,
    EventDeserializer,
    FileEventReader,
    LineDeserializerConfig,
    Position,
)

log = logging.getLogger(__name__)

META_FILE_NAME = ".flumespool-main.meta"
_FIRST_BACKOFF_MS = 250

#: A file's identity while it is consumed: size, modification time (ns) and inode.
Identity = tuple[int, int, int]


@dataclass(frozen=True, kw_only=True)
class SpoolDirectorySourceConfig(ComponentConfig):
    batch_size_key: ClassVar[str] = "batchSize"

    spool_dir: str = param("spoolDir", doc="Directory to read files from.")
    file_suffix: str = param(
        "fileSuffix", default=".COMPLETED", doc="Suffix appended to a file's name once it is fully delivered."
    )
    delete_policy: str = param(
        "deletePolicy",
        default="never",
        choices=("never", "immediate"),
        doc="What happens to a delivered file: kept (renamed or marked) or deleted at once.",
    )
    file_header: bool = param("fileHeader", default=False, doc="Add the file's absolute path as a header.")
    file_header_key: str = param("fileHeaderKey", default="file", doc="Header name for the absolute path.")
    basename_header: bool = param("basenameHeader", default=False, doc="Add the file's name as a header.")
    basename_header_key: str = param(
        "basenameHeaderKey", default="basename", doc="Header name for the file's name."
    )
    include_pattern: str = param(
        "includePattern", default="^.*$", doc="Regular expression a file name must match to be read."
    )
    ignore_pattern: str = param(
        "ignorePattern", default="^$", doc="Regular expression of file names to skip (wins over includePattern)."
    )
    tracker_dir: str = param(
        "trackerDir",
        default=".flumespool",
        doc="Directory for the position tracker and completion markers; relative to spoolDir unless absolute.",
    )
    tracking_policy: str = param(
        "trackingPolicy",
        default="rename",
        choices=("rename", "tracker_dir"),
        doc="How a delivered file is marked: renamed with fileSuffix, or an empty marker file "
        "`<trackerDir>/<relative path><fileSuffix>` (the file keeps its name).",
    )
    consume_order: str = param(
        "consumeOrder",
        default="oldest",
        choices=("oldest", "youngest", "random"),
        doc="Which file is read next, by modification time (ties: smaller name first).",
    )
    poll_delay: int = param("pollDelay", default=500, minimum=1, doc="Milliseconds between directory polls when idle.")
    recursive_directory_search: bool = param(
        "recursiveDirectorySearch", default=False, doc="Also read files in subdirectories (hidden ones excepted)."
    )
    max_backoff: int = param(
        "maxBackoff",
        default=4000,
        minimum=1,
        doc="Longest wait in ms before a refused batch is offered again (the wait doubles from 250 ms).",
    )
    batch_size: int = param("batchSize", default=100, minimum=1, doc="Events per channel transaction.")
    input_charset: str = param(
        "inputCharset", default="UTF-8", doc="Charset of the files (LINE: must be ASCII compatible)."
    )
    decode_error_policy: str = param(
        "decodeErrorPolicy",
        default="FAIL",
        choices=tuple(DECODE_ERRORS),
        doc="Undecodable bytes: FAIL stops reading that file (logged, counted), REPLACE puts U+FFFD in "
        "their place, IGNORE drops them.",
    )
    deserializer: Nested[EventDeserializer] = nested(
        "deserializer",
        kind="deserializer",
        default="LINE",
        doc="How a file becomes events: LINE, AVRO, or a Python class path of an EventDeserializer.",
        options_doc="Deserializer settings: LINE `deserializer.maxLineLength` (2048) and `deserializer.outputCharset` "
        "(UTF-8); AVRO `deserializer.schemaType` (HASH or LITERAL).",
    )
    buffer_max_line_length: int | None = param(
        "bufferMaxLineLength",
        default=None,
        minimum=1,
        doc="Deprecated: sets deserializer.maxLineLength of the LINE deserializer (and wins over it).",
    )
    buffer_max_lines: int | None = param("bufferMaxLines", default=None, doc="Obsolete and ignored, as in Flume.")

    def effective_deserializer(self) -> Nested[EventDeserializer]:
        """The deserializer, with the deprecated ``bufferMaxLineLength`` applied to a LINE deserializer."""
        chosen = self.deserializer
        if self.buffer_max_line_length is not None and isinstance(chosen.config, LineDeserializerConfig):
            return chosen.with_config(dataclasses.replace(chosen.config, max_line_length=self.buffer_max_line_length))
        return chosen

    def build_deserializer(self) -> EventDeserializer:
        """A deserializer for this source's files; ValueError when it cannot read ``inputCharset``."""
        return self.effective_deserializer().build(self.input_charset, self.decode_error_policy)

    def check(self) -> list[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = []
        for key, pattern in (("includePattern", self.include_pattern), ("ignorePattern", self.ignore_pattern)):
            try:
                compile_java_regex(pattern)
            except ValueError as exc:
                problems.append((key, str(exc)))
        if not self.file_suffix and self.delete_policy == "never":
            problems.append(("fileSuffix", "must not be empty unless deletePolicy is immediate"))
        try:
            self.build_deserializer()
        except ValueError as exc:
            problems.append(("inputCharset", str(exc)))
        return problems


@dataclass(slots=True)
class _Current:
    """The file being consumed."""

    path: str
    rel: str
    identity: Identity
    reader: FileEventReader


def _identity(st: os.stat_result) -> Identity:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class SpoolDirectorySource(EventDrivenSource):
    """Delivers complete files dropped in a directory, then renames, marks or deletes them."""

    config_class = SpoolDirectorySourceConfig
    config: SpoolDirectorySourceConfig

    def __init__(self, name: str, config: SpoolDirectorySourceConfig) -> None:
        super().__init__(name, config)
        try:
            deserializer = config.build_deserializer()
        except ValueError as exc:
            raise ValueError(f"spooldir source {name}: inputCharset: {exc}") from exc
        self._deserializer = deserializer
        self._deserializer_id = f"{type(deserializer).__module__}.{type(deserializer).__qualname__}"
        self._spool = os.path.abspath(config.spool_dir)
        tracker = os.path.expanduser(config.tracker_dir)
        self._tracker_dir = tracker if os.path.isabs(tracker) else os.path.join(self._spool, tracker)
        self._meta_path = os.path.join(self._tracker_dir, META_FILE_NAME)
        self._include = compile_java_regex(config.include_pattern)
        self._ignore = compile_java_regex(config.ignore_pattern)
        self._suffix = config.file_suffix
        self._batch = config.batch_size
        self._poll = config.poll_delay / 1000.0
        self._max_backoff = config.max_backoff / 1000.0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._once = OncePerKind(log)
        # Files not to pick again in this process: path -> identity it is skipped for (None: any).
        self._skipped: dict[str, Identity | None] = {}
        self._tracked: dict[str, object] | None = None
        self._prepared = False

    # --- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._prepared = False
        self._thread = threading.Thread(target=self._run, name=f"spooldir-{self.name}", daemon=True)
        self._thread.start()
        log.info("Spooling directory source %s started. spoolDir=%s", self.name, self._spool)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        log.info("Spooling directory source %s stopped.", self.name)

    # --- the polling thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        current: _Current | None = None
        try:
            while not self._stopping.is_set():
                try:
                    if current is None:
                        current = self._next_file() if self._prepare() else None
                        if current is None:
                            self._stopping.wait(self._poll)
                            continue
                    if self._consume_batch(current):
                        current.reader.close()
                        current = None
                except Exception as exc:  # a filesystem surprise must not end the source
                    self._once.log(
                        logging.ERROR,
                        f"loop:{type(exc).__name__}",
                        f"Spooling directory source {self.name} failed; it retries from the last accepted "
                        f"position. {type(exc).__name__}: {exc}",
                        exc_info=exc,
                    )
                    if current is not None:
                        current.reader.close()
                        current = None
                    self._stopping.wait(self._poll)
        finally:
            if current is not None:
                current.reader.close()

    def _prepare(self) -> bool:
        if self._prepared:
            return True
        if not os.path.isdir(self._spool):
            self._once.log(
                logging.ERROR,
                "no-spool-dir",
                f"Spooling directory source {self.name}: spoolDir {self._spool} does not exist or is not "
                "a directory; waiting for it.",
            )
            return False
        os.makedirs(self._tracker_dir, exist_ok=True)
        self._tracked = self._load_tracker()
        self._prepared = True
        return True

    def _consume_batch(self, current: _Current) -> bool:
        """Deliver one batch of ``current``; True when the file is finished with (or given up)."""
        try:
            identity = _identity(os.stat(current.path))
        except FileNotFoundError:
            identity = None
        if identity != current.identity:
            self._give_up(
                current,
                None,
                "changed (size, modification time or inode) while it was being read; spooled files must be "
                "complete and immutable when they are placed in the directory",
            )
            return True
        try:
            events = current.reader.read(self._batch)
        except DeserializerError as exc:
            with self.counter.lock:
                self.counter.event_read_fail += 1
            self._give_up(
                current,
                current.identity,
                f"cannot be read: {exc} (decodeErrorPolicy={self.config.decode_error_policy}); fix or "
                "remove the file",
            )
            return True
        if not events:
            self._complete(current)
            return True
        if not self._deliver(events):
            return True  # stopping: the batch is offered again after the restart
        self._write_tracker(current, current.reader.position)
        return False

    def _deliver(self, events: list[Event]) -> bool:
        """Offer ``events`` until the channels accept them; False when the source stops first."""
        backoff = min(_FIRST_BACKOFF_MS / 1000.0, self._max_backoff)
        process_batch = self.channel_processor.process_batch
        while True:
            try:
                process_batch(events)
                return True
            except FlafkaError:
                # The channel processor already logged and counted the failure.
                if self._stopping.wait(backoff):
                    return False
                backoff = min(backoff * 2, self._max_backoff)

    def _give_up(self, current: _Current, skip_identity: Identity | None, why: str) -> None:
        log.error(
            "Spooling directory source %s stops reading %s: the file %s. It is left in place; events "
            "before position %s were delivered.",
            self.name, current.path, why, current.reader.position,
        )
        self._skipped[current.path] = skip_identity

    # --- choosing files ------------------------------------------------------------------------------

    def _next_file(self) -> _Current | None:
        # The tracker names the file whose batches were last accepted: finish it first.
        tracked = self._tracked
        if tracked is not None:
            resumed = self._resume(tracked)
            if resumed is not None:
                return resumed
            self._tracked = None
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._meta_path)
        candidates = self._candidates()
        if not candidates:
            return None
        order = self.config.consume_order
        if order == "oldest":
            _, path, rel, identity = min(candidates, key=lambda c: (c[0], c[1]))
        elif order == "youngest":
            _, path, rel, identity = min(candidates, key=lambda c: (-c[0], c[1]))
        else:
            _, path, rel, identity = random.choice(candidates)
        return self._open(path, rel, identity, (0, 0))

    def _resume(self, tracked: dict[str, object]) -> _Current | None:
        path = tracked.get("file")
        numbers = [v for k in ("size", "mtime_ns", "inode", "offset", "part") if isinstance(v := tracked.get(k), int)]
        if (
            not isinstance(path, str)
            or not os.path.isabs(path)
            or tracked.get("deserializer") != self._deserializer_id
            or len(numbers) != 5
        ):
            log.warning("Spooling directory source %s: tracker %s is not usable; ignored.", self.name, tracked)
            return None
        size, mtime_ns, inode, offset, part = numbers
        wanted, position = (size, mtime_ns, inode), (offset, part)
        try:
            identity = _identity(os.stat(path))
        except OSError:
            identity = None
        inside = os.path.commonpath([path, self._spool]) == self._spool and self._eligible(os.path.basename(path))
        if identity != wanted or path in self._skipped or not inside:
            log.warning(
                "Spooling directory source %s: tracked file %s changed or disappeared; its position is "
                "discarded.", self.name, path,
            )
            return None
        log.info("Spooling directory source %s resumes %s at position %s.", self.name, path, position)
        return self._open(path, os.path.relpath(path, self._spool), identity, position)

    def _open(self, path: str, rel: str, identity: Identity, position: Position) -> _Current | None:
        headers: dict[str, str] = {}
        if self.config.file_header:
            headers[self.config.file_header_key] = path
        if self.config.basename_header:
            headers[self.config.basename_header_key] = os.path.basename(path)
        try:
            reader = self._deserializer.open(path, position, headers)
        except DeserializerError as exc:
            with self.counter.lock:
                self.counter.event_read_fail += 1
            log.error(
                "Spooling directory source %s cannot read %s at %s (%s); the file is left in place.",
                self.name, path, exc.where, exc,
            )
            self._skipped[path] = identity
            return None
        log.info("Spooling directory source %s reading %s.", self.name, path)
        return _Current(path, rel, identity, reader)

    def _candidates(self) -> list[tuple[int, str, str, Identity]]:
        """(mtime_ns, path, relative path, identity) of every file that may be read next."""
        found: list[tuple[int, str, str, Identity]] = []
        use_markers = self.config.tracking_policy == "tracker_dir"
        suffix, skipped = self._suffix, self._skipped
        pending = [self._spool]
        while pending:
            directory = pending.pop()
            try:
                with os.scandir(directory) as listing:
                    entries = list(listing)
            except OSError:
                continue
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if self.config.recursive_directory_search and entry.path != self._tracker_dir:
                        pending.append(entry.path)
                    continue
                if not self._eligible(name) or not entry.is_file():
                    continue
                rel = os.path.relpath(entry.path, self._spool)
                if use_markers and os.path.exists(os.path.join(self._tracker_dir, rel + suffix)):
                    continue
                try:
                    identity = _identity(entry.stat())
                except OSError:
                    continue
                if entry.path in skipped:
                    skip = skipped[entry.path]
                    if skip is None or skip == identity:
                        continue
                    del skipped[entry.path]
                found.append((identity[1], entry.path, rel, identity))
        return found

    def _eligible(self, name: str) -> bool:
        """Whether a file called ``name`` may be read (Flume's filter, minus the completion marker)."""
        return not (
            name.startswith(".")
            or (self._suffix and name.endswith(self._suffix))
            or not self._include.fullmatch(name)
            or self._ignore.fullmatch(name)
        )

    # --- finishing a file and the tracker -------------------------------------------------------------

    def _complete(self, current: _Current) -> None:
        path = current.path
        try:
            if _identity(os.stat(path)) != current.identity:
                self._give_up(current, None, "changed while it was being read")
                return
            if self.config.delete_policy == "immediate":
                os.remove(path)
                done, changed = "deleted", os.path.dirname(path)
            elif self.config.tracking_policy == "rename":
                dest = path + self._suffix
                if os.path.exists(dest):
                    self._give_up(
                        current,
                        None,
                        f"was delivered but cannot be renamed: {dest} already exists (file names in a spooling "
                        "directory must not be reused)",
                    )
                    return
                os.rename(path, dest)
                done, changed = f"renamed to {dest}", os.path.dirname(path)
            else:
                marker = os.path.join(self._tracker_dir, current.rel + self._suffix)
                os.makedirs(os.path.dirname(marker), exist_ok=True)
                with open(marker, "wb"):
                    pass
                done, changed = f"marked done with {marker}", os.path.dirname(marker)
            # The retirement must be on disk before the tracker stops naming the file: else a crash could
            # bring back the file (or lose its marker) with no position, and it would be delivered again.
            fsync_directory(changed)
        except OSError as exc:
            self._give_up(current, None, f"was delivered but could not be retired ({exc}); it would be read again")
            return
        self._tracked = None
        with contextlib.suppress(FileNotFoundError):
            os.remove(self._meta_path)
        log.info("Spooling directory source %s finished %s: %s.", self.name, path, done)

    def _load_tracker(self) -> dict[str, object] | None:
        try:
            with open(self._meta_path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        if not data:
            return None
        try:
            tracked = json.loads(data)
        except ValueError:
            log.warning(
                "Spooling directory source %s: tracker file %s is not flafka's JSON tracker (a Flume "
                "tracker?); it is ignored and the current file is read from its start.",
                self.name, self._meta_path,
            )
            return None
        return tracked if isinstance(tracked, dict) else None

    def _write_tracker(self, current: _Current, position: Position) -> None:
        size, mtime_ns, inode = current.identity
        self._tracked = {"file": current.path, "size": size, "mtime_ns": mtime_ns, "inode": inode,
                         "offset": position[0], "part": position[1], "deserializer": self._deserializer_id}
        write_atomic(self._meta_path, json.dumps(self._tracked).encode())
