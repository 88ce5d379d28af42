"""devstack's HBase (standalone HMaster + Thrift1 server): happybase creates, writes, reads and scans tables
through the exported Thrift address; `restart hbase` keeps the data; `down` stops both JVMs; a bare `up` (what
CI runs) leaves HBase out.

The restart test runs its own HBase on its own state file, never the session's shared one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import happybase
import pytest

from devstack import proc
from devstack.servers import with_requirements
from tests.integration.conftest import HbaseStack, _checked, _devstack, parse_env

HBASE = ("hbase-master", "hbase-thrift")
ROWS = 50


def _connect(thrift: str) -> happybase.Connection:
    host, port = thrift.rsplit(":", 1)
    # A timeout (ms): a hung server fails the test instead of blocking it until pytest-timeout.
    return happybase.Connection(host, int(port), timeout=30_000)


def _records(state: Path) -> dict[str, dict[str, object]]:
    """The servers the devstack state file records, by name."""
    servers: dict[str, dict[str, object]] = json.loads(state.read_text())["servers"]
    return servers


def _pids(state: Path) -> dict[str, tuple[int, str]]:
    """(PID, config path) of each recorded HBase server: what devstack recognises a live server by."""
    return {name: (int(str(rec["pid"])), str(rec["config"])) for name, rec in _records(state).items()}


def test_bare_up_leaves_hbase_out() -> None:
    """CI's `python -m devstack up` (no names) must not start HBase; `up hbase` or `up hbase-thrift` does."""
    assert not set(HBASE) & set(with_requirements([]))
    assert {"zookeeper", "kafka", "namenode", "datanode"} <= set(with_requirements([]))
    assert with_requirements(["hbase"]) == list(HBASE)
    assert with_requirements(["hbase-thrift"]) == list(HBASE)


@pytest.fixture
def table(hbase_stack: HbaseStack) -> Iterator[happybase.Table]:
    """A fresh table (unique name: the servers may be reused across sessions), dropped afterwards."""
    name = f"devstack_{uuid.uuid4().hex[:12]}"
    connection = _connect(hbase_stack.thrift)
    connection.create_table(name, {"cf": {"max_versions": 1}})
    try:
        yield connection.table(name)
    finally:
        connection.delete_table(name, disable=True)
        connection.close()


def test_thrift_round_trip(hbase_stack: HbaseStack, table: happybase.Table) -> None:
    assert hbase_stack.thrift.startswith("127.0.0.1:")
    assert hbase_stack.zookeeper == "" or hbase_stack.zookeeper.startswith("127.0.0.1:")

    with table.batch() as batch:
        for i in range(ROWS):
            batch.put(f"row-{i:03d}".encode(), {b"cf:value": f"value-{i}".encode(), b"cf:n": str(i).encode()})
    table.put(b"single", {b"cf:value": b"one"})

    assert table.row(b"single") == {b"cf:value": b"one"}
    assert table.row(b"row-007") == {b"cf:value": b"value-7", b"cf:n": b"7"}
    assert table.row(b"absent") == {}
    scanned = list(table.scan(row_prefix=b"row-", columns=[b"cf:value"]))
    assert [key for key, _ in scanned] == [f"row-{i:03d}".encode() for i in range(ROWS)]
    assert all(data == {b"cf:value": f"value-{int(key[4:])}".encode()} for key, data in scanned)
    assert table.counter_inc(b"counter", b"cf:hits", value=3) == 3


@pytest.mark.hbase
@pytest.mark.slow
def test_restart_keeps_data_and_down_stops_every_pid(tmp_path: Path) -> None:
    """~50 s: a private HBase up (~15 s), `restart hbase` (~25 s), `down` (~10 s)."""
    state = tmp_path / "devstack-state.json"
    try:
        env = parse_env(_checked("up", "hbase", state=state).stdout)
        thrift, zookeeper = env["FLAFKA_HBASE_THRIFT"], env["FLAFKA_HBASE_ZOOKEEPER"]
        assert thrift.startswith("127.0.0.1:")
        assert zookeeper.startswith("127.0.0.1:")
        before = _pids(state)
        assert set(before) == set(HBASE)
        assert all(proc.is_alive(pid, config) for pid, config in before.values())

        connection = _connect(thrift)
        connection.create_table("kept", {"cf": {}})
        connection.table("kept").put(b"r1", {b"cf:a": b"before restart"})
        connection.close()

        _checked("restart", "hbase", state=state)
        after = _pids(state)
        assert all(after[name][0] != before[name][0] for name in HBASE), "both JVMs should be new processes"
        assert not any(proc.is_alive(pid, config) for pid, config in before.values())
        # Same addresses after the restart: clients keep their configuration.
        assert parse_env(_checked("env", state=state).stdout) == env

        connection = _connect(thrift)
        table = connection.table("kept")
        assert table.row(b"r1") == {b"cf:a": b"before restart"}
        table.put(b"r2", {b"cf:a": b"after restart"})
        assert [key for key, _ in table.scan()] == [b"r1", b"r2"]
        connection.close()

        data_dirs = [Path(str(rec["data_dir"])) for rec in _records(state).values()]
        down = _checked("down", state=state)
        # A graceful stop (SIGTERM), not SIGKILL after the 20 s stop timeout: the ZooKeeper retry settings.
        assert "SIGKILL" not in down.stderr, down.stderr
        assert not any(proc.is_alive(pid, config) for pid, config in after.values())
        assert not any(path.exists() for path in data_dirs)
        assert not state.exists(), "devstack drops its state file once nothing is recorded"
    finally:
        _devstack("down", state=state)
