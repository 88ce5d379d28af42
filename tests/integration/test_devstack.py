"""The devstack servers answer: a real broker takes and gives back records, ZooKeeper answers `srvr`, HDFS
takes files over WebHDFS and RPC, keeps ports and data across restarts, and Hadoop's own tools run against it.

Tests that restart or stop servers use `private_hdfs` (a state file of their own), never the shared stack.
"""

from __future__ import annotations

import bz2
import gzip
import json
import os
import socket
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from typing import Any

import hdfs
import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from devstack.errors import DevstackError
from devstack.servers import expand, with_dependents, with_requirements
from tests.integration.conftest import REPO_ROOT, Devstack, HdfsStack

RECORDS = 100
PARTITIONS = 4
DEADLINE_S = 30.0


def test_broker_round_trip(devstack: Devstack) -> None:
    topic = f"devstack-{uuid.uuid4().hex[:12]}"  # unique: the servers may be reused across sessions
    admin = AdminClient({"bootstrap.servers": devstack.kafka_bootstrap, "client.id": "devstack-test"})
    created = admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)],
                                  request_timeout=DEADLINE_S)
    created[topic].result(timeout=DEADLINE_S)

    sent = [f"record-{i:03d}".encode() for i in range(RECORDS)]
    # murmur2_random: Java's partitioner, as Flume's components place keyed records.
    producer = Producer({"bootstrap.servers": devstack.kafka_bootstrap, "acks": "all",
                         "partitioner": "murmur2_random"})
    partitions_written: set[int] = set()
    failures: list[KafkaError] = []

    def delivered(error: KafkaError | None, msg: Message) -> None:
        if error is not None:
            failures.append(error)
        else:
            partitions_written.add(msg.partition() or 0)

    for i, value in enumerate(sent):
        producer.produce(topic, key=str(i).encode(), value=value, on_delivery=delivered)
    assert producer.flush(DEADLINE_S) == 0, "every record should be acknowledged within the deadline"
    assert failures == []
    assert partitions_written == set(range(PARTITIONS)), "keys should spread the records over every partition"

    consumer = Consumer({
        "bootstrap.servers": devstack.kafka_bootstrap,
        "group.id": f"{topic}-group",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    received: list[bytes] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + DEADLINE_S
        while len(received) < RECORDS and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=0.5):
                assert msg.error() is None, msg.error()
                received.append(msg.value() or b"")
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    assert sorted(received) == sent


def test_zookeeper_answers_srvr(devstack: Devstack) -> None:
    assert devstack.zookeeper, "FLAFKA_ZOOKEEPER is not known"
    host, port = devstack.zookeeper.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"srvr")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    text = reply.decode()
    assert "Zookeeper version: 3.8" in text
    assert "Mode: standalone" in text


def test_hdfs_names_both_servers_and_the_datanode_needs_the_namenode() -> None:
    assert expand(["hdfs", "kafka"]) == ["namenode", "datanode", "kafka"]
    assert with_requirements(["hdfs"]) == ["namenode", "datanode"]
    assert with_requirements(["datanode"]) == ["namenode", "datanode"]
    assert with_dependents(["namenode"]) == ["namenode", "datanode"]
    with pytest.raises(DevstackError) as refused:
        expand(["hfds"])
    assert str(refused.value) == ("unknown server(s) hfds; devstack knows: zookeeper, kafka, namenode, datanode, "
                                  "hbase-master, hbase-thrift, hdfs, hbase")


def _site(conf_dir: Path, name: str) -> dict[str, str]:
    root = ET.parse(conf_dir / name).getroot()
    return {prop.findtext("name", ""): prop.findtext("value", "") for prop in root.iter("property")}


def _webhdfs(stack: HdfsStack) -> hdfs.InsecureClient:
    return hdfs.InsecureClient(stack.webhdfs_url, user="devstack-test")


def _read(client: hdfs.InsecureClient, path: str) -> bytes:
    with client.read(path) as reader:
        data: bytes = reader.read()
    return data


def test_hdfs_takes_files_over_webhdfs_and_rpc(hdfs_stack: HdfsStack) -> None:
    client = _webhdfs(hdfs_stack)
    path = f"/devstack-test/{uuid.uuid4().hex[:12]}/events.txt"  # unique: the servers may be reused
    client.write(path, data=b"first\n")
    client.write(path, data=b"second\n", append=True)
    assert _read(client, path) == b"first\nsecond\n"
    assert client.status(path)["length"] == 13

    # Hadoop's own client, over the NameNode RPC port Flume configs name, sees the same bytes.
    cat = hdfs_stack.hadoop("fs", "-cat", f"{hdfs_stack.url}{path}")
    assert (cat.returncode, cat.stdout) == (0, b"first\nsecond\n"), cat.stderr


def test_hadoop_conf_dir_describes_the_cluster(hdfs_stack: HdfsStack) -> None:
    core, site = _site(hdfs_stack.conf_dir, "core-site.xml"), _site(hdfs_stack.conf_dir, "hdfs-site.xml")
    assert core["fs.defaultFS"] == hdfs_stack.url
    assert f"http://{site['dfs.namenode.http-address']}" == hdfs_stack.webhdfs_url
    assert f"hdfs://{site['dfs.namenode.rpc-address']}" == hdfs_stack.url
    assert site["dfs.replication"] == "1"
    assert site["dfs.client.block.write.locateFollowingBlock.initial.delay.ms"] == "10"


