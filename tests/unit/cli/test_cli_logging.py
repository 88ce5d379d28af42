"""flafka-agent's log options: --log-format json, --log-file with rotation, --log-config (and conf/logging.ini)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from flafka.cli import JsonFormatter, main
from flafka.testing import wait_until
from tests.unit.cli.test_cli import GOOD, RunningAgent

CONF_DIR = Path(__file__).resolve().parents[3] / "conf"


@contextmanager
def unconfigured_root() -> Iterator[None]:
    """An unconfigured root logger for main() to set up in this process; pytest's handlers are put back after.

    Entered in the test's body: pytest adds its capturing handlers to the root logger for each phase.
    """
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers.clear()
    try:
        yield
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = saved
        root.setLevel(level)
        for name in ("flafka.kafka.librdkafka", "flafka.kafka.kazoo"):  # as conf/logging.ini leaves them
            logging.getLogger(name).setLevel(logging.NOTSET)


def test_json_logs_of_a_running_agent_parse_line_by_line(conf: Path) -> None:
    agent = RunningAgent("-n", "a1", "-f", str(conf), "--log-format", "json")
    try:
        agent.wait_for('"message": "Agent a1 started.')
    finally:
        code = agent.stop()
    assert code == 0
    docs = [json.loads(line) for line in agent.lines]  # every line: one object
    assert all(set(doc) == {"time", "level", "logger", "message"} for doc in docs), docs
    started = next(doc for doc in docs if doc["message"].startswith("Agent a1 started."))
    assert started["level"] == "INFO"
    assert started["logger"] == "flafka.runtime.agent"
    assert started["time"].endswith("+00:00")
    assert any(doc["message"].startswith("Agent a1 stopped.") for doc in docs)


def test_json_keeps_a_traceback_and_a_multi_line_message_on_one_line() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("flafka.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("Two lines.\nsecond")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("Sink k1 failed.")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "Two lines.\nsecond"
    assert "exc_info" not in first
    assert second["level"] == "ERROR"
    assert second["exc_info"].startswith("Traceback (most recent call last):")
    assert second["exc_info"].endswith("ValueError: boom")


def test_log_file_takes_the_logs_instead_of_stderr(tmp_path: Path, conf: Path) -> None:
    log_file = tmp_path / "agent.log"
    agent = RunningAgent("-n", "a1", "-f", str(conf), "--log-file", str(log_file))
    try:
        wait_until(lambda: log_file.exists() and "Agent a1 started." in log_file.read_text(), timeout=20,
                   message="the start logged to the file")
    finally:
        code = agent.stop()
    assert code == 0
    assert "Agent a1 stopped. lost_events=0" in log_file.read_text()
    assert agent.lines == []


def test_log_file_rotates_at_max_bytes_keeping_backups(tmp_path: Path, conf: Path) -> None:
    log_file = tmp_path / "agent.log"
    with unconfigured_root():
        assert main(["-n", "a1", "-f", str(conf), "--check", "--log-file", str(log_file), "--log-max-bytes", "1000",
                     "--log-backups", "2", "--log-format", "json"]) == 0
        for i in range(100):
            logging.getLogger("flafka.test").warning("Line %d of a log long enough to rotate several times.", i)
    names = sorted(p.name for p in tmp_path.glob("agent.log*"))
    assert names == ["agent.log", "agent.log.1", "agent.log.2"]
    for name in names:
        text = (tmp_path / name).read_text()
        assert len(text.encode()) <= 1000
        assert all(json.loads(line)["logger"] == "flafka.test" for line in text.splitlines())
    assert "Line 99 " in log_file.read_text()


def test_conf_logging_ini_sends_json_to_its_file_and_quiets_client_loggers(tmp_path: Path, conf: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    ini = tmp_path / "logging.ini"
    ini.write_text((CONF_DIR / "logging.ini").read_text().replace("/var/log/flafka/", f"{tmp_path}/"))
    with unconfigured_root():
        assert main(["-n", "a1", "-f", str(conf), "--check", "--log-config", str(ini)]) == 0
        # A logger made at import, before the configuration was read, still logs (disable_existing_loggers=False).
        logging.getLogger("flafka.agent").info("Agent a1 says hello.")
        logging.getLogger("flafka.kafka.librdkafka").info("Kafka client chatter.")
        logging.getLogger("flafka.kafka.librdkafka").warning("Kafka client trouble.")
    docs = [json.loads(line) for line in (tmp_path / "flafka.log").read_text().splitlines()]
    assert [(d["logger"], d["message"]) for d in docs] == [("flafka.agent", "Agent a1 says hello."),
                                                           ("flafka.kafka.librdkafka", "Kafka client trouble.")]
    err = capsys.readouterr().err
    assert " INFO flafka.agent: Agent a1 says hello." in err
    assert "chatter" not in err


@pytest.mark.parametrize(("extra", "message"), [
    (["--log-config", "logging.ini", "--log-format", "json"],
     "--log-config configures all logging; it cannot be combined with --log-format"),
    (["--log-max-bytes", "10"], "--log-max-bytes and --log-backups apply to --log-file, which is not given"),
    (["--log-backups", "-1"], "argument --log-backups: must be 0 or more, got '-1'"),
    (["--log-config", "missing.ini"], "--log-config missing.ini: no such file"),
    (["--log-config", "bad.ini"], "--log-config bad.ini: KeyError: 'formatters'"),
    (["--log-file", "no/such/dir/a.log"], "--log-file no/such/dir/a.log: No such file or directory"),
], ids=["combined", "max-bytes-alone", "negative-backups", "missing-config", "bad-config", "unwritable-file"])
def test_log_option_problems_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch, extra: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.properties").write_text(GOOD)
    (tmp_path / "logging.ini").write_text("")
    (tmp_path / "bad.ini").write_text("[loggers]\nkeys=root\n")
    with unconfigured_root():
        assert main(["-n", "a1", "-f", "a.properties", *extra]) == 2
    assert message in capsys.readouterr().err

