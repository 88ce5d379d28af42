"""The netcat source: lines over TCP in, events out, one reply line per input line."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

from flafka.channels.memory import MemoryChannel
from flafka.errors import ConfigError
from flafka.event import Event
from flafka.sources.netcat import NetcatSource
from flafka.testing import build, drain, wait_until, wired_source

TIMEOUT = 5.0

SourceFactory = Callable[..., NetcatSource]
Connector = Callable[[NetcatSource], socket.socket]


@pytest.fixture
def make_source() -> Iterator[SourceFactory]:
    started: list[NetcatSource] = []

    def make(ch: MemoryChannel, **props: str) -> NetcatSource:
        source = build(NetcatSource, {"bind": "127.0.0.1", "port": "0", **props}, "r1")
        wired_source(source, [ch])
        source.start()
        started.append(source)
        return source

    yield make
    for source in started:
        source.stop()


@pytest.fixture
def connect() -> Iterator[Connector]:
    sockets: list[socket.socket] = []

    def open_connection(source: NetcatSource) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", source.port), timeout=TIMEOUT)
        sockets.append(sock)
        return sock

    yield open_connection
    for sock in sockets:
        sock.close()


def read_lines(sock: socket.socket, count: int) -> list[bytes]:
    """Exactly ``count`` reply lines (fails on timeout or early close)."""
    data = b""
    while data.count(b"\n") < count:
        chunk = sock.recv(4096)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    lines = data.split(b"\n")
    assert lines[count:] == [b""], f"unexpected extra reply data {data!r}"
    return lines[:count]


def full_channel() -> MemoryChannel:
    """A started one-event channel that already holds one event and refuses more at once."""
    ch = build(MemoryChannel, {"capacity": "1", "transactionCapacity": "1", "keep-alive": "0"}, "c1")
    ch.start()
    with ch.transaction() as tx:
        tx.put(Event(b"already here"))
    return ch


def test_lines_become_events_and_each_gets_ok(
    channel: MemoryChannel, make_source: SourceFactory, connect: Connector
) -> None:
    source = make_source(channel)
    sock = connect(source)
    sock.sendall(b"hello\nworld\r\n\n")
    assert read_lines(sock, 3) == [b"OK", b"OK", b"OK"]
    sock.sendall("caf\u00e9 \u2603\n".encode())
    assert read_lines(sock, 1) == [b"OK"]
    events = drain(channel)
    assert [e.body for e in events] == [b"hello", b"world\r", b"", "caf\u00e9 \u2603".encode()]
    assert all(e.headers == {} for e in events)
    assert source.counter.event_accepted_count == 4
    assert source.counter.event_read_fail == 0


def test_line_split_across_sends_is_one_event(
    channel: MemoryChannel, make_source: SourceFactory, connect: Connector
) -> None:
    source = make_source(channel)
    sock = connect(source)
    sock.sendall(b"par")
    # Nothing is delivered before the newline arrives.
    sock.sendall(b"t one\nsecond")
    assert read_lines(sock, 1) == [b"OK"]
    sock.sendall(b" part\n")
    assert read_lines(sock, 1) == [b"OK"]
    assert [e.body for e in drain(channel)] == [b"part one", b"second part"]


def test_many_lines_in_one_send_are_answered_in_order(
    channel: MemoryChannel, make_source: SourceFactory, connect: Connector
) -> None:
    source = make_source(channel)
    sock = connect(source)
    lines = [f"line {i}".encode() for i in range(250)]
    sock.sendall(b"\n".join(lines) + b"\n")
    assert read_lines(sock, 250) == [b"OK"] * 250
    assert [e.body for e in drain(channel)] == lines


def test_full_channel_answers_failed_and_keeps_the_connection(make_source: SourceFactory, connect: Connector) -> None:
    ch = full_channel()
    try:
        source = make_source(ch)
        sock = connect(source)
        sock.sendall(b"refused\n")
        (reply,) = read_lines(sock, 1)
        assert reply.startswith(b"FAILED: ")
        assert b"full" in reply
        assert [e.body for e in drain(ch)] == [b"already here"]
        assert source.counter.channel_write_fail == 1
        # The connection is still usable once the channel has room.
        sock.sendall(b"accepted\n")
        assert read_lines(sock, 1) == [b"OK"]
        assert [e.body for e in drain(ch)] == [b"accepted"]
    finally:
        ch.stop()


def test_batch_too_big_for_transaction_falls_back_to_single_lines(
    make_source: SourceFactory, connect: Connector
) -> None:
    ch = build(MemoryChannel, {"capacity": "10", "transactionCapacity": "1", "keep-alive": "0"}, "c1")
    ch.start()
    try:
        source = make_source(ch)
        sock = connect(source)
        sock.sendall(b"a\nb\nc\n")
        assert read_lines(sock, 3) == [b"OK", b"OK", b"OK"]
        assert [e.body for e in drain(ch)] == [b"a", b"b", b"c"]
    finally:
        ch.stop()


def test_over_long_line_is_refused_and_connection_closed(
    channel: MemoryChannel, make_source: SourceFactory, connect: Connector
) -> None:
    source = make_source(channel, **{"max-line-length": "10"})
    sock = connect(source)
    # 9 characters + newline is the longest accepted line.
    sock.sendall(b"123456789\n" + b"x" * 10 + b"\nnever read\n")
    assert read_lines(sock, 2) == [
        b"OK",
        b"FAILED: Event exceeds the maximum length (10 chars, including newline)",
    ]
    assert sock.recv(100) == b""  # closed by the source
    assert [e.body for e in drain(channel)] == [b"123456789"]
    assert source.counter.event_read_fail == 1
    wait_until(lambda: source.counter.open_connection_count == 0, TIMEOUT)


def test_over_long_line_without_newline_is_refused(
    channel: MemoryChannel, make_source: SourceFactory, connect: Connector
) -> None:
    source = make_source(channel, **{"max-line-length": "10"})
    sock = connect(source)
    sock.sendall(b"x" * 10)
    assert read_lines(sock, 1) == [b"FAILED: Event exceeds the maximum length (10 chars, including newline)"]
    assert sock.recv(100) == b""
    assert drain(channel) == []


def test_two_clients_are_served_at_once(channel: MemoryChannel, make_source: SourceFactory, connect: Connector) -> None:
    source = make_source(channel)
    first, second = connect(source), connect(source)
    first.sendall(b"first, half a line")  # the first client holds its connection mid-line
    second.sendall(b"second 1\nsecond 2\n")
    assert read_lines(second, 2) == [b"OK", b"OK"]
    wait_until(lambda: source.counter.open_connection_count == 2, TIMEOUT)
    first.sendall(b"\n")
    assert read_lines(first, 1) == [b"OK"]
    assert [e.body for e in drain(channel)] == [b"second 1", b"second 2", b"first, half a line"]
    first.close()
    second.close()
    wait_until(lambda: source.counter.open_connection_count == 0, TIMEOUT)


def test_no_ack_sends_nothing_back(channel: MemoryChannel, make_source: SourceFactory, connect: Connector) -> None:
    source = make_source(channel, **{"ack-every-event": "false"})
    sock = connect(source)
    sock.sendall(b"quiet\n")
    wait_until(lambda: channel.size() == 1, TIMEOUT)
    sock.shutdown(socket.SHUT_WR)
    assert sock.recv(100) == b""  # no "OK", just the close
    assert [e.body for e in drain(channel)] == [b"quiet"]


def test_encoding_is_decoded_and_bodies_are_utf8(
    channel: MemoryChannel, make_source: SourceFactory, connect: Connector
) -> None:
    source = make_source(channel, encoding="ISO-8859-1")
    sock = connect(source)
    sock.sendall(b"caf\xe9\n")
    assert read_lines(sock, 1) == [b"OK"]
    assert [e.body for e in drain(channel)] == ["caf\u00e9".encode()]


def test_invalid_bytes_are_replaced_and_counted(
    channel: MemoryChannel, make_source: SourceFactory, connect: Connector
) -> None:
    source = make_source(channel)
    sock = connect(source)
    sock.sendall(b"ok\xff\nnext\n")
    assert read_lines(sock, 2) == [b"OK", b"OK"]
    assert [e.body for e in drain(channel)] == ["ok\ufffd".encode(), b"next"]
    assert source.counter.event_read_fail == 1


def test_stop_closes_client_connections_promptly(
    channel: MemoryChannel, make_source: SourceFactory, connect: Connector
) -> None:
    source = make_source(channel)
    sock = connect(source)
    sock.sendall(b"x\n")
    assert read_lines(sock, 1) == [b"OK"]
    port = source.port
    began = time.monotonic()
    source.stop()
    assert time.monotonic() - began < 2.0
    assert sock.recv(100) == b""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()


def test_stop_after_failed_start_is_safe(channel: MemoryChannel) -> None:
    blocker = socket.create_server(("127.0.0.1", 0))
    try:
        source = build(NetcatSource, {"bind": "127.0.0.1", "port": str(blocker.getsockname()[1])}, "r1")
        wired_source(source, [channel])
        with pytest.raises(Exception, match="cannot listen"):
            source.start()
        source.stop()
    finally:
        blocker.close()


def test_port_reports_the_bound_port(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel)
    assert source.port > 0


def test_config_requires_bind_and_port_and_checks_encoding() -> None:
    with pytest.raises(ConfigError, match="bind"):
        build(NetcatSource, {"port": "1"})
    with pytest.raises(ConfigError, match="port"):
        build(NetcatSource, {"bind": "127.0.0.1"})
    with pytest.raises(ConfigError, match="unknown character set"):
        build(NetcatSource, {"bind": "127.0.0.1", "port": "1", "encoding": "no-such-charset"})
    source = build(NetcatSource, {"bind": "127.0.0.1", "port": "1"})
    assert (source.config.max_line_length, source.config.ack_every_event, source.config.encoding) == (
        512,
        True,
        "utf-8",
    )
