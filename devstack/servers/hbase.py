"""HBase 2.6 standalone and its Thrift1 server: two servers sharing the `hbase` jar set (`hbase` names both).

`hbase-master` is `HMaster start` in standalone mode (`hbase.cluster.distributed=false`): master, one region
server and an embedded ZooKeeper in one JVM, the data on the local file system in its data dir.
`hbase-thrift` is the Thrift1 server (what happybase, and so flafka's HBase sinks, talk to), a client of
the master found through that ZooKeeper. Two servers rather than one record owning two JVMs for the same
reason as HDFS (devstack/servers/hdfs.py): everything devstack does is per JVM.

Readiness is a scan of `hbase:meta` through Thrift: the Thrift server answers `getTableNames` seconds
before `hbase:meta` is online (measured: ~7 s against 15-19 s), and until then every read or write fails.
The probe uses happybase (a flafka dependency), imported only when a Thrift server is probed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from devstack.probes import accepts, four_letter_word
from devstack.servers.base import HOST, Prepared, Record, Server
from devstack.servers.hdfs import site_xml

# Hadoop and HBase main classes take no config argument: the config's path goes on the command line as a
# system property nobody reads, which is how a server's PID is recognised (proc.is_alive).
_MARKER_PROPERTY = "flafka.devstack.config"
_PROBE_TIMEOUT_MS = 5000

# HBase's own Java 17 flags (bin/hbase adds them on JDK 11+): its shaded Netty and the region server's
# off-heap code reach into these JDK internals and fail (or fall back slowly) without them.
_JAVA17_FLAGS = [
    "-Dorg.apache.hbase.thirdparty.io.netty.tryReflectionSetAccessible=true",
    "--add-modules", "jdk.unsupported",
    "--add-opens", "java.base/java.nio=ALL-UNNAMED",
    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports", "java.security.jgss/sun.security.krb5=ALL-UNNAMED",
    "--add-exports", "java.base/sun.net.dns=ALL-UNNAMED",
    "--add-exports", "java.base/sun.net.util=ALL-UNNAMED",
]


def _client_site(zk_port: int) -> dict[str, str]:
    """What the master and the Thrift server (a client) share: where ZooKeeper is, how long to retry it."""
    return {
        "hbase.zookeeper.quorum": HOST,
        "hbase.zookeeper.property.clientPort": str(zk_port),
        # One retry 200 ms apart instead of HBase's defaults (30 retries, backoff from 1 s): with the defaults
        # 2 of 4 SIGTERM stops hung > 20 s, retrying a ZooKeeper that was going away with the same JVM; with
        # these 5 of 5 stopped in 5-12 s (measured, servers-from-maven.md).
        "zookeeper.recovery.retry": "1",
        "zookeeper.recovery.retry.intervalmill": "200",
    }


class _HBase(Server):
    """What both HBase servers share: jars, JVM flags, the conf dir first on the classpath."""

    jar_set = "hbase"
    log_levels: ClassVar[Mapping[str, str]] = {
        # One INFO line per ZooKeeper session event and per client connection: noise in a test log.
        "org.apache.zookeeper": "WARN",
        "org.apache.hadoop.util.NativeCodeLoader": "ERROR",
        # "Unable to load native-hadoop library" and metrics-system chatter at every start.
        "org.apache.hadoop.metrics2": "WARN",
    }

    @staticmethod
    def conf_dir(data_dir: Path) -> Path:
        return data_dir / "conf"

    def jvm_options(self, data_dir: Path) -> list[str]:
        return [
            *_JAVA17_FLAGS,
            # Netty and Jetty unpack native libraries / webapps there: keep them in the data dir, not in /tmp.
            f"-Djava.io.tmpdir={data_dir / 'tmp'}",
            f"-Dhbase.log.dir={data_dir}",
            f"-D{_MARKER_PROPERTY}={self.conf_dir(data_dir) / 'hbase-site.xml'}",
        ]

    def classpath(self, lib: Path, record: Record) -> str:
        # HBase reads hbase-site.xml as a classpath resource.
        return f"{self.conf_dir(Path(record.data_dir))}:{lib}/*"

    def write_conf(self, data_dir: Path, site: Mapping[str, str]) -> Path:
        """Write the conf dir and the server's log4j config; returns hbase-site.xml (the record's config)."""
        (data_dir / "tmp").mkdir()
        conf = self.conf_dir(data_dir)
        conf.mkdir()
        self.write_log4j(data_dir)
        path = conf / "hbase-site.xml"
        path.write_text(site_xml(site))
        return path


class HBaseMaster(_HBase):
    """HMaster in standalone mode; its record's port is the embedded ZooKeeper's client port."""

    name = "hbase-master"
    main_class = "org.apache.hadoop.hbase.master.HMaster"
    heap = "512m"  # RSS ~350 MB at this heap (master + region server + ZooKeeper), measured

    def configure(self, data_dir: Path, port: int, deps: Mapping[str, Record]) -> Prepared:
        site = {
            **_client_site(port),
            # Standalone: master, region server and ZooKeeper in this one JVM.
            "hbase.cluster.distributed": "false",
            "hbase.rootdir": f"file://{data_dir / 'root'}",
            "hbase.tmp.dir": str(data_dir / "tmp"),
            "hbase.zookeeper.property.dataDir": str(data_dir / "zookeeper"),
            # The embedded ZooKeeper's listening address (it defaults to loopback in 2.6; said, not assumed).
            "hbase.zookeeper.property.clientPortAddress": HOST,
            # The local file system has no hflush/hsync capability; HBase refuses to write its WAL there unless
            # told not to check (as the standalone quickstart's hbase-site.xml does).
            "hbase.unsafe.stream.capability.enforce": "false",
            # Master and region server RPC on loopback, registered in ZooKeeper under a name that resolves to it
            # (the machine's host name may not).
            "hbase.master.ipc.address": HOST,
            "hbase.regionserver.ipc.address": HOST,
            "hbase.master.hostname": "localhost",
            "hbase.unsafe.regionserver.hostname": "localhost",
            # Master and region server RPC on ports the kernel picks (else 16000/16020, which clash between two
            # stacks on one machine). Clients find them through ZooKeeper, so they may change on a restart.
            "hbase.localcluster.assign.random.ports": "true",
            # No web UIs: with random ports they would take port 0 (unknowable) on every interface.
            "hbase.master.info.port": "-1",
            "hbase.regionserver.info.port": "-1",
        }
        path = self.write_conf(data_dir, site)
        return Prepared(config=path)

    def arguments(self, record: Record) -> list[str]:
        return ["start"]

    def probe(self, record: Record) -> bool:
        """The embedded ZooKeeper holds the master's and a region server's registrations (ephemeral nodes,
        listed by the `dump` four-letter word). `hbase:meta` being online is the Thrift server's probe."""
        if not accepts(HOST, record.port):
            return False
        try:
            dump = four_letter_word(HOST, record.port, "dump")
        except OSError:
            return False
        return "/hbase/master" in dump and "/hbase/rs/" in dump

    def env(self, record: Record) -> dict[str, str]:
        # What a Java HBase client (or Flume's HBase2 sink) is configured with: hbase.zookeeper.quorum:port.
        return {"FLAFKA_HBASE_ZOOKEEPER": record.address}

    def describe(self, record: Record) -> str:
        return f"ZooKeeper {record.address} (data {Path(record.data_dir) / 'root'})"


