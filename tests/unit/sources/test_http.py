"""The HTTP source: JSON batches over POST, status codes for every outcome."""

from __future__ import annotations

import http.client
import json
import logging
import socket
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from flafka.channels.memory import MemoryChannel
from flafka.config.diagnostics import Severity
from flafka.event import Event
from flafka.interceptors.base import Interceptor
from flafka.sources.http import (
    HTTPBadRequest,
    HTTPSource,
    HTTPSourceConfig,
    HTTPSourceHandler,
    JSONHandler,
    content_charset,
)
from flafka.testing import build, drain, props, wait_until, wired_source

TIMEOUT = 5.0

SourceFactory = Callable[..., HTTPSource]


class UpperHandler(HTTPSourceHandler):
    """A custom handler: one event per line, upper-cased, tagged with a configured header."""

    def get_events(self, body: bytes, headers: Mapping[str, str]) -> list[Event]:
        if not body:
            raise HTTPBadRequest("nothing to do")
        tag = {"tag": self.properties["tag"]}
        return [Event(line.upper(), dict(tag)) for line in body.splitlines()]


class NotAHandler:
    pass


class Boom(Interceptor):
    """Fails in a way that makes the source retry the batch (a lookup service down)."""

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        raise ConnectionError("lookup service at 10.1.2.3:8080 refused the connection")


class CrashingHandler(HTTPSourceHandler):
    """A custom handler with a bug on some requests and a bad-request answer on others."""

    def get_events(self, body: bytes, headers: Mapping[str, str]) -> list[Event]:
        if body == b"bug":
            raise KeyError("secret-internal-key")
        if body == b"bad":
            raise HTTPBadRequest("lines must look like key=value")
        return [Event(body)]


@pytest.fixture
def make_source() -> Iterator[SourceFactory]:
    started: list[HTTPSource] = []

    def make(ch: MemoryChannel, interceptors: tuple[Interceptor, ...] = (), **extra: str) -> HTTPSource:
        source = build(HTTPSource, {"bind": "127.0.0.1", "port": "0", **extra}, "r1")
        wired_source(source, [ch], interceptors)
        source.start()
        started.append(source)
        return source

    yield make
    for source in started:
        source.stop()


def request(
    source: HTTPSource, body: bytes | str | None, method: str = "POST", content_type: str = "application/json"
) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", source.port, timeout=TIMEOUT)
    try:
        payload = body.encode() if isinstance(body, str) else body
        conn.request(method, "/", body=payload, headers={"Content-Type": content_type})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def post_json(source: HTTPSource, data: Any) -> tuple[int, str]:
    return request(source, json.dumps(data))


def full_channel() -> MemoryChannel:
    ch = build(MemoryChannel, {"capacity": "1", "transactionCapacity": "1", "keep-alive": "0"}, "c1")
    ch.start()
    with ch.transaction() as tx:
        tx.put(Event(b"already here"))
    return ch


def test_json_array_becomes_one_batch_of_events(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel)
    status, text = post_json(
        source,
        [
            {"headers": {"a": "b", "c": "d"}, "body": "random_body"},
            {"headers": {"e": "f"}, "body": "random_body2"},
            {"body": "no headers"},
            {"headers": {"only": "headers"}},
        ],
    )
    assert (status, text) == (200, "")
    assert drain(channel) == [
        Event(b"random_body", {"a": "b", "c": "d"}),
        Event(b"random_body2", {"e": "f"}),
        Event(b"no headers", {}),
        Event(b"", {"only": "headers"}),
    ]
    assert source.counter.append_batch_accepted_count == 1
    assert source.counter.event_accepted_count == 4


def test_numbers_and_booleans_become_text_as_with_gson(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel)
    status, _ = request(source, '[{"headers": {"n": 1.50, "big": 12345678901234567890, "t": true}, "body": 7}]')
    assert status == 200
    assert drain(channel) == [Event(b"7", {"n": "1.50", "big": "12345678901234567890", "t": "true"})]