# What flafka's compressed streams must look like for Hadoop to read them: a gzip member, bzip2 stream or
# zlib stream per batch, concatenated. FsShell -text picks the codec by the file's extension.
_LINES = (b"alpha one\nalpha two\n", b"beta three\n")
_COMPRESSED = {
    "events.gz": gzip.compress(_LINES[0]) + gzip.compress(_LINES[1]),
    "events.bz2": bz2.compress(_LINES[0]) + bz2.compress(_LINES[1]),
    "events.deflate": zlib.compress(_LINES[0]) + zlib.compress(_LINES[1]),
}


def test_hadoop_text_reads_gzip_bzip2_and_deflate_streams(hdfs_stack: HdfsStack) -> None:
    client = _webhdfs(hdfs_stack)
    folder = f"/devstack-test/{uuid.uuid4().hex[:12]}"
    for name, data in _COMPRESSED.items():
        client.write(f"{folder}/{name}", data=data)
    done = hdfs_stack.hadoop("fs", "-text", *(f"{folder}/{name}" for name in _COMPRESSED))
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"".join(_LINES) * len(_COMPRESSED)


def test_hadoop_cannot_read_zstd_here(hdfs_stack: HdfsStack) -> None:
    """Hadoop's ZStandardCodec needs libhadoop.so, which no Maven jar carries: zstd files cannot be checked
    with Hadoop's readers on devstack (snappy, lz4 and the others are pure Java or bundled JNI)."""
    path = f"/devstack-test/{uuid.uuid4().hex[:12]}/events.zst"
    _webhdfs(hdfs_stack).write(path, data=bytes.fromhex("28b52ffd200b5900007a737464206672616d650a"))
    done = hdfs_stack.hadoop("fs", "-text", path)
    assert done.returncode == 255  # FsShell's "Fatal internal error"
    assert b"native zStandard library not available" in done.stderr


def _devstack_cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HADOOP_CONF_DIR"}
    return subprocess.run([sys.executable, "-m", "devstack", *args], cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                          env={**env, "FLAFKA_DEVSTACK_STATE": str(state)}, capture_output=True, text=True,
                          timeout=120, check=False)


def _records(state: Path) -> dict[str, Any]:
    """The devstack state file's records (name -> pid, port, data_dir, extra...)."""
    servers: dict[str, Any] = json.loads(state.read_text())["servers"]
    return servers


def _append_after_restart(client: hdfs.InsecureClient, path: str, data: bytes) -> None:
    """Append, retrying once the failure a NameNode restart leaves behind, as any HDFS client must.

    The DataNode keeps its idle RPC connection to the NameNode for 10 s (ipc.client.connection.maxidletime):
    after a quicker NameNode restart, the first WebHDFS write through the DataNode goes over that dead
    connection and fails with EOFException before writing anything (the read-back below checks that).
    """
    try:
        client.write(path, data=data, append=True)
    except hdfs.HdfsError as exc:
        failure = str(exc)
    else:
        return
    assert "java.io.EOFException" in failure
    client.write(path, data=data, append=True)


@pytest.mark.slow
def test_hdfs_restarts_on_the_same_ports_with_the_same_data(private_hdfs: HdfsStack) -> None:
    stack, state = private_hdfs, private_hdfs.state
    namenode = _records(state)["namenode"]
    conf_dir = Path(namenode["data_dir"]) / "conf"
    env_lines = [
        f"export FLAFKA_HDFS_URL=hdfs://127.0.0.1:{namenode['port']}",
        f"export FLAFKA_WEBHDFS_URL=http://127.0.0.1:{namenode['extra']['http_port']}",
        f"export HADOOP_CONF_DIR={conf_dir}",
    ]
    env = _devstack_cli(state, "env")
    assert (env.returncode, env.stdout.splitlines()) == (0, env_lines)
    assert stack.conf_dir == conf_dir

    again = _devstack_cli(state, "up", "hdfs")
    assert (again.returncode, again.stdout.splitlines()) == (0, env_lines)
    assert "namenode: already running" in again.stderr

    client = _webhdfs(stack)
    client.write("/kept.txt", data=b"before\n")
    expected = b"before\n"
    for servers in (["namenode"], ["datanode"], ["hdfs"]):
        pids = {name: rec["pid"] for name, rec in _records(state).items()}
        log = stack.restart(*servers)
        restarted = set(expand(servers))
        now = {name: rec["pid"] for name, rec in _records(state).items()}
        assert {name for name in pids if pids[name] != now[name]} == restarted, log
        assert _devstack_cli(state, "env").stdout.splitlines() == env_lines
        assert _read(client, "/kept.txt") == expected
        # Writable at once: the restart returned only once the NameNode had left safe mode with the DataNode.
        line = f"after {' '.join(servers)} restart\n".encode()
        _append_after_restart(client, "/kept.txt", line)
        expected += line
        assert _read(client, "/kept.txt") == expected

    # The CLI runs Hadoop's tools against the devstack NameNode when $HADOOP_CONF_DIR is unset.
    cat = _devstack_cli(state, "hadoop", "fs", "-cat", "/kept.txt")
    assert (cat.returncode, cat.stdout) == (0, expected.decode())
    missing = _devstack_cli(state, "hadoop", "fs", "-cat", "/missing.txt")
    assert missing.returncode == 1
    assert "`/missing.txt': No such file or directory" in missing.stderr

    down = _devstack_cli(state, "down", "namenode")  # the DataNode needs it: both stop
    assert down.returncode == 0
    assert "datanode: stopped" in down.stderr
    assert "namenode: stopped" in down.stderr
    assert not state.exists()
    assert not conf_dir.exists()
    status = _devstack_cli(state, "status")
    assert (status.returncode, status.stdout) == (1, "no server recorded (start them with `python -m devstack up`)\n")
