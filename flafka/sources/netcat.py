"""Flume's netcat source (``netcat``): a TCP server that turns each newline-terminated line into an event.

Like ``nc -k -l host port``: every line a client sends (up to ``\\n``, which is dropped; a ``\\r`` before
it is kept, as in Flume) becomes one event whose body is the line re-encoded as UTF-8, and the client
gets ``OK`` (when ``ack-every-event``) or ``FAILED: <reason>`` back for each line. A line longer than
``max-line-length`` characters (newline included) is answered with a FAILED message and the connection
is closed. Each client is served by its own thread.

Differences from Flume:

* Lines that arrive together in one read are delivered as one channel batch (at most 100 events)
  instead of one transaction per line; the client still gets one reply line per input line, in order.
  If such a batch fails for a reason other than a full channel (for example more events than the
  channel's ``transactionCapacity``), its lines are retried one at a time, as Flume would deliver them.
* Input that is not valid in ``encoding`` is decoded with U+FFFD replacement characters, counted in
  ``EventReadFail`` and logged; the connection stays open (Flume drops the connection without a word).
  An over-long line also counts as a read failure.
* Flume's netcat source has no metrics; this one keeps the source counters, including
  ``OpenConnectionCount``.
* ``port = 0`` listens on a free port; :attr:`NetcatSource.port` tells which after ``start``.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import selectors
import socket
import threading
import time
from dataclasses import dataclass

from flafka.config.checks import is_text_encoding
from flafka.config.params import ComponentConfig, param
from flafka.errors import ChannelFullError, FlafkaError
from flafka.event import Event
from flafka.logging_once import OncePerKind
from flafka.sources.base import EventDrivenSource

log = logging.getLogger(__name__)

_BATCH = 100  # Flume's default transactionCapacity: a batch this size fits a default channel
_RECV = 65536
_STOP_TIMEOUT = 5.0  # seconds stop() waits for threads that may sit in a channel's keep-alive wait


@dataclass(frozen=True, kw_only=True)
class NetcatSourceConfig(ComponentConfig):
    bind: str = param("bind", doc="Host name or IP address to listen on.")
    port: int = param("port", minimum=0, maximum=65535, doc="TCP port to listen on (0: a free port chosen at start).")
    max_line_length: int = param(
        "max-line-length",
        default=512,
        minimum=1,
        doc="Longest line accepted, in characters including the newline; a longer line is answered with "
        "FAILED and its connection closed.",
    )
    ack_every_event: bool = param(
        "ack-every-event", default=True, doc="Answer `OK` to every line the channels accepted."
    )
    encoding: str = param(
        "encoding", default="utf-8", doc="Character set of the text clients send; bodies are stored as UTF-8."
    )

    def check(self) -> list[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = []
        if not self.bind.strip():
            problems.append(("bind", "must not be empty"))
        if not is_text_encoding(self.encoding):
            problems.append(("encoding", f"unknown character set {self.encoding!r}"))
        return problems


class NetcatSource(EventDrivenSource):
    """See the module docstring."""

    config_class = NetcatSourceConfig
    config: NetcatSourceConfig

    def __init__(self, name: str, config: NetcatSourceConfig) -> None:
        super().__init__(name, config)
        self._once = OncePerKind(log)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._bound_port: int | None = None
        self._ok = "OK\n" if config.ack_every_event else ""

    @property
    def port(self) -> int:
        """The port listened on: the bound one while running (useful with ``port = 0``)."""
        return self._bound_port if self._bound_port is not None else self.config.port

    def start(self) -> None:
        self._stopping.clear()
        bind, port = self.config.bind, self.config.port
        try:
            family = socket.getaddrinfo(bind, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
            server = socket.create_server((bind, port), family=family)
        except OSError as exc:
            raise FlafkaError(f"netcat source {self.name} cannot listen on {bind}:{port}: {exc}") from exc
        server.setblocking(False)
        self._server = server
        self._bound_port = server.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, args=(server, self._wake_r), name=f"netcat-{self.name}-accept", daemon=True
        )
        self._accept_thread.start()
        log.info("Netcat source %s listening. address=%s:%d", self.name, bind, self._bound_port)

    def stop(self) -> None:
        self._stopping.set()
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
        deadline = time.monotonic() + _STOP_TIMEOUT
        if self._accept_thread is not None:
            self._accept_thread.join(_STOP_TIMEOUT)
            self._accept_thread = None
        for sock in (self._server, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._server = self._wake_r = self._wake_w = None
        with self._lock:
            connections = list(self._connections.items())
        for conn, _ in connections:
            with contextlib.suppress(OSError):  # wakes the connection's thread out of recv() or sendall()
                conn.shutdown(socket.SHUT_RDWR)
        for _, thread in connections:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = sum(1 for _, thread in connections if thread.is_alive())
        if stuck:
            log.warning("Netcat source %s stopped with %d connection threads still busy.", self.name, stuck)
        self._bound_port = None
        log.info("Netcat source %s stopped.", self.name)

    def _accept_loop(self, server: socket.socket, wake: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(server, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is wake:
                        return
                    try:
                        conn, peer = server.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError as exc:
                        if self._stopping.is_set():
                            return
                        self._once.log(
                            logging.WARNING,
                            f"accept:{type(exc).__name__}",
                            f"Netcat source {self.name} could not accept a connection. error={exc}",
                        )
                        continue
                    conn.setblocking(True)
                    with self._lock:
                        if self._stopping.is_set():
                            conn.close()
                            return
                        thread = threading.Thread(
                            target=self._serve, args=(conn, peer), name=f"netcat-{self.name}-{peer}", daemon=True
                        )
                        self._connections[conn] = thread
                        with self.counter.lock:
                            self.counter.open_connection_count += 1
                        thread.start()

    def _serve(self, conn: socket.socket, peer: object) -> None:
        try:
            self._handle(conn)
        except OSError as exc:
            if not self._stopping.is_set():
                log.debug("Netcat source %s connection from %s broken: %s", self.name, peer, exc)
        finally:
            with self._lock:
                self._connections.pop(conn, None)
                with self.counter.lock:
                    self.counter.open_connection_count -= 1
            conn.close()

    def _handle(self, conn: socket.socket) -> None:
        """Read lines until the client closes, answering each; returns to close the connection."""
        max_len = self.config.max_line_length
        decoder = codecs.getincrementaldecoder(self.config.encoding)("strict")
        encoder = codecs.getincrementalencoder(self.config.encoding)("replace")
        pending = ""
        while True:
            data = conn.recv(_RECV)
            if not data:
                tail = pending + self._decode(decoder, b"", final=True)
                if tail:
                    log.debug("Netcat source %s dropped %d characters without a final newline.", self.name, len(tail))
                return
            lines = (pending + self._decode(decoder, data)).split("\n")
            pending = lines.pop()
            too_long = len(pending) >= max_len  # with its newline it would exceed max_len
            for i, line in enumerate(lines):
                if len(line) >= max_len:
                    del lines[i:]
                    too_long = True
                    break
            replies = self._deliver(lines) if lines else ""
            if too_long:
                self._count_read_fail()
                self._once.log(
                    logging.WARNING,
                    "too-long",
                    f"Netcat source {self.name} refused a line longer than max-line-length="
                    f"{max_len} and closed the connection.",
                )
                replies += f"FAILED: Event exceeds the maximum length ({max_len} chars, including newline)\n"
            if replies:
                conn.sendall(encoder.encode(replies))
            if too_long:
                return

    def _count_read_fail(self) -> None:
        with self.counter.lock:
            self.counter.event_read_fail += 1

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
            self._count_read_fail()
            self._once.log(
                logging.WARNING,
                "decode",
                f"Netcat source {self.name} received bytes that are not valid "
                f"{self.config.encoding}; they were replaced by U+FFFD. error={exc.reason}",
            )
            return text

    def _deliver(self, lines: list[str]) -> str:
        """Offer ``lines`` to the channels; the reply text, one line per input line."""
        replies = []
        for start in range(0, len(lines), _BATCH):
            events = [Event(line.encode("utf-8", "replace")) for line in lines[start : start + _BATCH]]
            replies.append(self._deliver_batch(events))
        return "".join(replies)

    def _deliver_batch(self, events: list[Event]) -> str:
        try:
            self.channel_processor.process_batch(events)
        except ChannelFullError as exc:
            return f"FAILED: {_one_line(exc)}\n" * len(events)
        except Exception as exc:
            if not isinstance(exc, FlafkaError):  # the channel processor logs its own errors
                self._once.log(
                    logging.ERROR,
                    f"deliver:{type(exc).__name__}",
                    f"Netcat source {self.name} could not deliver events. {type(exc).__name__}: {exc}",
                    exc_info=exc,
                )
            if len(events) == 1:
                return f"FAILED: {_one_line(exc)}\n"
            # Perhaps only the batch was too big for the channel's transactions: Flume offers lines one by one.
            return "".join([self._deliver_batch([event]) for event in events])
        return self._ok * len(events)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
