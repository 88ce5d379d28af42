"""flafka-agent's monitoring flags, ``version``, ``-z/-p`` and ``channel inspect`` advice, as users run them."""

from __future__ import annotations

import io
import json
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from flafka import __version__
from flafka.channels.file import FileChannel
from flafka.channels.file.inspect import inspect
from flafka.event import Event
from flafka.testing import parse_config, put
from tests.unit.cli.test_cli import RunningAgent, agent


@pytest.fixture
def running() -> Iterator[list[RunningAgent]]:
    agents: list[RunningAgent] = []
    yield agents
    for a in agents:
        a.stop()


def url_of(a: RunningAgent) -> str:
    line = a.wait_for("Monitoring endpoints listening.")
    found = re.search(r"status_page=(http://127\.0\.0\.1:\d+)/ ", line)
    assert found, line
    return found.group(1)


@pytest.mark.parametrize("flags", [("-Dflume.monitoring.type=http", "-Dflume.monitoring.port=0"),
                                   ("--metrics-port", "0")], ids=["flume-flags", "metrics-port"])
def test_flags_start_the_endpoints_after_the_agent(conf: Path, running: list[RunningAgent],
                                                   flags: tuple[str, str]) -> None:
    a = RunningAgent("agent", "-n", "a1", "-f", str(conf), "--no-reload-conf", *flags)
    running.append(a)
    url = url_of(a)
    started = next(i for i, line in enumerate(a.lines) if "Agent a1 started" in line)
    assert started < next(i for i, line in enumerate(a.lines) if "Monitoring endpoints listening" in line)
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        document = json.load(response)
    assert set(document) == {"SOURCE.r1", "CHANNEL.c1", "SINK.k1"}
    with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{url}/other", timeout=5)
    assert missing.value.code == 404
    missing.value.close()
    assert a.stop() == 0


def test_port_in_use_is_a_clear_error_with_exit_1(conf: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = agent("-n", "a1", "-f", str(conf), "--metrics-port", str(port))
    assert result.returncode == 1
    assert f"cannot serve monitoring on 127.0.0.1:{port}" in result.stderr
    assert "not started" in result.stderr
    assert "Agent a1 started" not in result.stderr


def test_other_monitoring_types_warn_and_the_agent_runs(conf: Path, running: list[RunningAgent]) -> None:
    a = RunningAgent("-n", "a1", "-f", str(conf), "--no-reload-conf", "-Dflume.monitoring.type=ganglia",
                     "-Dflume.monitoring.hosts=h:8649")
    running.append(a)
    assert "Monitoring type 'ganglia' is not supported by flafka" in a.wait_for("WARNING")
    a.wait_for("Agent a1 started")
    assert a.stop() == 0


def test_version_as_flume_ng_spells_it() -> None:
    result = agent("version")
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == f"flafka {__version__}"


def test_help_names_the_sub_commands_and_the_monitoring_bind() -> None:
    result = agent("--help")
    assert result.returncode == 0
    assert "flafka-agent channel inspect DIR" in result.stdout
    assert "flafka-agent version" in result.stdout
    assert "Flume binds all" in result.stdout


@pytest.mark.parametrize("flag", [("-z", "zk1:2181"), ("--zkConnString", "zk1:2181"), ("-p", "/flume")])
def test_zookeeper_configuration_is_refused_clearly(flag: tuple[str, str]) -> None:
    result = agent("agent", "-n", "a1", *flag)
    assert result.returncode == 2
    assert "configuration from ZooKeeper" in result.stderr
    assert "not supported by flafka; use -f" in result.stderr
    assert "required: -f" not in result.stderr


def test_missing_f_is_still_a_usage_error() -> None:
    result = agent("-n", "a1")
    assert result.returncode == 2
    assert "required: -f/--conf-file" in result.stderr


def _file_channel(root: Path) -> FileChannel:
    props = {"checkpointDir": str(root / "checkpoint"), "dataDirs": f"{root / 'd1'},{root / 'd2'}",
             "keep-alive": "0", "maxFileSize": "1000"}
    return FileChannel("c1", parse_config(FileChannel, props, "c1"))


def test_inspect_given_only_the_checkpoint_directory_advises_passing_the_data_directories(tmp_path: Path) -> None:
    channel = _file_channel(tmp_path)
    channel.start()
    put(channel, [Event(b"x" * 100) for _ in range(40)], batch=5)
    channel.stop()
    for dirs in ([tmp_path / "checkpoint"], [tmp_path / "checkpoint", tmp_path / "d1"]):
        out = io.StringIO()
        assert inspect([str(d) for d in dirs], 3, out) == 1
        report = out.getvalue()
        assert "pass all the channel's data directories" in report, report
        assert "remove" not in report, report
        assert "delet" not in report, report
    assert inspect([str(tmp_path / d) for d in ("checkpoint", "d1", "d2")], 0, io.StringIO()) == 0
