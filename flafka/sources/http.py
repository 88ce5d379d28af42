"""Flume's HTTP source (``http``): events POSTed over HTTP, turned into events by a pluggable handler.

Every POST is read whole and passed to the handler, and the events it returns go to the channels as
one batch. The answer tells the client what happened: 200 when the channels took the batch, 400 when
the handler refused the request (bad JSON, wrong shape, unknown charset), 413 when the body is larger
than ``maxRequestBytes``, 503 when a channel was full or failed (retry later), 500 for anything else
(a failing interceptor or handler). TRACE and OPTIONS are forbidden (403), as in Flume. An error
answer is a fixed message written by flafka (for a 400, what is wrong with the request); the details
of a failure (an exception's text, a traceback) go to the agent's log, once per kind.

The default handler is Flume's ``JSONHandler``: the body is a JSON array of
``{"headers": {"k": "v"}, "body": "text"}`` objects; each body is encoded in the request's charset
(``Content-Type: application/json; charset=...``, UTF-8 when absent). A custom handler is a Python
class named ``pkg.mod:Class`` that subclasses :class:`HTTPSourceHandler`; it is built with the
``handler.*`` properties and raises :class:`HTTPBadRequest` for a 400.

Differences from Flume:

* ``bind`` defaults to ``127.0.0.1`` (Flume: ``0.0.0.0``, every interface): set ``bind = 0.0.0.0``
  to accept events from other hosts.
* A request body larger than ``maxRequestBytes`` (default 16 MiB) is refused with 413 before it is
  read (a declared Content-Length, or an ``Expect: 100-continue`` request, is refused before any
  byte of the body; a chunked body as soon as its chunks pass the limit), and the connection is
  closed. Flume reads any body whole into memory.
* HTTPS is not supported yet (Flume reads Java keystores); ``ssl = true`` is a configuration error.
  The SSL and Jetty tuning properties (``QueuedThreadPool.*``, ``HttpConfiguration.*``,
  ``SslContextFactory.*``, ``ServerConnector.*``) are accepted and ignored.
* GET (which Flume handles like POST, "for experimentation only") and other methods get 405.
* JSONHandler accepts any charset Python knows (Flume: UTF-8, UTF-16 and UTF-32 only), answers 400
  for an unknown charset or an empty body (Flume: 500), and 400 for a header value that is an
  object, an array or null. Numbers and booleans become their JSON text, as with Flume's Gson.
* Errors are short ``text/plain`` messages instead of Jetty's HTML pages, and a 500 or 503 never
  carries an exception's text (Flume's carry it); a custom handler's ``HTTPBadRequest`` message is
  the 400's text, as in Flume.
* ``port = 0`` listens on a free port; :attr:`HTTPSource.port` tells which after ``start``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import selectors
import socket
import socketserver
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from flafka.config.params import ComponentConfig, Nested, RawConfig, nested, param, prefixed
from flafka.errors import ChannelError, FlafkaError
from flafka.event import Event
from flafka.logging_once import OncePerKind
from flafka.sources.base import EventDrivenSource

log = logging.getLogger(__name__)

_IDLE_TIMEOUT = 30.0  # seconds a kept-alive connection may stay silent (Jetty's default idle timeout)
_STOP_TIMEOUT = 5.0
_ACCEPT_TIMEOUT = 0.5  # bounds handle_request() should a ready connection vanish before accept
# Seconds a refused (413) request's unread body is read and thrown away before the connection is
# closed: closing a socket with unread input sends a reset, which makes most clients (any that send
# the whole body before reading the answer) lose the 413 and report a broken connection instead.
_LINGER = 2.0
# The default maxRequestBytes. A request is held whole while it is decoded and parsed, which costs
# several times its size (a 50 MB JSON body took an agent from 27 MB to 216 MB), so 16 MiB keeps one
# request under ~100 MB. It is generous: a batch is one channel transaction (100 events by default),
# and 16 MiB holds 100 events of 160 KiB each, or 16 events at Kafka's default 1 MB record limit.
DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024


class HTTPBadRequest(FlafkaError):  # Flume's HTTPBadRequestException, named for the status it maps to
    """Raised by a handler when the request cannot be turned into events; the client gets 400."""


class HTTPSourceHandler:
    """Turns one HTTP request into events (Flume's ``HTTPSourceHandler``).

    Subclass it, override :meth:`get_events` and name the class in the config as
    ``a1.sources.r1.handler = mypkg.handlers:CsvHandler``. The ``handler.*`` properties (prefix
    removed) configure it: parsed by its ``config_class`` when it declares one (a mistake is then
    reported with its key and line), else given as text in :attr:`properties`; the parsed config is
    passed to the constructor. Raise :class:`HTTPBadRequest` for a request the client must fix (400);
    any other exception answers 500. ``get_events`` runs on several threads at once.
    """

    config_class: ClassVar[type[ComponentConfig]] = RawConfig

    def __init__(self, config: ComponentConfig) -> None:
        self.config = config
        #: The ``handler.*`` properties as text, for a handler that declares no parameters.
        self.properties: dict[str, str] = dict(config.properties) if isinstance(config, RawConfig) else {}

    def get_events(self, body: bytes, headers: Mapping[str, str]) -> list[Event]:
        """The events in a POST request; ``headers`` has the request's headers with lower-case names."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class JSONHandlerConfig(ComponentConfig):
    """JSONHandler takes no parameters (the charset comes with each request)."""


class JSONHandler(HTTPSourceHandler):
    """Flume's ``JSONHandler``: a JSON array of ``{"headers": {...}, "body": "text"}`` objects."""

    config_class = JSONHandlerConfig

    def get_events(self, body: bytes, headers: Mapping[str, str]) -> list[Event]:
        charset = content_charset(headers.get("content-type", "")) or "utf-8"
        try:
            text = body.decode(charset)
        except LookupError:
            raise HTTPBadRequest(f"unknown charset {_shown(charset)} in the Content-Type header") from None
        except UnicodeDecodeError as exc:
            raise HTTPBadRequest(f"the request body is not valid {_shown(charset)} text (byte {exc.start})") from None
        if not text.strip():
            raise HTTPBadRequest("the request body is empty; expected a JSON array of events")
        try:
            # Numbers stay as written, as Gson reads a number into a String field.
            data = json.loads(text, parse_int=str, parse_float=str, parse_constant=str)
        except json.JSONDecodeError as exc:
            raise HTTPBadRequest(
                f"the request body is not valid JSON (line {exc.lineno}, column {exc.colno})"
            ) from None
        if not isinstance(data, list):
            raise HTTPBadRequest(f"expected a JSON array of events, got a JSON {_json_kind(data)}")
        events = []
        for index, item in enumerate(data):
            if not isinstance(item, dict):
                raise HTTPBadRequest(f"event {index}: expected a JSON object, got a JSON {_json_kind(item)}")
            events.append(Event(_body(item.get("body"), charset, index), _headers(item.get("headers"), index)))
        return events


def _json_kind(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "string or number"


def _text(value: object) -> str | None:
    if isinstance(value, str):  # strings and, thanks to parse_int/parse_float, numbers
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return None


def _body(value: object, charset: str, index: int) -> bytes:
    if value is None:
        return b""
    text = _text(value)
    if text is None:
        raise HTTPBadRequest(f"event {index}: body must be a string, got a JSON {_json_kind(value)}")
    try:
        return text.encode(charset)
    except UnicodeEncodeError:
        raise HTTPBadRequest(f"event {index}: body has characters that {_shown(charset)} cannot encode") from None


def _headers(value: object, index: int) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise HTTPBadRequest(f"event {index}: headers must be a JSON object, got a JSON {_json_kind(value)}")
    headers = {}
    for key, raw in value.items():
        text = _text(raw)
        if text is None:
            raise HTTPBadRequest(f"event {index}: header {_shown(key)} must be a string, got a JSON {_json_kind(raw)}")
        headers[key] = text
    return headers


def _shown(text: str) -> str:
    """A value from the request, quoted and cut short, for an error message."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def content_charset(content_type: str) -> str | None:
    """The ``charset`` parameter of a Content-Type value, or None."""
    for part in content_type.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip("\"'") or None
    return None


@dataclass(frozen=True, kw_only=True)
class HTTPSourceConfig(ComponentConfig):
    port: int = param("port", minimum=0, maximum=65535, doc="TCP port to listen on (0: a free port chosen at start).")
    bind: str = param(
        "bind",
        default="127.0.0.1",
        doc="Address to listen on. Flume listens on every interface (0.0.0.0); flafka only on this host "
        "unless told: set 0.0.0.0 (or one interface's address) to take events from other hosts.",
    )
    max_request_bytes: int = param(
        "maxRequestBytes",
        default=DEFAULT_MAX_REQUEST_BYTES,
        minimum=1,
        doc="Largest request body accepted, in bytes; a larger one is refused with 413 before it is read "
        "into memory (a flafka extension: Flume has no limit).",
    )
    handler: Nested[HTTPSourceHandler] = nested(
        "handler",
        kind="http_handler",
        default="org.apache.flume.source.http.JSONHandler",
        doc="What turns a request into events: Flume's JSONHandler (also `JSON`), or a Python class "
        "`pkg.mod:Class` subclassing `flafka.sources.http.HTTPSourceHandler`.",
        options_doc="The handler's settings (prefix removed); JSONHandler has none.",
    )
    ssl: bool = param(
        "ssl",
        default=False,
        deprecated=("enableSSL",),
        doc="Serve HTTPS. Not supported yet: put a TLS-terminating proxy in front of the source.",
    )
    keystore: str | None = param("keystore", default=None, doc="Java keystore of the HTTPS certificate (unused).")
    keystore_password: str | None = param(
        "keystore-password", default=None, deprecated=("keystorePassword",), doc="Keystore password (unused)."
    )
    keystore_type: str = param("keystore-type", default="JKS", doc="Keystore type, JKS or PKCS12 (unused).")
    exclude_protocols: list[str] = param(
        "exclude-protocols",
        default=["SSLv3"],
        deprecated=("excludeProtocols",),
        doc="Space-separated TLS protocols to refuse (unused).",
    )
    include_protocols: list[str] = param(
        "include-protocols", default=[], doc="Space-separated TLS protocols to allow (unused)."
    )
    exclude_cipher_suites: list[str] = param(
        "exclude-cipher-suites", default=[], doc="Space-separated cipher suites to refuse (unused)."
    )
    include_cipher_suites: list[str] = param(
        "include-cipher-suites", default=[], doc="Space-separated cipher suites to allow (unused)."
    )
    jetty_thread_pool: dict[str, str] = prefixed(
        "QueuedThreadPool.", doc="Jetty thread pool tuning: accepted and ignored (one thread per connection)."
    )
    jetty_http_configuration: dict[str, str] = prefixed(
        "HttpConfiguration.", doc="Jetty HTTP tuning: accepted and ignored."
    )
    jetty_ssl_context_factory: dict[str, str] = prefixed(
        "SslContextFactory.", doc="Jetty TLS tuning: accepted and ignored."
    )
    jetty_server_connector: dict[str, str] = prefixed(
        "ServerConnector.", doc="Jetty connector tuning: accepted and ignored."
    )

    def check(self) -> list[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = []
        if not self.bind.strip():
            problems.append(("bind", "must not be empty"))
        if self.ssl:
            problems.append(
                (
                    "ssl",
                    "SSL for the http source is not supported yet (Java keystores have no Python equivalent); "
                    "set ssl = false and terminate TLS in a proxy in front of the source",
                )
            )
        return problems


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    timeout = _ACCEPT_TIMEOUT

    def __init__(self, address: tuple[str, int], family: int, source: HTTPSource) -> None:
        self.address_family = family
        self.source = source
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-request; socketserver would print a traceback to stderr.
        log.debug("HTTP source %s: request from %s failed.", self.source.name, client_address, exc_info=True)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up (getfqdn), which can stall on a slow resolver.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse their connection between batches
    server_version = "flafka"
    timeout = _IDLE_TIMEOUT

    def setup(self) -> None:
        super().setup()
        self.server.source._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.source._track(self.connection, add=False)

    def handle_expect_100(self) -> bool:
        # A client that waits for "100 Continue" before sending its body learns of a 413 before sending it.
        if self.command == "POST" and not self.server.source._may_continue(self):
            return False
        return super().handle_expect_100()

    # http.server dispatches a request with method M to do_M.
    def do_POST(self) -> None:
        self.server.source._handle_post(self)

    def do_TRACE(self) -> None:  # forbidden as in Flume (HTTPServerConstraintUtil)
        self.reply(403, f"{self.command} is not allowed", close=True)

    do_OPTIONS = do_TRACE  # noqa: N815  # the name http.server dispatches to

    def do_GET(self) -> None:
        self.reply(405, "only POST is supported", close=True)

    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_GET  # noqa: N815  # the names http.server dispatches to

    def reply(self, status: int, message: str = "", *, close: bool = False) -> None:
        payload = (message + "\n").encode() if message else b""
        self.send_response(status)
        if message:
            self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        if status == 405:
            self.send_header("Allow", "POST")
        if close:  # the request's body, if any, was not read: the connection cannot be reused
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("HTTP source %s: %s %s", self.server.source.name, self.address_string(), format % args)


class HTTPSource(EventDrivenSource):
    """See the module docstring."""

    config_class = HTTPSourceConfig
    config: HTTPSourceConfig

    def __init__(self, name: str, config: HTTPSourceConfig) -> None:
        super().__init__(name, config)
        self.handler = config.handler.build()
        self._once = OncePerKind(log)
        self._lock = threading.Condition()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._closing = False  # set by stop(): connections that arrive after its sweep are closed at once

    @property
    def port(self) -> int:
        """The port listened on: the bound one while running (useful with ``port = 0``)."""
        if self._server is not None:
            return self._server.server_port
        return self.config.port

    def start(self) -> None:
        self._closing = False
        bind, port = self.config.bind, self.config.port
        try:
            family = socket.getaddrinfo(bind, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
            server = _Server((bind, port), family, self)
        except OSError as exc:
            raise FlafkaError(f"HTTP source {self.name} cannot listen on {bind}:{port}: {exc}") from exc
        self._server = server
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(
            target=self._accept_loop, args=(server, self._wake_r), name=f"http-{self.name}", daemon=True
        )
        self._thread.start()
        log.info(
            "HTTP source %s listening. address=%s:%d handler=%s",
            self.name,
            bind,
            server.server_port,
            type(self.handler).__name__,
        )

    def stop(self) -> None:
        server, self._server = self._server, None
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
        if self._thread is not None:
            self._thread.join(_STOP_TIMEOUT)
            self._thread = None
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_r = self._wake_w = None
        if server is not None:
            server.server_close()
            with self._lock:
                self._closing = True
                connections = list(self._connections)
            for conn in connections:
                with contextlib.suppress(OSError):  # wakes threads blocked reading a kept-alive connection
                    conn.shutdown(socket.SHUT_RDWR)
            with self._lock:
                if not self._lock.wait_for(lambda: not self._connections, _STOP_TIMEOUT):
                    log.warning(
                        "HTTP source %s stopped with %d requests still running.", self.name, len(self._connections)
                    )
        log.info("HTTP source %s stopped.", self.name)

    def _accept_loop(self, server: _Server, wake: socket.socket) -> None:
        # serve_forever() notices a shutdown only at its next poll; a wake-up socket makes stop() immediate.
        with selectors.DefaultSelector() as selector:
            selector.register(server, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is wake:
                        return
                    server.handle_request()  # accepts and hands the connection to a new thread

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
                with self.counter.lock:
                    self.counter.open_connection_count += 1
                if self._closing:
                    with contextlib.suppress(OSError):
                        conn.shutdown(socket.SHUT_RDWR)
            elif conn in self._connections:
                self._connections.discard(conn)
                with self.counter.lock:
                    self.counter.open_connection_count -= 1
                self._lock.notify_all()

    def _handle_post(self, request: _RequestHandler) -> None:
        try:
            body = _read_body(request, self.config.max_request_bytes)
        except _TooLarge as exc:
            self._too_large(request, str(exc))
            return
        except _BadBody as exc:
            self._read_failed(
                logging.WARNING,
                "bad-body",
                f"HTTP source {self.name} refused a request from {request.address_string()}. {exc}",
            )
            request.reply(400, f"Bad request from client. {exc}", close=True)
            return
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            events = self.handler.get_events(body, headers)
        except HTTPBadRequest as exc:  # its message is written for the client (by flafka or the handler)
            self._read_failed(
                logging.WARNING,
                "bad-request",
                f"HTTP source {self.name} refused a request from {request.address_string()}. {exc}",
            )
            request.reply(400, f"Bad request from client. {exc}")
            return
        except Exception as exc:
            self._read_failed(
                logging.ERROR,
                f"handler:{type(exc).__name__}",
                f"HTTP source {self.name}: handler {type(self.handler).__name__} failed. {type(exc).__name__}: {exc}",
                exc,
            )
            request.reply(500, "The handler failed on this request; the agent's log says why.")
            return
        try:
            self.channel_processor.process_batch(events)
        except ChannelError:  # the channel processor has counted and logged it
            request.reply(503, "Error appending events to the channel. Channel might be full: retry later.")
            return
        except FlafkaError:  # the channel processor has counted and logged it
            request.reply(500, "Unexpected error while appending events to the channel; the agent's log says why.")
            return
        except Exception as exc:
            self._once.log(
                logging.ERROR,
                f"process:{type(exc).__name__}",
                f"HTTP source {self.name} could not deliver a batch. {type(exc).__name__}: {exc}",
                exc_info=exc,
            )
            request.reply(500, "Unexpected error while appending events to the channel; the agent's log says why.")
            return
        request.reply(200)

    def _may_continue(self, request: _RequestHandler) -> bool:
        """Whether a POST whose client waits for "100 Continue" may send its body (else it got a 413)."""
        try:
            length = _content_length(request)
        except _BadBody:
            return True  # do_POST answers 400
        if length is None or length <= self.config.max_request_bytes or _is_chunked(request):
            return True
        self._too_large(request, f"content_length={length}")
        return False

    def _too_large(self, request: _RequestHandler, what: str) -> None:
        limit = self.config.max_request_bytes
        self._read_failed(
            logging.WARNING,
            "too-large",
            f"HTTP source {self.name} refused a request body larger than maxRequestBytes. "
            f"client={request.address_string()} {what} maxRequestBytes={limit}",
        )
        request.reply(413, f"Request body too large: the limit is {limit} bytes (maxRequestBytes).", close=True)
        _linger(request.connection)

    def _read_failed(self, level: int, kind: str, message: str, exc: BaseException | None = None) -> None:
        with self.counter.lock:
            self.counter.event_read_fail += 1
        self._once.log(level, kind, message, exc_info=exc)


class _BadBody(Exception):
    """The request's framing is broken (its message, written here, is the 400's text)."""


class _TooLarge(Exception):
    """The request's body is over the limit (its message says how large it was seen to be)."""


def _is_chunked(request: BaseHTTPRequestHandler) -> bool:
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def _content_length(request: BaseHTTPRequestHandler) -> int | None:
    """The declared Content-Length, None when there is none; raises _BadBody for a malformed one."""
    text = request.headers.get("Content-Length")
    if text is None:
        return None
    try:
        length = int(text)
    except ValueError:
        raise _BadBody("invalid Content-Length") from None
    if length < 0:
        raise _BadBody("invalid Content-Length")
    return length


def _read_body(request: BaseHTTPRequestHandler, limit: int) -> bytes:
    """The request body (Content-Length or chunked), never more than ``limit`` bytes of it read.

    Raises _TooLarge as soon as the body is known to be over ``limit`` (before reading it when its
    length is declared), _BadBody for a malformed request.
    """
    if _is_chunked(request):
        return _read_chunked(request, limit)
    length = _content_length(request)
    if length is None:
        return b""  # HTTP/1.1: no length and not chunked means no body
    if length > limit:
        raise _TooLarge(f"content_length={length}")
    body = request.rfile.read(length)
    if len(body) != length:
        raise _BadBody(f"the request ended after {len(body)} of its {length} bytes")
    return body


def _read_chunked(request: BaseHTTPRequestHandler, limit: int) -> bytes:
    parts = []
    total = 0
    while True:
        line = request.rfile.readline(1024)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _BadBody("malformed chunked body") from None
        if size < 0:
            raise _BadBody("malformed chunked body")
        if size == 0:
            break
        if total + size > limit:  # refused before the chunk that passes the limit is read
            raise _TooLarge(f"chunked_bytes_over={total + size}")
        chunk = request.rfile.read(size)
        if len(chunk) != size or request.rfile.readline(3) not in (b"\r\n", b"\n"):
            raise _BadBody("malformed chunked body")
        parts.append(chunk)
        total += size
    for _ in range(100):  # trailer fields up to the blank line
        if request.rfile.readline(8192) in (b"\r\n", b"\n", b""):
            break
    return b"".join(parts)


def _linger(conn: socket.socket) -> None:
    """End the answer, then read and drop what the client still sends, for up to ``_LINGER`` seconds."""
    deadline = time.monotonic() + _LINGER
    try:
        conn.shutdown(socket.SHUT_WR)  # the client sees the whole answer and the end of it now
        while (left := deadline - time.monotonic()) > 0:
            conn.settimeout(left)
            if not conn.recv(65536):
                return
    except OSError:  # a timeout, or the client already gone: the connection is closed either way
        return
