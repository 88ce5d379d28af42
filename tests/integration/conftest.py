"""Integration tests run against the real servers of `devstack/` (DESIGN.md: never mocks).

Each group of servers has its own session fixture, so a test starts only what it uses:

- `kafka_stack` (also named `devstack`, as the Kafka tests have always called it): Kafka + ZooKeeper;
- `hdfs_stack`: the NameNode + DataNode, shared by the session;
- `private_hdfs`: an HDFS of the test's own (its own devstack state file), for tests that restart or stop it;
- `hbase_stack`: HBase standalone + its Thrift server, shared by the session (started only when a test uses it).

A test is marked `kafka`, `hdfs` or `hbase` by the fixtures it uses (`-m "not hdfs"` leaves HDFS alone).

Servers named by the environment (`eval "$(python -m devstack up)"`: FLAFKA_KAFKA_BOOTSTRAP, FLAFKA_HDFS_URL...)
are used as they are. Otherwise the fixture runs `python -m devstack up <group>`: servers already up are
reused and left running; servers a test session started are stopped by name at the end of the last
session using them (sessions sharing a devstack state file hold leases, so one session's end never
stops the HDFS another one is in the middle of using).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import happybase
import pytest

from devstack import hadoop
from devstack.paths import state_file
from tests.integration.hbase_tools import Relay, connect
from tests.integration.kafka_tools import KafkaTools

REPO_ROOT = Path(__file__).resolve().parents[2]
_HERE = Path(__file__).resolve().parent
_UP_TIMEOUT = 600  # a first run also downloads the jars through Maven

# The servers each fixture group starts (`python -m devstack up <group>`), and the marker it gives tests.
GROUPS: dict[str, tuple[str, ...]] = {
    "kafka": ("zookeeper", "kafka"), "hdfs": ("namenode", "datanode"), "hbase": ("hbase-master", "hbase-thrift"),
}
_MARKED_BY = {"kafka": ("kafka_stack",), "hdfs": ("hdfs_stack", "private_hdfs"), "hbase": ("hbase_stack",)}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A hook in this conftest sees every collected item, not only this directory's: filter by path.
    for item in items:
        if _HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)
            fixtures = set(getattr(item, "fixturenames", ()))
            for marker, names in _MARKED_BY.items():
                if fixtures.intersection(names):
                    item.add_marker(marker)


def _devstack(*args: str, state: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m devstack ARGS`, on the given state file (default: the one $FLAFKA_DEVSTACK_STATE names)."""
    env = None if state is None else {**os.environ, "FLAFKA_DEVSTACK_STATE": str(state)}
    return subprocess.run(
        [sys.executable, "-m", "devstack", *args],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_UP_TIMEOUT,
        check=False,
    )