def test_empty_array_is_ok(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel)
    assert post_json(source, []) == (200, "")
    assert drain(channel) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[{"body": "x"', "the request body is not valid JSON (line 1, column 14)"),
        ("[1, 2,]", "the request body is not valid JSON (line 1, column 7)"),
        ('{"body": "x"}', "expected a JSON array"),
        ('["x"]', "event 0: expected a JSON object"),
        ('[{"body": "ok"}, {"headers": {"h": {"nested": 1}}}]', "event 1: header 'h' must be a string"),
        ('[{"headers": {"h": null}}]', "header 'h' must be a string"),
        ('[{"headers": ["h"]}]', "headers must be a JSON object"),
        ('[{"body": ["x"]}]', "body must be a string"),
        ("", "empty"),
    ],
)
def test_bad_request_is_400_and_stores_nothing(
    channel: MemoryChannel, make_source: SourceFactory, body: str, message: str
) -> None:
    source = make_source(channel)
    status, text = request(source, body)
    assert status == 400
    assert text.startswith("Bad request from client.")
    assert message in text
    assert "Expecting" not in text  # Python's json messages stay in the log
    assert drain(channel) == []
    assert source.counter.event_read_fail == 1
    assert source.counter.append_batch_received_count == 0


def test_full_channel_is_503_and_stores_nothing(make_source: SourceFactory) -> None:
    ch = full_channel()
    try:
        source = make_source(ch)
        status, text = post_json(source, [{"body": "refused"}])
        assert status == 503
        assert "full" in text
        assert [e.body for e in drain(ch)] == [b"already here"]
        assert source.counter.channel_write_fail == 1
        # Once there is room the same request succeeds.
        assert post_json(source, [{"body": "accepted"}]) == (200, "")
        assert [e.body for e in drain(ch)] == [b"accepted"]
    finally:
        ch.stop()


