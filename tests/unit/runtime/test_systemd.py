"""sd_notify without libsystemd: datagrams on a real AF_UNIX socket, the watchdog's interval and its health gate."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from flafka.runtime.systemd import Notifier, Watchdog, watchdog_interval


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket bound in tmp_path, as systemd's $NOTIFY_SOCKET; its path."""
    path = str(tmp_path / "notify")
    assert len(path) < 100, "AF_UNIX paths are limited to 108 bytes"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield sock, path
    sock.close()


def fields(datagram: bytes) -> dict[str, str]:
    return dict(line.split("=", 1) for line in datagram.decode().split("\n"))


def test_ready_reloading_stopping_reach_a_path_socket(receiver: tuple[socket.socket, str]) -> None:
    sock, path = receiver
    notifier = Notifier(path, pid=4242)
    try:
        assert notifier.enabled
        assert notifier.ready("Agent a1 running.")
        assert fields(sock.recv(4096)) == {"READY": "1", "MAINPID": "4242", "STATUS": "Agent a1 running."}
        assert notifier.reloading("reloading")
        reloading = fields(sock.recv(4096))
        assert reloading["RELOADING"] == "1"
        assert int(reloading["MONOTONIC_USEC"]) > 0
        assert notifier.stopping("stopping")
        assert fields(sock.recv(4096)) == {"STOPPING": "1", "STATUS": "stopping"}
    finally:
        notifier.close()


def test_an_abstract_socket_is_named_with_a_leading_at() -> None:
    name = f"flafka-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": "@" + name})
    try:
        assert notifier.notify("WATCHDOG=1")
        assert sock.recv(4096) == b"WATCHDOG=1"
    finally:
        notifier.close()
        sock.close()


@pytest.mark.parametrize("environ", [{}, {"NOTIFY_SOCKET": ""}], ids=["unset", "empty"])
def test_without_a_socket_nothing_is_sent(environ: dict[str, str]) -> None:
    notifier = Notifier.from_environment(environ)
    assert not notifier.enabled
    assert not notifier.ready("x")
    assert notifier._socket is None  # no socket was even opened


def test_a_send_error_is_logged_once_and_is_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(str(tmp_path / "nobody-listens"))
    try:
        with caplog.at_level(logging.WARNING, "flafka.systemd"):
            assert not notifier.ready("a")
            assert not notifier.notify("WATCHDOG=1")
            assert not notifier.notify("WATCHDOG=1")
    finally:
        notifier.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "flafka.systemd"]
    assert len(warnings) == 1
    assert "systemd notification failed; the agent runs on. error=FileNotFoundError" in warnings[0]


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, None),
    ({"WATCHDOG_USEC": "200000"}, 0.1),  # pings at half the timeout, as sd_watchdog_enabled(3) advises
    ({"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "4242"}, 0.1),  # meant for us
    ({"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"}, None),  # meant for another process
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "soon"}, None),
])
def test_watchdog_interval(environ: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval(environ, pid=4242) == expected


def test_watchdog_pings_only_while_healthy(receiver: tuple[socket.socket, str],
                                           caplog: pytest.LogCaptureFixture) -> None:
    sock, path = receiver
    notifier = Notifier(path)
    state = {"healthy": True}
    dog = Watchdog(notifier, 0.02, lambda: (state["healthy"], "SINK.k1=failing"))
    with caplog.at_level(logging.INFO, "flafka.systemd"):
        dog.start()
        try:
            assert sock.recv(4096) == b"WATCHDOG=1"
            state["healthy"] = False
            # Pings already sent may still be queued; after the withheld status, none may follow.
            while (datagram := sock.recv(4096)) == b"WATCHDOG=1":
                pass
            assert datagram == b"STATUS=unhealthy, watchdog withheld: SINK.k1=failing"
            sock.settimeout(0.2)  # ten intervals: a ping would have come
            with pytest.raises(TimeoutError):
                sock.recv(4096)
            sock.settimeout(5)
            state["healthy"] = True
            assert sock.recv(4096) == b"STATUS=running"
            assert sock.recv(4096) == b"WATCHDOG=1"
        finally:
            dog.stop()
            notifier.close()
    assert not dog.is_alive()
    messages = [r.getMessage() for r in caplog.records if r.name == "flafka.systemd"]
    assert messages == ["Agent is unhealthy; systemd watchdog pings are withheld (systemd restarts the agent if "
                        "this lasts WatchdogSec). reason=SINK.k1=failing",
                        "Agent is healthy again; systemd watchdog pings resume."]


def test_watchdog_withholds_pings_when_health_cannot_be_read(receiver: tuple[socket.socket, str]) -> None:
    sock, path = receiver
    notifier = Notifier(path)

    def broken() -> tuple[bool, str]:
        raise RuntimeError("state being swapped")

    dog = Watchdog(notifier, 0.02, broken)
    dog.start()
    try:
        assert sock.recv(4096) == b"STATUS=unhealthy, watchdog withheld: health unreadable: RuntimeError: " \
                                  b"state being swapped"
    finally:
        dog.stop()
        notifier.close()
