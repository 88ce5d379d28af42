"""flafka-agent's signals as a process receives them: SIGHUP reloads, a refused reload keeps the pipeline."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flafka.channels.file import FileChannel
from flafka.channels.memory import MemoryChannel
from flafka.testing import build, wait_until
from tests.unit.cli.test_cli import RunningAgent

HERE = "tests.unit.cli.test_cli_signals"  # components defined in this module, for the agent's configs


def netcat_config(sink: str, channel: str = "a1.channels.c1.type = memory\n") -> str:
    return ("a1.sources = r1\na1.channels = c1\na1.sinks = k1\n"
            "a1.sources.r1.type = netcat\na1.sources.r1.bind = 127.0.0.1\na1.sources.r1.port = 0\n"
            f"a1.sources.r1.channels = c1\n{channel}a1.sinks.k1.channel = c1\n{sink}")


def listening_port(agent: RunningAgent) -> int:
    line = agent.wait_for("Netcat source r1 listening. address=127.0.0.1:")
    return int(line.rsplit(":", 1)[1])


def send_lines(port: int, lines: list[str]) -> list[str]:
    """Send ``lines`` to the netcat source; its replies, one per line."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall("".join(f"{line}\n" for line in lines).encode())
        replies = b""
        while replies.count(b"\n") < len(lines):
            chunk = conn.recv(65536)
            if not chunk:
                break
            replies += chunk
    return replies.decode().splitlines()


def rewrite_keeping_mtime(path: Path, text: str) -> None:
    """New content with the old mtime: the poller sees no change, only a SIGHUP can reload it."""
    before = path.stat()
    path.write_text(text)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[Path]:
    """Directories of a file channel held (locked) by another FileChannel instance, in this process."""
    directory = tmp_path / "locked"
    holder = build(FileChannel, {"checkpointDir": str(directory / "checkpoint"), "dataDirs": str(directory / "data")},
                   "holder")
    holder.start()
    yield directory
    holder.stop()


def file_channel(directory: Path) -> str:
    return (f"a1.channels.c1.type = file\na1.channels.c1.checkpointDir = {directory / 'checkpoint'}\n"
            f"a1.channels.c1.dataDirs = {directory / 'data'}\n")


@pytest.mark.parametrize("reload_flags", [["--no-reload-conf"], ["--poll-interval", "3600"]],
                         ids=["no-reload-conf", "files-unchanged"])
