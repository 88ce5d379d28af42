"""flafka-agent as users run it: a subprocess, its exit code and what it prints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flafka.cli import main
from flafka.testing import wait_until

GOOD = """\
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
"""


def agent(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flafka", *args], capture_output=True, text=True, timeout=60,
                          check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


def test_check_reports_typo_undefined_channel_and_unknown_type_in_one_run(tmp_path: Path) -> None:
    conf = tmp_path / "agent.properties"
    conf.write_text(GOOD.replace("a1.channels.c1.type = memory", "a1.channels.c1.type = memory\n"
                                 "a1.channels.c1.capcity = 10")
                    .replace("a1.sinks.k1.channel = c1", "a1.sinks.k1.channel = c2")
                    .replace("a1.sources.r1.type = seq", "a1.sources.r1.type = sequence"))
    result = agent("agent", "--check", "-n", "a1", "-f", str(conf))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert f"{conf}:7: channels.c1 capcity: warning: unknown property, ignored (did you mean 'capacity'?)" in lines
    assert f"{conf}:9: sinks.k1 channel: channel 'c2' is not defined in a1.channels (did you mean 'c1'?)" in lines
    assert any(line.startswith(f"{conf}:4: sources.r1 type: unknown source type 'sequence'") for line in lines)
    assert lines[-1] == "flafka-agent: configuration of agent 'a1' has 2 problem(s); not started."


def test_check_passes_with_warnings_and_deny_warnings_fails(tmp_path: Path) -> None:
    conf = tmp_path / "agent.properties"
    conf.write_text(GOOD + "a1.sinks.k1.batchsize = 10\n")
    ok = agent("--check", "-n", "a1", "-f", str(conf))
    assert ok.returncode == 0
    assert "did you mean 'batchSize'?" in ok.stderr
    assert agent("--check", "--deny-warnings", "-n", "a1", "-f", str(conf)).returncode == 2


def test_several_files_merge_and_missing_file_is_a_config_error(tmp_path: Path) -> None:
    base = tmp_path / "base.properties"
    base.write_text(GOOD.replace("a1.sinks.k1.type = null", "a1.sinks.k1.type = nul"))
    fix = tmp_path / "override.properties"
    fix.write_text("a1.sinks.k1.type = null\n")
    assert agent("--check", "-n", "a1", "-f", str(base)).returncode == 2
    assert agent("--check", "-n", "a1", "-f", str(base), "-f", str(fix)).returncode == 0
    missing = agent("--check", "-n", "a1", "-f", str(tmp_path / "nope.properties"))
    assert missing.returncode == 2
    assert "cannot read configuration file" in missing.stderr


def test_usage_error_exits_2() -> None:
    assert agent("--check").returncode == 2


def test_sigterm_stops_gracefully_with_exit_0(tmp_path: Path) -> None:
    conf = tmp_path / "agent.properties"
    conf.write_text(GOOD)
    proc = subprocess.Popen([sys.executable, "-m", "flafka", "-n", "a1", "-f", str(conf), "--no-reload-conf"],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stderr is not None
        wait_until(lambda: "Agent a1 started" in proc.stderr.readline(), timeout=20, message="agent start")
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
        assert code == 0
        assert time.monotonic() - sent < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


class RunningAgent:
    """A flafka-agent subprocess whose stderr lines are collected by a reader thread."""

    def __init__(self, *args: str) -> None:
        import threading

        self.lines: list[str] = []
        self.proc = subprocess.Popen([sys.executable, "-m", "flafka", *args], stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 20) -> str:
        return str(wait_until(lambda: next((ln for ln in self.lines if text in ln), None), timeout=timeout,
                              message=repr(text)))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._reader.join(5)
            if self.proc.stderr:
                self.proc.stderr.close()


def test_reload_applies_a_valid_change_and_keeps_running_on_an_invalid_one(tmp_path: Path) -> None:
    conf = tmp_path / "agent.properties"
    conf.write_text(GOOD)
    running = RunningAgent("-n", "a1", "-f", str(conf), "--poll-interval", "0.1")
    try:
        running.wait_for("Agent a1 started")
        conf.write_text(GOOD + "a1.sinks.k1.batchSize = 50\n")
        os.utime(conf, (time.time() + 5, time.time() + 5))  # mtime must move even on coarse clocks
        line = running.wait_for("reloaded its configuration")
        assert "restarted_sources=0 restarted_sinkgroups=1 replaced_channels=0" in line
        conf.write_text(GOOD.replace("a1.sinks.k1.channel = c1", "a1.sinks.k1.channel = c7"))
        os.utime(conf, (time.time() + 10, time.time() + 10))
        running.wait_for("The changed configuration is invalid; the running one stays")
        running.wait_for("channel 'c7' is not defined")
        assert running.proc.poll() is None
    finally:
        code = running.stop()
    assert code == 0


def test_a_million_sequence_numbers_reach_file_roll_exactly_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    conf = tmp_path / "agent.properties"
    conf.write_text(f"""\
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.channels = c1
a1.sources.r1.batchSize = 1000
a1.sources.r1.totalEvents = 1000000
a1.channels.c1.type = memory
a1.channels.c1.capacity = 100000
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = {out}
a1.sinks.k1.sink.batchSize = 1000
a1.sinks.k1.sink.rollInterval = 1
""")
    running = RunningAgent("-n", "a1", "-f", str(conf), "--no-reload-conf")

    def lines() -> int:
        return sum(p.read_bytes().count(b"\n") for p in out.iterdir()) if out.exists() else 0

    try:
        wait_until(lambda: lines() >= 1_000_000, timeout=120, interval=0.2, message="1,000,000 lines")
    finally:
        code = running.stop()
    assert code == 0
    numbers = [int(line) for p in sorted(out.iterdir()) for line in p.read_bytes().splitlines()]
    assert len(numbers) == 1_000_000
    assert set(numbers) == set(range(1_000_000))


@pytest.mark.parametrize(("option", "message"), [
    (["-i", "0"], "argument -i/--poll-interval: must be at least 0.1 seconds, got '0'"),  # the reloader spun
    (["-i", "-1"], "argument -i/--poll-interval: must be at least 0.1 seconds, got '-1'"),
    (["--poll-interval", "nan"], "argument -i/--poll-interval: must be a finite number, got 'nan'"),
    (["--stop-timeout", "inf"], "argument --stop-timeout: must be a finite number, got 'inf'"),  # a traceback at stop
    (["--stop-timeout", "nan"], "argument --stop-timeout: must be a finite number, got 'nan'"),
    (["--stop-timeout", "-5"], "argument --stop-timeout: must be 0 or more seconds, got '-5'"),
    (["--stop-timeout", "soon"], "argument --stop-timeout: expected a number, got 'soon'"),
])
def test_bad_seconds_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str],
                                      message: str) -> None:
    conf = tmp_path / "agent.properties"
    conf.write_text(GOOD)
    assert main(["--check", "-n", "a1", "-f", str(conf), *option]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"flafka-agent: error: {message}"
    assert "Traceback" not in err


def test_smallest_poll_interval_and_zero_stop_timeout_are_accepted(tmp_path: Path) -> None:
    conf = tmp_path / "agent.properties"
    conf.write_text(GOOD)
    result = agent("--check", "-n", "a1", "-f", str(conf), "-i", "0.1", "--stop-timeout", "0")
    assert result.returncode == 0, result.stderr