def _checked(*args: str, state: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`_devstack` failing the test when the command fails; stdout holds `export` lines, stderr the progress."""
    done = _devstack(*args, state=state)
    if done.returncode != 0:
        pytest.fail(f"`python -m devstack {' '.join(args)}` failed (exit {done.returncode}):\n{done.stderr}",
                    pytrace=False)
    return done


def _running(state: Path | None = None) -> set[str]:
    """Servers devstack already runs (they are reused, and left running at the end)."""
    out = _devstack("status", state=state).stdout
    return {m.group(1) for m in re.finditer(r"^(\S+)\s.*\bup\b", out, re.MULTILINE)}


def parse_env(text: str) -> dict[str, str]:
    """The `export NAME=value` lines `python -m devstack env` (or `up`) prints, as a dict."""
    env = {}
    for line in text.splitlines():
        m = re.fullmatch(r"export (\w+)=(.*)", line.strip())
        if m:
            env[m.group(1)] = m.group(2).strip("'")
    return env


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Leases:
    """Which test sessions use a group's servers, and which of those servers a test session started.

    Beside the devstack state file: `<state>.sessions/<group>.<pid>` per session using the group, and
    `<group>.started` listing the servers test sessions started (stopped by the last session to leave).
    """

    def __init__(self, group: str) -> None:
        state = state_file()
        self.group = group
        self.dir = state.with_name(state.name + ".sessions")
        self.lease = self.dir / f"{group}.{os.getpid()}"
        self.started = self.dir / f"{group}.started"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / "lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def _started(self) -> list[str]:
        try:
            return list(json.loads(self.started.read_text()))
        except FileNotFoundError:
            return []

    def acquire(self) -> str:
        """Start the group (reusing what runs), take a lease; returns `python -m devstack env`'s output."""
        with self._locked():
            before = _running()
            self.lease.write_text("")
            try:
                _checked("up", self.group)
            except BaseException:
                self.lease.unlink(missing_ok=True)
                raise
            ours = [name for name in GROUPS[self.group] if name not in before]
            if ours:
                self.started.write_text(json.dumps(sorted({*self._started(), *ours})))
            return _checked("env").stdout

    def release(self) -> None:
        with self._locked():
            self.lease.unlink(missing_ok=True)
            others = False
            for path in self.dir.glob(f"{self.group}.*"):
                pid = path.suffix.removeprefix(".")
                if not pid.isdigit():
                    continue
                if _pid_alive(int(pid)):
                    others = True
                else:
                    path.unlink(missing_ok=True)  # a session that was killed: it uses nothing any more
            started = self._started()
            if others or not started:
                return
            down = _devstack("down", *started)
            if down.returncode != 0:
                sys.stderr.write(f"`python -m devstack down {' '.join(started)}` failed:\n{down.stderr}\n")
            self.started.unlink(missing_ok=True)


@contextmanager
def _group(group: str) -> Iterator[dict[str, str]]:
    leases = _Leases(group)
    env = parse_env(leases.acquire())
    try:
        yield env
    finally:
        leases.release()


@dataclass(frozen=True)
class Devstack:
    """The Kafka stack (the name predates the other servers)."""

    kafka_bootstrap: str  # host:port of the broker
    zookeeper: str | None  # host:port of ZooKeeper (None when only FLAFKA_KAFKA_BOOTSTRAP was given)
    kafka_zk_connect: str | None  # the broker's zookeeper.connect, with its chroot if any


@pytest.fixture(scope="session")
def kafka_stack() -> Iterator[Devstack]:
    if os.environ.get("FLAFKA_KAFKA_BOOTSTRAP"):
        env: dict[str, str] = dict(os.environ)
        yield Devstack(env["FLAFKA_KAFKA_BOOTSTRAP"], env.get("FLAFKA_ZOOKEEPER") or None,
                       env.get("FLAFKA_KAFKA_ZK_CONNECT") or None)
        return
    with _group("kafka") as env:
        yield Devstack(env["FLAFKA_KAFKA_BOOTSTRAP"], env.get("FLAFKA_ZOOKEEPER"), env.get("FLAFKA_KAFKA_ZK_CONNECT"))


@pytest.fixture(scope="session")
def devstack(kafka_stack: Devstack) -> Devstack:
    """`kafka_stack` under the name the Kafka tests use."""
    return kafka_stack


@pytest.fixture(scope="session")
def kafka(kafka_stack: Devstack) -> KafkaTools:
    """Topic creation, producing and reading back against the devstack broker."""
    return KafkaTools(kafka_stack.kafka_bootstrap)


@dataclass(frozen=True)
class HdfsStack:
    url: str  # hdfs://127.0.0.1:<NameNode RPC port>: what Flume configs name
    webhdfs_url: str  # http://127.0.0.1:<NameNode HTTP port>
    conf_dir: Path  # HADOOP_CONF_DIR: core-site.xml and hdfs-site.xml of this cluster
    state: Path  # the devstack state file that runs it (restart goes through it)

    @classmethod
    def from_env(cls, env: dict[str, str], state: Path) -> HdfsStack:
        return cls(env["FLAFKA_HDFS_URL"], env["FLAFKA_WEBHDFS_URL"], Path(env["HADOOP_CONF_DIR"]), state)

    def hadoop(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run a Hadoop tool against this cluster, e.g. `hadoop("fs", "-ls", "/")` (see devstack/hadoop.py)."""
        return hadoop.run(args, conf=self.conf_dir, stdin=stdin)

    def text(self, path: str) -> bytes:
        """`hadoop fs -text PATH`: the file as Hadoop's readers decode it (codec by extension, SequenceFiles)."""
        done = self.hadoop("fs", "-text", path)
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        return done.stdout

    def restart(self, *servers: str) -> str:
        """`python -m devstack restart` of namenode, datanode or hdfs (the default): same ports, same data,
        and HDFS takes writes again when it returns. Returns devstack's progress lines.

        Restarting the session's shared HDFS disturbs every test using it: restart a `private_hdfs`."""
        return _checked("restart", *(servers or ("hdfs",)), state=self.state).stderr


_HDFS_ENV = ("FLAFKA_HDFS_URL", "FLAFKA_WEBHDFS_URL", "HADOOP_CONF_DIR")


@pytest.fixture(scope="session")
def hdfs_stack() -> Iterator[HdfsStack]:
    if os.environ.get("FLAFKA_HDFS_URL"):
        missing = [name for name in _HDFS_ENV if not os.environ.get(name)]
        if missing:
            pytest.fail(f"FLAFKA_HDFS_URL is set but not {', '.join(missing)} (use `python -m devstack env`)",
                        pytrace=False)
        yield HdfsStack.from_env(dict(os.environ), state_file())
        return
    with _group("hdfs") as env:
        yield HdfsStack.from_env(env, state_file())


@pytest.fixture
def private_hdfs(tmp_path: Path) -> Iterator[HdfsStack]:
    """An HDFS of this test's own (~10 s to start), on its own state file: free to restart, kill or stop."""
    state = tmp_path / "devstack-state.json"
    try:
        yield HdfsStack.from_env(parse_env(_checked("up", "hdfs", state=state).stdout), state)
    finally:
        down = _devstack("down", state=state)
        if down.returncode != 0:
            sys.stderr.write(f"`python -m devstack down` of the private HDFS failed:\n{down.stderr}\n")


@dataclass(frozen=True)
class HbaseStack:
    thrift: str  # 127.0.0.1:<port> of the Thrift1 server (happybase: binary protocol, buffered transport)
    zookeeper: str  # 127.0.0.1:<port> of the embedded ZooKeeper (hbase.zookeeper.quorum for Java clients)

    @property
    def thrift_host(self) -> str:
        return self.thrift.rsplit(":", 1)[0]

    @property
    def thrift_port(self) -> int:
        return int(self.thrift.rsplit(":", 1)[1])


@pytest.fixture(scope="session")
def hbase_stack() -> Iterator[HbaseStack]:
    """The HBase named by FLAFKA_HBASE_THRIFT, else `python -m devstack up hbase` (~15 s; a bare `up`, as CI
    runs, does not start HBase)."""
    if os.environ.get("FLAFKA_HBASE_THRIFT"):
        yield HbaseStack(os.environ["FLAFKA_HBASE_THRIFT"], os.environ.get("FLAFKA_HBASE_ZOOKEEPER", ""))
        return
    with _group("hbase") as env:
        yield HbaseStack(env["FLAFKA_HBASE_THRIFT"], env["FLAFKA_HBASE_ZOOKEEPER"])


@pytest.fixture
def hbase(hbase_stack: HbaseStack) -> Iterator[happybase.Connection]:
    """A happybase connection to the session's HBase Thrift server, closed afterwards."""
    connection = connect(hbase_stack.thrift)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def relay(hbase_stack: HbaseStack) -> Iterator[Relay]:
    """A TCP relay in front of the session's HBase Thrift server (see :class:`Relay`)."""
    relay = Relay(hbase_stack.thrift)
    yield relay
    relay.close()