def test_sighup_reloads_at_once_and_events_keep_flowing_with_none_lost(tmp_path: Path,
                                                                        reload_flags: list[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    roll = f"a1.sinks.k1.type = file_roll\na1.sinks.k1.sink.directory = {out}\na1.sinks.k1.sink.rollInterval = 0\n"
    conf = tmp_path / "agent.properties"
    conf.write_text(netcat_config(roll + "a1.sinks.k1.sink.batchSize = 100\n"))
    agent = RunningAgent("-n", "a1", "-f", str(conf), *reload_flags)
    try:
        port = listening_port(agent)
        assert send_lines(port, [str(i) for i in range(1000)]) == ["OK"] * 1000
        rewrite_keeping_mtime(conf, netcat_config(roll + "a1.sinks.k1.sink.batchSize = 50\n"))
        agent.proc.send_signal(signal.SIGHUP)
        agent.wait_for("Agent a1 received SIGHUP; reloading the configuration.")
        line = agent.wait_for("Agent a1 reloaded its configuration.")
        assert line.endswith("restarted_sources=0 restarted_sinkgroups=1 replaced_channels=0 lost_events=0")
        assert agent.proc.poll() is None
        assert send_lines(port, [str(i) for i in range(1000, 2000)]) == ["OK"] * 1000

        def written() -> list[str]:
            return [ln for p in sorted(out.iterdir()) for ln in p.read_text().splitlines()]  # named by start time

        wait_until(lambda: len(written()) >= 2000, timeout=30, message="2000 lines written")
    finally:
        code = agent.stop()
    assert code == 0
    assert written() == [str(i) for i in range(2000)]  # each once, in order, across the reload


def test_sighup_with_an_invalid_configuration_keeps_the_running_one(tmp_path: Path) -> None:
    conf = tmp_path / "agent.properties"
    conf.write_text(netcat_config("a1.sinks.k1.type = null\n"))
    agent = RunningAgent("-n", "a1", "-f", str(conf), "--no-reload-conf")
    try:
        port = listening_port(agent)
        conf.write_text(netcat_config("a1.sinks.k1.type = nul\n"))
        agent.proc.send_signal(signal.SIGHUP)
        agent.wait_for("The configuration read on SIGHUP is invalid; the running one stays. problems=1")
        assert send_lines(port, ["after"]) == ["OK"]
    finally:
        code = agent.stop()
    assert code == 0


def test_reload_whose_file_channel_is_locked_keeps_the_old_pipeline_serving(tmp_path: Path, locked: Path) -> None:
    conf = tmp_path / "agent.properties"
    conf.write_text(netcat_config("a1.sinks.k1.type = null\n"))
    agent = RunningAgent("-n", "a1", "-f", str(conf), "--no-reload-conf")
    try:
        port = listening_port(agent)
        conf.write_text(netcat_config("a1.sinks.k1.type = null\n", channel=file_channel(locked)))
        agent.proc.send_signal(signal.SIGHUP)
        error = agent.wait_for("refused the new configuration")
        assert "ERROR flafka.runtime.agent: Agent a1 refused the new configuration: a channel could not start; the " \
               "previous pipeline goes on running. channel c1: DirectoryInUse: channel directory " \
               f"{locked / 'checkpoint'} is in use by another process (pid {os.getpid()})" in error
        assert send_lines(port, [str(i) for i in range(100)]) == ["OK"] * 100  # the port still serves
        assert agent.proc.poll() is None
    finally:
        code = agent.stop()
    assert code == 0


class StartsOnce(MemoryChannel):
    """A channel declared durable that cannot start a second time (its storage went away meanwhile)."""

    durable = True
    starts = 0

    def start(self) -> None:
        StartsOnce.starts += 1
        if StartsOnce.starts > 1:
            raise OSError("storage gone")
        super().start()


def test_reload_that_cannot_restore_the_old_pipeline_exits_1(tmp_path: Path, locked: Path) -> None:
    conf = tmp_path / "agent.properties"
    conf.write_text(netcat_config("a1.sinks.k1.type = null\n", channel=f"a1.channels.c1.type = {HERE}:StartsOnce\n"))
    agent = subprocess.Popen([sys.executable, "-m", "flafka", "-n", "a1", "-f", str(conf), "--no-reload-conf",
                              "--stop-timeout", "4"], stderr=subprocess.PIPE, text=True)
    try:
        assert agent.stderr is not None
        wait_until(lambda: "Agent a1 started" in agent.stderr.readline(), timeout=20, message="agent start")
        conf.write_text(netcat_config("a1.sinks.k1.type = null\n", channel=file_channel(locked)))
        sent = time.monotonic()
        agent.send_signal(signal.SIGHUP)
        code = agent.wait(timeout=30)
        took = time.monotonic() - sent
        log = agent.stderr.read()
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        if agent.stderr:
            agent.stderr.close()
    assert code == 1
    assert took < 15
    assert "Agent a1 cannot run: the new configuration failed (channel c1: DirectoryInUse: " in log
    assert "the previous channel c1 could not start again. OSError: storage gone" in log
    assert "Agent a1 cannot run its pipeline after the reload; stopping (at most 4.0s), exit code 1." in log


def test_sigterm_delivered_to_another_thread_still_stops_the_agent(tmp_path: Path) -> None:
    # The kernel may deliver a process's signal to any of its threads; CPython then only flags the main
    # thread, which must not be asleep in a wait without timeout (it was: the agent never stopped).
    conf = tmp_path / "agent.properties"
    conf.write_text(netcat_config("a1.sinks.k1.type = null\n"))
    agent = RunningAgent("-n", "a1", "-f", str(conf), "--no-reload-conf")
    try:
        agent.wait_for("Agent a1 started")
        pid = agent.proc.pid
        other = next(int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid)
        assert ctypes.CDLL(None, use_errno=True).tgkill(pid, other, signal.SIGTERM) == 0
        code = agent.proc.wait(timeout=10)
    finally:
        agent.stop()
    assert code == 0
    assert any("Agent a1 received SIGTERM; stopping gracefully" in line for line in agent.lines)
