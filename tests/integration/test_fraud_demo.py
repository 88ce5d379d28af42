"""The fraud demo (`make demo`) end to end on the real servers: Kafka, HDFS, HBase + Thrift, two agents."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import happybase
import pytest

from flafka.examples.fraud.customers import customer_key
from flafka.examples.fraud.demo import Options, run
from flafka.examples.fraud.seed_data import customers
from tests.integration.conftest import Devstack, HbaseStack, HdfsStack

pytestmark = pytest.mark.slow


@pytest.fixture
def env(kafka_stack: Devstack, hdfs_stack: HdfsStack, hbase_stack: HbaseStack) -> dict[str, str]:
    return {"FLAFKA_KAFKA_BOOTSTRAP": kafka_stack.kafka_bootstrap, "FLAFKA_HDFS_URL": hdfs_stack.url,
            "FLAFKA_HBASE_THRIFT": hbase_stack.thrift}


def test_every_transaction_is_scored_once_or_dead_lettered_and_lands_in_hdfs(
        env: dict[str, str], hbase: happybase.Connection, tmp_path: Path) -> None:
    said: list[str] = []
    options = Options(count=1500, rate=1500, unscorable_every=100, settle_timeout_s=90, warmup_s=0.2)
    report = run(env, options, say=said.append, workdir=tmp_path)
    assert report.failures == []
    outcome = report.outcome
    assert (report.sent, len(outcome.scored_ms), len(outcome.dead_lettered)) == (1800, 1782, 18)
    assert (report.missing_kafka, report.missing_hdfs, report.in_hdfs, report.hdfs_lines) == (0, 0, 1800, 1800)
    assert outcome.duplicates == 0
    assert outcome.append_times
    assert len(outcome.latencies_ms()) == 1782
    assert len(report.warmup) == 300
    assert len(outcome.latencies_of_ms(report.warmup)) == 297  # 3 of them dead-lettered
    assert len(outcome.latencies_ms(skip=report.warmup)) == 1485
    assert outcome.declined <= outcome.alerts  # a decline always alerts
    assert report.ok
    # each scored transaction was applied to its customer exactly once
    rows = hbase.table("customer").rows([customer_key(c.card) for c in customers()], columns=[b"c:tt"])
    assert sum(int(cells[b"c:tt"]) for _, cells in rows) == 1782
    assert any("agents up" in line for line in said)


def test_make_demo_s_command_with_the_kafka_channel_layout(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flafka.examples.fraud", "demo", "--count", "600", "--rate", "1000", "--layout",
         "kafka-channel", "--unscorable-every", "0", "--warmup-seconds", "0"],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "using the servers named by FLAFKA_*" in out  # the fixtures' servers: nothing started or stopped
    assert "HDFS layout kafka-channel" in out
    assert "OK: every transaction was scored or dead-lettered, and landed in HDFS" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and line.split()}
    assert lines["sent"].split()[1] == "600"
    assert lines["scored"].split()[1] == "600"
    assert lines["missing"].split()[1] == "0"