class HBaseThrift(_HBase):
    """The Thrift1 server (binary protocol, buffered transport: happybase's defaults)."""

    name = "hbase-thrift"
    main_class = "org.apache.hadoop.hbase.thrift.ThriftServer"
    heap = "256m"  # RSS ~190 MB, measured
    requires = ("hbase-master",)

    def configure(self, data_dir: Path, port: int, deps: Mapping[str, Record]) -> Prepared:
        master = deps["hbase-master"]
        site = {**_client_site(master.port), "hbase.tmp.dir": str(data_dir / "tmp")}
        path = self.write_conf(data_dir, site)
        return Prepared(config=path, extra={"zookeeper_port": str(master.port)})

    def arguments(self, record: Record) -> list[str]:
        # `--infoport -1`: no web UI (it would listen on every interface).
        return ["-b", HOST, "-p", str(record.port), "--infoport", "-1", "start"]

    def probe(self, record: Record) -> bool:
        """A scan of `hbase:meta` answers through this Thrift server: regions can be found, so tables can be
        created, written and read."""
        if not accepts(HOST, record.port):
            return False
        try:
            # Imported here, not at the top: the rest of devstack stays standard library only.
            import happybase  # noqa: PLC0415
        except ImportError:
            return False
        # Anything can go wrong while HBase starts (TTransportException, IOError from the server, a
        # timeout): every failure means "not yet".
        connection = happybase.Connection(HOST, record.port, timeout=_PROBE_TIMEOUT_MS, autoconnect=False)
        try:
            connection.open()
            next(iter(connection.table("hbase:meta").scan(limit=1)), None)
            return True
        except Exception:
            return False
        finally:
            with contextlib.suppress(Exception):
                connection.close()

    def env(self, record: Record) -> dict[str, str]:
        return {"FLAFKA_HBASE_THRIFT": record.address}

    def describe(self, record: Record) -> str:
        return f"Thrift {record.address}"