def test_failing_interceptor_is_500_without_its_exception_text(
    channel: MemoryChannel, make_source: SourceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    source = make_source(channel, interceptors=(Boom("boom", None),))
    status, text = post_json(source, [{"body": "x"}])
    assert (status, text) == (
        500, "Unexpected error while appending events to the channel; the agent's log says why.\n"
    )
    assert drain(channel) == []
    assert source.counter.generic_processing_fail == 1
    assert "10.1.2.3:8080" in caplog.text  # the details are in the log, not in the answer


def test_custom_handler_errors(
    channel: MemoryChannel, make_source: SourceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    source = make_source(channel, handler=f"{__name__}:CrashingHandler")
    assert request(source, b"bad", content_type="text/plain") == (
        400, "Bad request from client. lines must look like key=value\n"
    )
    for _ in range(2):
        assert request(source, b"bug", content_type="text/plain") == (
            500, "The handler failed on this request; the agent's log says why.\n"
        )
    assert request(source, b"fine", content_type="text/plain") == (200, "")
    assert [e.body for e in drain(channel)] == [b"fine"]
    assert source.counter.event_read_fail == 3
    failures = [r for r in caplog.records if "secret-internal-key" in r.getMessage()]
    assert len(failures) == 1  # once per kind
    assert failures[0].levelname == "ERROR"
    assert "handler CrashingHandler failed. KeyError" in failures[0].getMessage()
    assert failures[0].exc_info is not None


def test_request_charset_is_used_for_decoding_and_bodies(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel)
    data = json.dumps([{"headers": {"h": "\u00e9t\u00e9"}, "body": "caf\u00e9"}], ensure_ascii=False)
    status, _ = request(source, data.encode("latin-1"), content_type="application/json; charset=ISO-8859-1")
    assert status == 200
    assert drain(channel) == [Event(b"caf\xe9", {"h": "\u00e9t\u00e9"})]
    # The default is UTF-8.
    assert request(source, data.encode("utf-8"))[0] == 200
    assert drain(channel) == [Event("caf\u00e9".encode(), {"h": "\u00e9t\u00e9"})]
    # Latin-1 bytes sent as UTF-8 are a bad request, and so is a charset nobody knows.
    assert request(source, data.encode("latin-1"))[0] == 400
    assert request(source, b"[]", content_type="application/json; charset=x-unknown")[0] == 400
    assert drain(channel) == []


def test_methods_other_than_post(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel)
    assert request(source, None, "GET")[0] == 405
    assert request(source, b"[]", "PUT")[0] == 405
    assert request(source, None, "TRACE")[0] == 403
    assert request(source, None, "OPTIONS")[0] == 403
    assert drain(channel) == []


def test_keep_alive_connection_serves_several_batches(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel)
    conn = http.client.HTTPConnection("127.0.0.1", source.port, timeout=TIMEOUT)
    try:
        for i in range(3):
            conn.request("POST", "/", body=json.dumps([{"body": str(i)}]))
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, b"")
        wait_until(lambda: source.counter.open_connection_count == 1, TIMEOUT)
    finally:
        conn.close()
    assert [e.body for e in drain(channel)] == [b"0", b"1", b"2"]
    wait_until(lambda: source.counter.open_connection_count == 0, TIMEOUT)


def test_chunked_request_body(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel)
    conn = http.client.HTTPConnection("127.0.0.1", source.port, timeout=TIMEOUT)
    try:
        conn.request(
            "POST",
            "/",
            body=iter([b'[{"body":', b' "chunked"}]']),
            encode_chunked=True,
            headers={"Transfer-Encoding": "chunked"},
        )
        response = conn.getresponse()
        assert response.status == 200
        response.read()
    finally:
        conn.close()
    assert [e.body for e in drain(channel)] == [b"chunked"]


def test_custom_handler_by_import_path(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel, handler=f"{__name__}:UpperHandler", **{"handler.tag": "t1"})
    assert request(source, b"one\ntwo", content_type="text/plain") == (200, "")
    assert drain(channel) == [Event(b"ONE", {"tag": "t1"}), Event(b"TWO", {"tag": "t1"})]
    status, text = request(source, b"", content_type="text/plain")
    assert (status, text) == (400, "Bad request from client. nothing to do\n")


def test_stop_closes_idle_kept_alive_connections(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel)
    conn = http.client.HTTPConnection("127.0.0.1", source.port, timeout=TIMEOUT)
    try:
        conn.request("POST", "/", body=b"[]")
        assert conn.getresponse().read() == b""
        port = source.port
        source.stop()
        assert source.counter.open_connection_count == 0
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
    finally:
        conn.close()


def test_stop_after_failed_start_is_safe(channel: MemoryChannel) -> None:
    blocker = socket.create_server(("127.0.0.1", 0))
    try:
        source = build(HTTPSource, {"bind": "127.0.0.1", "port": str(blocker.getsockname()[1])}, "r1")
        wired_source(source, [channel])
        with pytest.raises(Exception, match="cannot listen"):
            source.start()
        source.stop()
    finally:
        blocker.close()


def test_port_is_the_bound_port(channel: MemoryChannel, make_source: SourceFactory) -> None:
    assert make_source(channel).port > 0


def parse(values: dict[str, str]) -> tuple[HTTPSourceConfig | None, list[str], list[str]]:
    config, diagnostics = HTTPSourceConfig.parse(props({"port": "1", **values}), "r1")
    errors = [str(d) for d in diagnostics if d.severity is Severity.ERROR]
    warnings = [str(d) for d in diagnostics if d.severity is Severity.WARNING]
    return config, errors, warnings


def test_config_defaults_and_handler_aliases() -> None:
    config, errors, warnings = parse({})
    assert config is not None
    assert (errors, warnings) == ([], [])
    assert (config.bind, config.max_request_bytes, config.handler.type_name, config.ssl) == (
        "127.0.0.1", 16 * 1024 * 1024, "org.apache.flume.source.http.JSONHandler", False
    )
    for name in ("JSON", "json", "org.apache.flume.source.http.JSONHandler"):
        assert type(build(HTTPSource, {"port": "1", "handler": name}).handler) is JSONHandler


def test_config_ssl_is_refused() -> None:
    _, errors, _ = parse({"ssl": "true", "keystore": "/k.jks", "keystore-password": "pw"})
    assert any("SSL for the http source is not supported yet" in e for e in errors)
    _, errors, warnings = parse({"enableSSL": "true", "keystorePassword": "pw"})
    assert any("SSL for the http source is not supported yet" in e for e in errors)
    assert any("enableSSL" in w and "deprecated" in w for w in warnings)


def test_config_jetty_and_ssl_properties_are_accepted_silently() -> None:
    _, errors, warnings = parse(
        {
            "QueuedThreadPool.maxThreads": "50",
            "HttpConfiguration.sendServerVersion": "false",
            "SslContextFactory.keyManagerPassword": "x",
            "ServerConnector.idleTimeout": "1000",
            "ssl": "false",
            "keystore": "/k.jks",
            "keystore-type": "PKCS12",
            "exclude-protocols": "SSLv3 TLSv1",
            "include-protocols": "TLSv1.2",
            "exclude-cipher-suites": "a b",
            "include-cipher-suites": "c",
        }
    )
    assert (errors, warnings) == ([], [])


@pytest.mark.parametrize(("handler", "message"), [
    ("org.apache.flume.sink.solr.morphline.BlobHandler",
     "HTTP source handler type 'org.apache.flume.sink.solr.morphline.BlobHandler' is Flume's "
     "org.apache.flume.sink.solr.morphline.BlobHandler, which this version of flafka does not implement yet "
     "(no plan: a Python HTTPSourceHandler class can take the body as one event)."),
    ("com.example.MyHandler",
     "unknown HTTP source handler type 'com.example.MyHandler': it is not a built-in alias, a Flume class flafka "
     "implements, or an installed plugin, and importing module 'com.example' failed (No module named 'com')."),
    ("org.apache.flume.source.http.JSONHandlr",
     "unknown HTTP source handler type 'org.apache.flume.source.http.JSONHandlr': it is not a built-in alias, a "
     "Flume class flafka implements, or an installed plugin, and importing module 'org.apache.flume.source.http' "
     "failed (No module named 'org'). Did you mean 'org.apache.flume.source.http.JSONHandler'?"),
    (f"{__name__}:NotAHandler",
     f"HTTP source handler type '{__name__}:NotAHandler' names {__name__}.NotAHandler, which is not a subclass of "
     "flafka.sources.http.HTTPSourceHandler."),
    (f"{__name__}:Missing",
     f"unknown HTTP source handler type '{__name__}:Missing': it is not a built-in alias, a Flume class flafka "
     f"implements, or an installed plugin, and module '{__name__}' has no attribute 'Missing'."),
])
def test_config_bad_handlers(handler: str, message: str) -> None:
    _, errors, _ = parse({"handler": handler})
    assert errors == [f"<test>: r1 handler: {message}"]


def test_handler_options_are_checked_by_the_handler() -> None:
    _, errors, warnings = parse({"handler.charset": "UTF-8"})
    assert (errors, warnings) == ([], ["<test>: r1 handler.charset: warning: unknown property, ignored"])
    _, errors, warnings = parse({"handler": f"{__name__}:UpperHandler", "handler.tag": "t"})
    assert (errors, warnings) == ([], [])  # a handler without declared parameters takes any key


def test_content_charset() -> None:
    assert content_charset("application/json; charset=ISO-8859-1") == "ISO-8859-1"
    assert content_charset('text/plain;CHARSET="utf-16"') == "utf-16"
    assert content_charset("application/json") is None


def test_listens_on_loopback_unless_told(channel: MemoryChannel, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "flafka.sources.http")
    source = build(HTTPSource, {"port": "0"}, "r1")
    wired_source(source, [channel])
    source.start()
    try:
        assert f"HTTP source r1 listening. address=127.0.0.1:{source.port}" in caplog.text
        assert post_json(source, [{"body": "x"}]) == (200, "")
    finally:
        source.stop()


def raw_request(source: HTTPSource, head: str, body: bytes = b"") -> socket.socket:
    """A connection that has sent ``head`` (request line and headers, CRLF-ended) and ``body``."""
    conn = socket.create_connection(("127.0.0.1", source.port), timeout=TIMEOUT)
    conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
    return conn


def read_answer(conn: socket.socket) -> tuple[str, bytes]:
    """The status line and everything up to the server closing the connection."""
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data.split(b"\r\n", 1)[0].decode(), data


def test_declared_body_over_the_limit_is_413_before_it_is_sent(
    channel: MemoryChannel, make_source: SourceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    source = make_source(channel)  # the default limit, 16 MiB
    # Only 10 bytes of a declared GiB are ever sent: the answer can only come before the body is read.
    with raw_request(source, "POST / HTTP/1.1\nHost: x\nContent-Length: 1073741824\n", b"[" * 10) as conn:
        status, answer = read_answer(conn)  # the server closes the connection after its answer
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert b"\r\nConnection: close\r\n" in answer
    assert answer.endswith(b"Request body too large: the limit is 16777216 bytes (maxRequestBytes).\n")
    assert drain(channel) == []
    assert source.counter.event_read_fail == 1
    assert "content_length=1073741824 maxRequestBytes=16777216" in caplog.text


def test_limit_is_inclusive_and_configurable(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel, maxRequestBytes="20")
    assert request(source, b'[{"body": "1234567"}]')[0] == 413  # 21 bytes
    assert request(source, b'[{"body": "123456"}]') == (200, "")  # 20 bytes
    assert [e.body for e in drain(channel)] == [b"123456"]


def test_a_client_sending_the_whole_oversized_body_still_gets_the_413(
    channel: MemoryChannel, make_source: SourceFactory
) -> None:
    # http.client sends the whole body before it reads: closing at once would reset the connection and
    # lose the answer, so the server reads and drops the rest (never keeping it) before closing.
    source = make_source(channel, maxRequestBytes="1024")
    status, text = request(source, b"[" + b" " * (8 << 20) + b"]")
    assert (status, text) == (413, "Request body too large: the limit is 1024 bytes (maxRequestBytes).\n")
    assert post_json(source, [{"body": "next"}]) == (200, "")  # a new connection works as usual
    assert [e.body for e in drain(channel)] == [b"next"]


def test_chunked_body_is_refused_once_its_chunks_pass_the_limit(
    channel: MemoryChannel, make_source: SourceFactory
) -> None:
    source = make_source(channel, maxRequestBytes="1000")
    chunk = b"12c\r\n" + b" " * 300 + b"\r\n"  # 300 bytes
    # Three chunks (900 bytes) pass, the fourth would make 1200; the last chunk is never sent.
    with raw_request(source, "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n", chunk * 4) as conn:
        status, answer = read_answer(conn)
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert answer.endswith(b"Request body too large: the limit is 1000 bytes (maxRequestBytes).\n")
    # A chunk announced larger than the limit is refused before any of it arrives.
    with raw_request(source, "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n", b"40000000\r\n[") as conn:
        assert read_answer(conn)[0] == "HTTP/1.1 413 Request Entity Too Large"
    assert drain(channel) == []
    assert source.counter.event_read_fail == 2


def test_expect_100_continue_gets_the_413_instead_of_continue(
    channel: MemoryChannel, make_source: SourceFactory
) -> None:
    source = make_source(channel, maxRequestBytes="100")
    head = "POST / HTTP/1.1\nHost: x\nExpect: 100-continue\nContent-Length: {}\n"
    with raw_request(source, head.format(101)) as conn:
        status, answer = read_answer(conn)
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert b"100 Continue" not in answer
    body = b'[{"body": "ok"}]'
    with raw_request(source, head.format(len(body)) + "Connection: close\n") as conn:
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            interim += conn.recv(1)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.sendall(body)
        assert read_answer(conn)[0] == "HTTP/1.1 200 OK"
    assert [e.body for e in drain(channel)] == [b"ok"]


def test_negative_chunk_size_is_a_bad_request(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel)
    with raw_request(source, "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n", b"-5\r\n") as conn:
        status, answer = read_answer(conn)
    assert status == "HTTP/1.1 400 Bad Request"
    assert answer.endswith(b"Bad request from client. malformed chunked body\n")
