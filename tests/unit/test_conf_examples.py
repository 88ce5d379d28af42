"""conf/examples/: one agent configuration per Flafka scenario, each valid for ``flafka-agent --check`` without
a single warning, and addressing its servers only through the environment."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "conf" / "examples").glob("*.properties"))
# Dummy loopback addresses: --check resolves ${env:…} but never connects.
ENV = {"FLAFKA_KAFKA_BOOTSTRAP": "127.0.0.1:9092", "FLAFKA_HDFS_URL": "hdfs://127.0.0.1:8020",
       "FLAFKA_HBASE_THRIFT": "127.0.0.1:9090"}
KAFKA_SOURCE = "org.apache.flume.source.kafka.KafkaSource"
KAFKA_CHANNEL = "org.apache.flume.channel.kafka.KafkaChannel"
KAFKA_SINK = "org.apache.flume.sink.kafka.KafkaSink"

# The Flafka post's patterns (the brief of issue 12), as (source types, channel types, sink types).
SCENARIOS = {
    "kafka-memory-hdfs": ({KAFKA_SOURCE}, {"memory"}, {"hdfs"}),
    "kafka-channel-hdfs": (set(), {KAFKA_CHANNEL}, {"hdfs"}),           # the topic is the channel: no source
    "kafka-interceptor-kafka": ({KAFKA_SOURCE}, {"memory"}, {KAFKA_SINK}),
    "kafka-channel-buffer": ({"http"}, {KAFKA_CHANNEL}, {"hdfs"}),       # any source, Kafka as the buffer
    "kafka-file-channel-hdfs": ({KAFKA_SOURCE}, {"file"}, {"hdfs"}),
    "kafka-hbase": ({KAFKA_SOURCE}, {"memory"}, {"hbase2"}),
}


def properties(path: Path) -> dict[str, str]:
    """The file's keys and values (the subset of .properties these examples use: `key = value` lines)."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith(("#", "!")):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def agent_name(path: Path) -> str:
    return next(iter(properties(path))).split(".", 1)[0]


def check(path: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flafka", "--check", *extra, "-f", str(path), "-n", agent_name(path)],
                          capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
                          env={**os.environ, **ENV} if env is None else env)


def test_every_scenario_has_one_example() -> None:
    assert {path.stem for path in EXAMPLES} == set(SCENARIOS)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_is_valid_without_warnings(path: Path) -> None:
    result = check(path, "--deny-warnings")
    assert result.returncode == 0, result.stderr
    assert "0 warning(s)" in result.stderr, result.stderr
    assert "warning:" not in result.stderr


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_wires_its_scenario(path: Path) -> None:
    props, name = properties(path), agent_name(path)

    def types(kind: str) -> set[str]:
        return {props[f"{name}.{kind}.{c}.type"] for c in props.get(f"{name}.{kind}", "").split()}

    assert (types("sources"), types("channels"), types("sinks")) == SCENARIOS[path.stem]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_explains_itself_and_takes_addresses_from_the_environment(path: Path) -> None:
    text = path.read_text()
    assert text.startswith("# "), "starts with a comment saying what the example does"
    assert f"flafka-agent -f conf/examples/{path.name} -n {agent_name(path)}" in text
    values = properties(path).values()
    header = "\n".join(itertools.takewhile(lambda line: line.startswith("#"), text.splitlines()))
    assert not [v for v in values if re.search(r"(localhost|\d+\.\d+\.\d+\.\d+):\d+|hdfs://\w", v)]
    for variable in ENV:
        if any(f"${{env:{variable}}}" in v for v in values):
            assert variable in header, f"the comment at the top names {variable}"


def test_check_fails_on_a_typo_and_on_a_missing_address(tmp_path: Path) -> None:
    """The checks above can fail: a misspelt key is a warning (refused with --deny-warnings), and an unset
    address variable is reported."""
    source = ROOT / "conf" / "examples" / "kafka-memory-hdfs.properties"
    typo = tmp_path / source.name
    typo.write_text(source.read_text() + "agent.sinks.hdfs.hdfs.rollSzie = 1\n")
    result = check(typo, "--deny-warnings")
    assert result.returncode == 2
    assert "rollSzie" in result.stderr

    env = {k: v for k, v in {**os.environ, **ENV}.items() if k != "FLAFKA_HDFS_URL"}
    result = check(source, env=env)
    assert result.returncode == 2
    assert "FLAFKA_HDFS_URL" in result.stderr
