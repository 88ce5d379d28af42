"""Flume's exec source (``exec``): runs a command and turns each line of its standard output into an event.

The command runs directly (split on whitespace) or, with ``shell`` set (e.g. ``/bin/sh -c``), as the
last argument of that shell. Lines end at ``\\n``, ``\\r\\n`` or ``\\r`` (Java's ``readLine``, as Flume);
an unterminated last line is kept. Events have no headers; the body is the line encoded in
``charset``. Lines are delivered in batches of ``batchSize``, or earlier when ``batchTimeout`` ms have
passed since the first line of the batch was read. When the command exits, what is pending is
delivered, and with ``restart = true`` the command runs again after ``restartThrottle`` ms.

Differences from Flume:

* A batch the channels refuse is not dropped: it is offered again after a growing pause (50 ms up to
  5 s) while the command's output waits in its pipe, so a full channel slows the command down instead
  of losing lines. Flume logs the error and kills the command. Only a batch still refused when the
  source stops is lost (it is logged).
* The command runs in its own process group; ``stop`` sends SIGTERM to the whole group (a shell and
  the pipeline it started), then SIGKILL after two seconds.
* Output that is not valid in ``charset`` is decoded with replacement characters (as Flume's reader
  does) and also counted in ``EventReadFail`` and logged.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import os
import re
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, ClassVar

from flafka.config.checks import is_text_encoding
from flafka.config.params import ComponentConfig, param
from flafka.errors import FlafkaError
from flafka.event import Event
from flafka.logging_once import OncePerKind
from flafka.sources.base import EventDrivenSource

log = logging.getLogger(__name__)

_READ = 65536
_LINE_END = re.compile(r"\r\n|\r|\n")
_FIRST_RETRY = 0.05  # seconds before a refused batch is offered again; doubles up to _MAX_RETRY
_MAX_RETRY = 5.0
_TERM_GRACE = 2.0  # seconds between SIGTERM and SIGKILL at stop
_JOIN_TIMEOUT = 5.0  # the reader may be in a last delivery, bounded by the channel's keep-alive


@dataclass(frozen=True, kw_only=True)
class ExecSourceConfig(ComponentConfig):
    batch_size_key: ClassVar[str] = "batchSize"

    command: str = param("command", doc="Command to run; each line of its standard output becomes an event.")
    shell: str | None = param(
        "shell",
        default=None,
        doc="Shell that runs the command, e.g. `/bin/sh -c` (allows pipes and wildcards); without it the "
        "command is split on whitespace and run directly.",
    )
    restart: bool = param("restart", default=False, doc="Run the command again when it exits.")
    restart_throttle: int = param(
        "restartThrottle", default=10000, minimum=0, doc="Milliseconds to wait before running the command again."
    )
    log_stderr: bool = param(
        "logStdErr", default=False, doc="Log the command's standard error at INFO; otherwise it is discarded."
    )
    events_per_batch: int = param("batchSize", default=20, minimum=1, doc="Most lines per channel transaction.")
    batch_timeout: int = param(
        "batchTimeout",
        default=3000,
        minimum=0,
        doc="Milliseconds after the first line of a batch was read at which the batch is delivered even if "
        "it is not full.",
    )
    charset: str = param(
        "charset", default="UTF-8", doc="Character set of the command's output; bodies are encoded in it too."
    )

    def check(self) -> list[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = []
        if not self.command.strip():
            problems.append(("command", "must not be empty"))
        if self.shell is not None and not self.shell.strip():
            problems.append(("shell", "must not be empty when set (leave it out to run the command directly)"))
        if not is_text_encoding(self.charset):
            problems.append(("charset", f"unknown character set {self.charset!r}"))
        return problems

    def argv(self) -> list[str]:
        """The program and arguments to run, as Flume builds them."""
        if self.shell is not None:
            return [*self.shell.split(), self.command]
        return self.command.split()


class ExecSource(EventDrivenSource):
    """See the module docstring."""

    config_class = ExecSourceConfig
    config: ExecSourceConfig

    def __init__(self, name: str, config: ExecSourceConfig) -> None:
        super().__init__(name, config)
        self._once = OncePerKind(log)
        self._stopping = threading.Event()
        self._proc_lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, args=(self._wake_r,), name=f"exec-{self.name}", daemon=True)
        self._thread.start()
        log.info("Exec source %s started. command=%r", self.name, self.config.command)

    def stop(self) -> None:
        self._stopping.set()
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")
        with self._proc_lock:  # no new process can start once this lock is released
            process = self._process
        if process is not None:
            _signal_group(process, signal.SIGTERM)
        if self._thread is not None:
            self._thread.join(_JOIN_TIMEOUT)
            if self._thread.is_alive():
                log.warning("Exec source %s: its reader thread did not finish within %gs.", self.name, _JOIN_TIMEOUT)
            self._thread = None
        if process is not None:
            _reap(process, self.name)
        for fd in (self._wake_r, self._wake_w):
            if fd is not None:
                os.close(fd)
        self._wake_r = self._wake_w = None
        log.info("Exec source %s stopped.", self.name)

    def _run(self, wake: int) -> None:
        config = self.config
        while not self._stopping.is_set():
            process = self._spawn()
            if process is not None:
                try:
                    self._pump(process, wake)
                except Exception as exc:  # a bug must not silently end the source: treat it as the command ending
                    self._once.log(
                        logging.ERROR,
                        f"read:{type(exc).__name__}",
                        f"Exec source {self.name} failed reading the command's output. {type(exc).__name__}: {exc}",
                        exc_info=exc,
                    )
                    _signal_group(process, signal.SIGTERM)
                if self._stopping.is_set():
                    return  # stop() terminates and reaps the process
                code = self._wait_exit(process)
                if code is None:
                    return
                log.info("Exec source %s: the command exited. exit_code=%d", self.name, code)
            if not config.restart:
                return
            log.info("Exec source %s will run the command again in %d ms.", self.name, config.restart_throttle)
            if self._stopping.wait(config.restart_throttle / 1000):
                return

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        config = self.config
        with self._proc_lock:
            if self._stopping.is_set():
                return None
            try:
                process = subprocess.Popen(
                    config.argv(),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE if config.log_stderr else subprocess.DEVNULL,
                    start_new_session=True,  # stop() signals the whole group: a shell and its children
                )
            except OSError as exc:
                self._once.log(
                    logging.ERROR,
                    f"spawn:{type(exc).__name__}",
                    f"Exec source {self.name} could not run its command. command={config.command!r} error={exc}",
                )
                return None
            self._process = process
        if process.stderr is not None:
            threading.Thread(
                target=self._log_stderr, args=(process.stderr,), name=f"exec-{self.name}-stderr", daemon=True
            ).start()
        return process

    def _pump(self, process: subprocess.Popen[bytes], wake: int) -> None:
        """Read the command's output into batches until it ends or the source stops."""
        assert process.stdout is not None
        stdout = process.stdout
        fd = stdout.fileno()
        charset = self.config.charset
        size = self.config.events_per_batch
        timeout = self.config.batch_timeout / 1000
        decoder = codecs.getincrementaldecoder(charset)("strict")
        splitter = LineSplitter()
        batch: list[Event] = []
        deadline = 0.0
        with stdout, selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while True:
                ready = selector.select(max(0.0, deadline - time.monotonic()) if batch else None)
                if self._stopping.is_set():
                    break
                if not ready:  # the batch timed out
                    self._deliver(batch)
                    batch = []
                    continue
                data = os.read(fd, _READ)
                if not data:
                    tail = splitter.feed(self._decode(decoder, b"", final=True)) + splitter.finish()
                    batch.extend([Event(line.encode(charset, "replace")) for line in tail])
                    break
                lines = splitter.feed(self._decode(decoder, data))
                if not lines:
                    continue
                if not batch:
                    deadline = time.monotonic() + timeout
                batch.extend([Event(line.encode(charset, "replace")) for line in lines])
                while len(batch) >= size:
                    self._deliver(batch[:size])
                    del batch[:size]
        if batch:
            self._deliver(batch)

    def _deliver(self, events: list[Event]) -> None:
        """Offer ``events`` until the channels take them; gives up only when the source stops."""
        delay = _FIRST_RETRY
        while True:
            try:
                self.channel_processor.process_batch(events)
                return
            except FlafkaError:
                pass  # the channel processor has counted and logged it
            except Exception as exc:
                self._once.log(
                    logging.ERROR,
                    f"deliver:{type(exc).__name__}",
                    f"Exec source {self.name} could not deliver a batch; it will be retried. "
                    f"{type(exc).__name__}: {exc}",
                    exc_info=exc,
                )
            if self._stopping.is_set():
                break
            # Not reading meanwhile is the point: the pipe fills up and the command blocks on its writes.
            self._stopping.wait(delay)  # after stop, one last attempt
            delay = min(delay * 2, _MAX_RETRY)
        log.warning(
            "Exec source %s stopped with a batch the channels did not accept; %d events lost.", self.name, len(events)
        )

    def _decode(self, decoder: codecs.IncrementalDecoder, data: bytes, final: bool = False) -> str:
        state = decoder.getstate()
        try:
            return decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            decoder.setstate(state)
            decoder.errors = "replace"
            try:
                text = decoder.decode(data, final)
            finally:
                decoder.errors = "strict"
            with self.counter.lock:
                self.counter.event_read_fail += 1
            self._once.log(
                logging.WARNING,
                "decode",
                f"Exec source {self.name} read output that is not valid {self.config.charset}; "
                f"it was replaced by U+FFFD. error={exc.reason}",
            )
            return text

    def _wait_exit(self, process: subprocess.Popen[bytes]) -> int | None:
        """The exit code once the command ends, or None if the source stops first."""
        while True:
            try:
                return process.wait(0.2)
            except subprocess.TimeoutExpired:
                if self._stopping.is_set():
                    return None

    def _log_stderr(self, stream: IO[bytes]) -> None:
        charset = self.config.charset
        with stream:
            for number, raw in enumerate(stream, 1):
                log.info(
                    "Exec source %s stderr line %d: %s",
                    self.name,
                    number,
                    raw.decode(charset, "replace").rstrip("\r\n"),
                )


