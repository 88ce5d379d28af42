"""kazoo's lines go through flafka's logging, once per kind with a count, and an unreachable ZooKeeper is one error
that says why, without a traceback. Real kazoo clients against loopback ports nobody serves: no ZooKeeper needed."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient

from flafka.kafka.zookeeper import KazooLogs, ZooKeeperError, brokers_from_zookeeper
from flafka.logging_once import OncePerKind
from flafka.testing import wait_until

KAZOO = "flafka.kafka.kazoo"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers: a hung ZooKeeper."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def kazoo_lines(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == KAZOO and text in r.getMessage()]


def test_a_retry_storm_is_logged_once_per_kind_then_with_its_count(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    connect = f"127.0.0.1:{closed_port()}"
    clock = Clock()
    logs = KazooLogs(connect, OncePerKind(logging.getLogger(KAZOO), interval=60, clock=clock))
    client = KazooClient(hosts=connect, logger=logs, timeout=2)
    client.start_async()
    try:
        refused = "Connection dropped: socket connection error: Connection refused"
        wait_until(lambda: logs.problems[refused] >= 3, message="three refused connections")
        assert len(kazoo_lines(caplog, refused)) == 1  # three or more attempts, one line
        first = kazoo_lines(caplog, refused)[0]
        assert first.getMessage() == f"ZooKeeper client of {connect}: {refused}"
        assert first.levelno == logging.INFO  # the caller's ZooKeeperError is the line that matters
        assert not [r for r in caplog.records if r.name == "kazoo.client"]  # nothing around flafka's logging
        clock.now += 61  # a minute later, the next repeat carries the count of those left out
        wait_until(lambda: len(kazoo_lines(caplog, refused)) == 2, message="the summary of the repeats")
        summary = kazoo_lines(caplog, refused)[1].getMessage()
        assert summary.startswith(f"ZooKeeper client of {connect}: {refused} repeated=")
        assert int(summary.rsplit("=", 1)[1]) >= 2
    finally:
        client.stop()
        client.close()


def test_unreachable_zookeeper_is_one_error_with_the_reason_and_no_traceback(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    connect = f"127.0.0.1:{closed_port()}"
    began = time.monotonic()
    with pytest.raises(ZooKeeperError) as raised:
        brokers_from_zookeeper(connect, timeout=1.5)
    assert time.monotonic() - began < 5
    assert raised.value.retriable
    message = str(raised.value)
    assert message.startswith(f"cannot reach ZooKeeper at {connect} within 1.5 s: Connection dropped: "
                              "socket connection error: Connection refused")
    assert all(r.exc_info is None for r in caplog.records), [r.getMessage() for r in caplog.records if r.exc_info]
    # Nothing above INFO on the way: the raised error is the one line its caller logs.
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_zookeeper_that_never_answers_is_given_up_on_within_the_timeout(silent_port: int) -> None:
    began = time.monotonic()
    with pytest.raises(ZooKeeperError, match="cannot reach ZooKeeper"):
        brokers_from_zookeeper(f"127.0.0.1:{silent_port}", timeout=1.5)
    assert time.monotonic() - began < 5  # kazoo's default 10 s session timeout made it 10 s
