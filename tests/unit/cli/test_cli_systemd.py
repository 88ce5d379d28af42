"""flafka-agent under systemd's notify protocol: an agent subprocess and a real $NOTIFY_SOCKET.

The test reads the agent's stderr and the socket in one loop: a datagram is recorded after everything the
agent had written to stderr before sending it (the agent logs with flushed writes, so a line written before
``sendto`` is in the pipe when the datagram is received), and perhaps after a few lines written just after it.
So a line recorded after a datagram was written after the datagram was sent; a line recorded before one was
written before it, or at about the same time.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flafka.event import Event
from tests.unit.cli.test_cli import GOOD
from tests.unit.runtime.components import CollectingSink


class DownSink(CollectingSink):
    """A sink whose destination is down: every delivery fails, so its runner reports it failing."""

    def deliver(self, events: list[Event]) -> None:
        raise OSError(f"sink {self.name} is down")


Record = tuple[str, str]  # ("log", line) or ("notify", datagram text)


class NotifiedAgent:
    """An agent subprocess with NOTIFY_SOCKET set to a socket this object reads."""

    def __init__(self, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> None:
        path = str(tmp_path / "notify")
        assert len(path) < 100, "AF_UNIX paths are limited to 108 bytes"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setblocking(False)
        environ = {**os.environ, "PYTHONUNBUFFERED": "1", "NOTIFY_SOCKET": path, **(env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "flafka", *args], stderr=subprocess.PIPE, env=environ)
        assert self.proc.stderr is not None
        self._err = self.proc.stderr.fileno()
        os.set_blocking(self._err, False)
        self._partial = b""
        self.records: list[Record] = []

    def _drain_stderr(self) -> bool:
        """Read what stderr holds now; False at its end."""
        while True:
            try:
                chunk = os.read(self._err, 65536)
            except BlockingIOError:
                return True
            if not chunk:
                return False
            *lines, self._partial = (self._partial + chunk).split(b"\n")
            self.records.extend(("log", line.decode()) for line in lines)

    def index(self, kind: str, text: str, after: int = -1, timeout: float = 20) -> int:
        """Index of the first record of ``kind`` containing ``text`` after index ``after``; waits for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((i for i, (k, t) in enumerate(self.records) if i > after and k == kind and text in t), None)
            if found is not None:
                return found
            readable, _, _ = select.select([self.sock, self._err], [], [], deadline - time.monotonic())
            if self.sock in readable:
                datagram = self.sock.recv(4096).decode()
                self._drain_stderr()
                self.records.append(("notify", datagram))
            elif self._err in readable:
                self._drain_stderr()
        raise AssertionError(f"timed out waiting for {kind} {text!r} after {after}; got {self.records}")

    def close(self) -> int:
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout=15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            assert self.proc.stderr is not None
            self.proc.stderr.close()
            self.sock.close()


@pytest.fixture
def notified(tmp_path: Path, conf: Path) -> Iterator[NotifiedAgent]:
    agent = NotifiedAgent(tmp_path, "-n", "a1", "-f", str(conf), "--no-reload-conf")
    yield agent
    agent.close()


def test_ready_after_start_reloading_around_sighup_stopping_at_sigterm(notified: NotifiedAgent) -> None:
    ready = notified.index("notify", "READY=1")
    started = notified.index("log", "Agent a1 started.")
    assert started < ready, notified.records
    assert notified.records[ready][1].split("\n") == [
        "READY=1", f"MAINPID={notified.proc.pid}", "STATUS=Agent a1 running. sources=1 channels=1 sinks=1"]

    notified.proc.send_signal(signal.SIGHUP)
    reloading = notified.index("notify", "RELOADING=1", after=ready)
    ready_again = notified.index("notify", "READY=1", after=reloading)
    assert notified.index("log", "Agent a1 reloaded its configuration.", after=ready) < ready_again, notified.records

    notified.proc.send_signal(signal.SIGTERM)
    stopping = notified.index("notify", "STOPPING=1", after=ready_again)
    assert notified.index("log", "Agent a1 received SIGTERM; stopping gracefully", after=ready_again) < stopping
    assert notified.proc.wait(timeout=15) == 0
    sent = [text.split("\n")[0] for kind, text in notified.records if kind == "notify"]
    assert sent == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"]  # and no watchdog without WATCHDOG_USEC


def test_an_invalid_reload_still_ends_with_ready(notified: NotifiedAgent, conf: Path) -> None:
    ready = notified.index("notify", "READY=1")
    conf.write_text(GOOD.replace("type = null", "type = nul"))
    notified.proc.send_signal(signal.SIGHUP)
    reloading = notified.index("notify", "RELOADING=1", after=ready)
    refused = notified.index("log", "is invalid; the running one stays", after=ready)
    assert refused < notified.index("notify", "READY=1", after=reloading), notified.records


def test_watchdog_pings_every_half_of_watchdog_usec(tmp_path: Path, conf: Path) -> None:
    agent = NotifiedAgent(tmp_path, "-n", "a1", "-f", str(conf), env={"WATCHDOG_USEC": "200000"})
    try:
        ready = agent.index("notify", "READY=1")
        first = agent.index("notify", "WATCHDOG=1", after=ready)
        began = time.monotonic()
        last = first
        for _ in range(5):
            last = agent.index("notify", "WATCHDOG=1", after=last)
        # Five more pings, 0.1 s apart (half of WATCHDOG_USEC): 0.5 s after the first, less its delivery lag.
        assert time.monotonic() - began >= 0.3
        agent.proc.send_signal(signal.SIGTERM)
        agent.index("notify", "STOPPING=1", after=last)
        assert agent.proc.wait(timeout=15) == 0
    finally:
        agent.close()


def test_without_notify_socket_the_agent_runs_and_stops_as_before(tmp_path: Path, conf: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in {"NOTIFY_SOCKET", "WATCHDOG_USEC"}}
    proc = subprocess.Popen([sys.executable, "-m", "flafka", "-n", "a1", "-f", str(conf)], stderr=subprocess.PIPE,
                            text=True, env={**environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            if "Agent a1 started." in line:
                break
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        rest = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert "systemd" not in rest
    assert "Agent a1 stopped. lost_events=" in rest


def test_watchdog_pings_stop_while_a_component_fails(tmp_path: Path) -> None:
    conf = tmp_path / "a.properties"
    conf.write_text(GOOD.replace("type = null", "type = tests.unit.cli.test_cli_systemd:DownSink"))
    agent = NotifiedAgent(tmp_path, "-n", "a1", "-f", str(conf), "--stop-timeout", "1",
                          env={"WATCHDOG_USEC": "200000"})
    try:
        ready = agent.index("notify", "READY=1")
        withheld = agent.index("notify", "STATUS=unhealthy, watchdog withheld: ", after=ready)
        # The source may be failing too by then (its channel fills up): the status names every component not running.
        assert "SINK.k1=failing" in agent.records[withheld][1].split(": ", 1)[1].split(), agent.records
        assert agent.index("log", "Agent is unhealthy; systemd watchdog pings are withheld") < withheld
        with pytest.raises(AssertionError, match="timed out waiting for notify 'WATCHDOG=1'"):
            agent.index("notify", "WATCHDOG=1", after=withheld, timeout=1.0)  # ten intervals without a ping
    finally:
        agent.close()