def split_lines(text: str) -> list[str]:
    """``text`` split at every line end (``\\r\\n``, ``\\r`` or ``\\n``): the line ends found, plus one."""
    return _LINE_END.split(text) if "\r" in text else text.split("\n")


class LineSplitter:
    """Cuts decoded output into lines as Java's ``readLine`` does, whatever the size of the pieces fed.

    ``split`` is the only place that looks for line ends (a seam: tests count the text it is given).
    """

    def __init__(self, split: Callable[[str], list[str]] = split_lines) -> None:
        self._split = split
        # The line read so far, in the pieces it arrived in: joined once, when its end arrives, so a long
        # line costs time in proportion to its length (re-joining or re-scanning it per read is quadratic).
        self._pending: list[str] = []
        self._held_cr = False  # the last piece ended with "\r", maybe the first half of "\r\n"

    def feed(self, text: str) -> list[str]:
        """The lines that ``text`` completes."""
        if self._held_cr:
            text = "\r" + text
        self._held_cr = text.endswith("\r")
        lines = self._split(text[:-1] if self._held_cr else text)
        last = lines.pop()
        if lines and self._pending:
            self._pending.append(lines[0])
            lines[0] = "".join(self._pending)
            self._pending.clear()
        if last:
            self._pending.append(last)
        return lines

    def finish(self) -> list[str]:
        """The unterminated last line, if any, once the output ended."""
        pending = "".join(self._pending)
        self._pending.clear()
        self._held_cr = False
        return [pending] if pending else []


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.returncode is not None:  # reaped: its pid (and group id) may belong to someone else now
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _reap(process: subprocess.Popen[bytes], name: str) -> None:
    try:
        process.wait(_TERM_GRACE)
        return
    except subprocess.TimeoutExpired:
        pass
    log.warning("Exec source %s: the command ignored SIGTERM for %gs; killing it.", name, _TERM_GRACE)
    _signal_group(process, signal.SIGKILL)
    try:
        process.wait(_TERM_GRACE)
    except subprocess.TimeoutExpired:
        log.error("Exec source %s: the command (pid %d) survived SIGKILL.", name, process.pid)
