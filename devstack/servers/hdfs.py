"""Hadoop HDFS: a NameNode and a DataNode, two servers sharing the `hdfs` jar set (`hdfs` names both).

Two servers rather than one record owning two JVMs: everything devstack does is per JVM (one PID to
stop, one probe, one log, one `restart`), so `restart namenode` alone, which the HDFS sink's "NameNode
restart mid-stream" tests need, comes for free, and the DataNode's `requires` gives the start order.

Both JVMs read their settings from a Hadoop conf dir (`core-site.xml`, `hdfs-site.xml`) first on the
classpath. The NameNode's conf dir is also what clients get as `HADOOP_CONF_DIR`, as on a real cluster:
it holds the client settings below and a log4j.properties for Hadoop's command line tools.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar
from xml.sax.saxutils import escape

from devstack import proc
from devstack.errors import DevstackError
from devstack.jars import ensure_jars
from devstack.probes import accepts, http_json
from devstack.servers.base import HOST, Prepared, Record, Say, Server

_FORMAT_TIMEOUT = 120.0
# Where devstack's own settings are written; also how a server's PID is recognised (proc.is_alive):
# Hadoop's main classes take no config argument, so the path is passed as a system property nobody reads.
_MARKER_PROPERTY = "flafka.devstack.config"

CLIENT_LOG4J = """\
# Hadoop's command line tools (FsShell, DebugAdmin...) run with this conf dir first on the classpath:
# warnings and errors on stderr, stdout left to the tool's output.
log4j.rootLogger=WARN, console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{HH:mm:ss} %p %c{1}: %m%n
# "Unable to load native-hadoop library": expected here (no libhadoop.so), said once in devstack/README.md.
log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR
"""


def site_xml(settings: Mapping[str, str]) -> str:
    """A Hadoop `*-site.xml` holding `settings`."""
    props = "".join(
        f"  <property><name>{escape(name)}</name><value>{escape(value)}</value></property>\n"
        for name, value in settings.items()
    )
    return f'<?xml version="1.0"?>\n<configuration>\n{props}</configuration>\n'


def _distinct_free_ports(count: int, taken: set[int]) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = proc.free_port()
        if port not in taken and port not in ports:
            ports.append(port)
    return ports


def _core_site(rpc_port: int, data_dir: Path) -> dict[str, str]:
    return {
        "fs.defaultFS": f"hdfs://{HOST}:{rpc_port}",
        # The default /tmp/hadoop-${user.name} would be shared by every stack on the machine.
        "hadoop.tmp.dir": str(data_dir / "tmp"),
        # An idle RPC connection is closed after 1 s instead of 10: the DataNode's WebHDFS client otherwise reused
        # its connection to a NameNode restarted in the meantime, and the first read or write after a restart
        # failed with java.io.EOFException (seen in 1 of 3 restarts, and in CI).
        "ipc.client.connection.maxidletime": "1000",
    }


def _hdfs_site(rpc_port: int, http_port: int) -> dict[str, str]:
    """What the NameNode, the DataNode and every client share."""
    return {
        "dfs.namenode.rpc-address": f"{HOST}:{rpc_port}",
        "dfs.namenode.http-address": f"{HOST}:{http_port}",
        "dfs.webhdfs.enabled": "true",
        # One DataNode: a block can have one replica only, and a pipeline has no DataNode to swap in.
        "dfs.replication": "1",
        "dfs.client.block.write.replace-datanode-on-failure.enable": "false",
        # The client waits this long before asking again for a block's next location; the default 400 ms
        # made every WebHDFS append take ~450 ms instead of ~40 ms (measured, servers-from-maven.md).
        "dfs.client.block.write.locateFollowingBlock.initial.delay.ms": "10",
        # Tests write as whoever runs them; HDFS permissions would only get in the way on loopback.
        "dfs.permissions.enabled": "false",
        # Seconds between DataNode heartbeats (default 3): a restarted NameNode learns of the DataNode sooner.
        "dfs.heartbeat.interval": "1",
    }


class _Hadoop(Server):
    """What both HDFS servers share: jars, JVM flags, the conf dir first on the classpath."""

    heap = "256m"  # RSS ~215 MB (NameNode), ~250 MB (DataNode) at this heap, measured
    jar_set = "hdfs"
    log_levels: ClassVar[Mapping[str, str]] = {
        # One INFO line per file operation (audit), per block allocated or received: a stream would flood the log.
        "org.apache.hadoop.hdfs.server.namenode.FSNamesystem.audit": "WARN",
        "org.apache.hadoop.hdfs.StateChange": "WARN",
        "BlockStateChange": "WARN",
        "org.apache.hadoop.hdfs.server.datanode.DataNode.clienttrace": "WARN",
        "org.apache.hadoop.hdfs.server.datanode.DataNode": "WARN",
        "org.apache.hadoop.util.NativeCodeLoader": "ERROR",
        # "Could not read signature secret file ~/hadoop-http-auth-signature-secret": a random one is right here.
        "org.apache.hadoop.security.authentication.server.AuthenticationFilter": "ERROR",
    }

    @staticmethod
    def conf_dir(data_dir: Path) -> Path:
        return data_dir / "conf"

    def jvm_options(self, data_dir: Path) -> list[str]:
        return [
            # Without it WebHDFS answers HTTP 500 (InaccessibleObjectException) on Java 17.
            "--add-opens=java.base/java.lang=ALL-UNNAMED",
            # Jetty unpacks its webapp dir there on every start: keep it in the data dir, not in /tmp.
            f"-Djava.io.tmpdir={data_dir / 'tmp'}",
            f"-Dhadoop.log.dir={data_dir}",
            f"-D{_MARKER_PROPERTY}={self.conf_dir(data_dir) / 'hdfs-site.xml'}",
        ]

    def classpath(self, lib: Path, record: Record) -> str:
        # Hadoop finds core-site.xml and hdfs-site.xml as classpath resources.
        return f"{self.conf_dir(Path(record.data_dir))}:{lib}/*"

    def arguments(self, record: Record) -> list[str]:
        return []  # the settings come from the conf dir on the classpath

    def write_conf(self, data_dir: Path, core: Mapping[str, str], hdfs: Mapping[str, str]) -> Path:
        """Write the conf dir and the server's log4j config; returns hdfs-site.xml (the record's config)."""
        (data_dir / "tmp").mkdir()
        conf = self.conf_dir(data_dir)
        conf.mkdir()
        (conf / "core-site.xml").write_text(site_xml(core))
        (conf / "log4j.properties").write_text(CLIENT_LOG4J)
        self.write_log4j(data_dir)
        site = conf / "hdfs-site.xml"
        site.write_text(site_xml(hdfs))
        return site


def namenode_state(http_port: int) -> dict[str, Any]:
    """The NameNode's FSNamesystemState bean (FSState, NumLiveDataNodes, ...); raises an OSError when it does not
    answer."""
    url = f"http://{HOST}:{http_port}/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState"
    beans = http_json(url).get("beans") or []
    if not beans:
        raise ConnectionError("the NameNode has no FSNamesystemState bean yet")
    bean: dict[str, Any] = beans[0]
    return bean


class NameNode(_Hadoop):
    name = "namenode"
    main_class = "org.apache.hadoop.hdfs.server.namenode.NameNode"

    def configure(self, data_dir: Path, port: int, deps: Mapping[str, Record]) -> Prepared:
        (http_port,) = _distinct_free_ports(1, {port})
        (data_dir / "name").mkdir()
        hdfs = {
            **_hdfs_site(port, http_port),
            "dfs.namenode.name.dir": str(data_dir / "name"),
            # Port 0: the servers never started here must not take a fixed port (9868, 9871) on a shared machine.
            "dfs.namenode.secondary.http-address": f"{HOST}:0",
            "dfs.namenode.https-address": f"{HOST}:0",
            # Leave safe mode as soon as the DataNode has reported its blocks, not 30 s later, and only once it
            # reported every one: the default 0.999 is floor(0.999 * n) = n - 1 blocks below 1000, so a restarted
            # NameNode took reads while one block had no location yet.
            "dfs.namenode.safemode.extension": "0",
            "dfs.namenode.safemode.threshold-pct": "1.0",
        }
        site = self.write_conf(data_dir, _core_site(port, data_dir), hdfs)
        return Prepared(config=site, extra={"http_port": str(http_port)})

    def before_start(self, record: Record, deps: Mapping[str, Record], timeout: float, say: Say) -> None:
        """Format the name dir once (a fresh data dir, or one whose format was cut short)."""
        data_dir = Path(record.data_dir)
        if (data_dir / "name" / "current" / "VERSION").is_file():
            return
        started = time.monotonic()
        java = proc.find_java()
        lib = ensure_jars(self.jar_set, say)
        command = self.command(java, lib, record, ["-format", "-force", "-nonInteractive"])
        with (data_dir / "namenode-format.out").open("ab") as out:
            try:
                done = subprocess.run(
                    command, cwd=data_dir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    timeout=_FORMAT_TIMEOUT, check=False,
                )
            except subprocess.TimeoutExpired:
                raise DevstackError(
                    f"namenode: formatting {data_dir / 'name'} took more than {_FORMAT_TIMEOUT:.0f}s\n"
                    f"{self.log_tail(record)}"
                ) from None
        if done.returncode != 0:
            raise DevstackError(
                f"namenode: formatting {data_dir / 'name'} failed (exit {done.returncode})\n{self.log_tail(record)}"
            )
        say(f"namenode: formatted {data_dir / 'name'} in {time.monotonic() - started:.1f}s")

    def probe(self, record: Record) -> bool:
        """The RPC port listens and WebHDFS lists `/` (the HTTP server starts before the RPC server, and
        WebHDFS answers through the latter). True in safe mode too: the DataNode's probe waits that out."""
        if not accepts(HOST, record.port):
            return False
        url = f"{self.webhdfs_url(record)}/webhdfs/v1/?op=GETFILESTATUS"
        try:
            return bool(http_json(url).get("FileStatus", {}).get("type") == "DIRECTORY")
        except (OSError, AttributeError):
            return False

    @staticmethod
    def webhdfs_url(record: Record) -> str:
        return f"http://{HOST}:{record.extra.get('http_port', '?')}"

    def env(self, record: Record) -> dict[str, str]:
        return {
            "FLAFKA_HDFS_URL": f"hdfs://{record.address}",
            "FLAFKA_WEBHDFS_URL": self.webhdfs_url(record),
            # How Hadoop clients (and Flume's HDFS sink) find a cluster's settings; a WebHDFS client reads
            # dfs.namenode.http-address from it.
            "HADOOP_CONF_DIR": str(self.conf_dir(Path(record.data_dir))),
        }

    def describe(self, record: Record) -> str:
        return f"hdfs://{record.address} (WebHDFS {self.webhdfs_url(record)})"


class DataNode(_Hadoop):
    name = "datanode"
    main_class = "org.apache.hadoop.hdfs.server.datanode.DataNode"
    requires = ("namenode",)

    def configure(self, data_dir: Path, port: int, deps: Mapping[str, Record]) -> Prepared:
        namenode = deps["namenode"]
        nn_http = int(namenode.extra["http_port"])
        # Fixed ports (not 0), so a restarted DataNode is the same node to the NameNode.
        http_port, ipc_port = _distinct_free_ports(2, {port, namenode.port, nn_http})
        (data_dir / "data").mkdir()
        hdfs = {
            **_hdfs_site(namenode.port, nn_http),
            "dfs.datanode.data.dir": str(data_dir / "data"),
            "dfs.datanode.address": f"{HOST}:{port}",
            "dfs.datanode.http.address": f"{HOST}:{http_port}",
            "dfs.datanode.ipc.address": f"{HOST}:{ipc_port}",
            "dfs.datanode.https.address": f"{HOST}:0",
            # The name the NameNode hands out, e.g. in WebHDFS redirects: the machine's host name may not
            # resolve to loopback.
            "dfs.datanode.hostname": HOST,
        }
        site = self.write_conf(data_dir, _core_site(namenode.port, data_dir), hdfs)
        extra = {"http_port": str(http_port), "ipc_port": str(ipc_port), "namenode_http_port": str(nn_http)}
        return Prepared(config=site, extra=extra)

    def registered(self, record: Record) -> bool:
        """This DataNode process answers and has registered with the NameNode (its actor is RUNNING)."""
        # One attribute (`get=`): asking for the whole bean makes an unregistered DataNode log a stack trace.
        bean = "Hadoop:service=DataNode,name=DataNodeInfo"
        url = f"http://{HOST}:{record.extra.get('http_port')}/jmx?get={bean}::BPServiceActorInfo"
        try:
            beans = http_json(url).get("beans") or []
            actors = json.loads(beans[0]["BPServiceActorInfo"]) if beans else []
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return False
        return any(isinstance(actor, dict) and actor.get("ActorState") == "RUNNING" for actor in actors)

    def probe(self, record: Record) -> bool:
        """HDFS is usable: this DataNode registered, and the NameNode is out of safe mode with a live DataNode."""
        if not self.registered(record):
            return False
        try:
            state = namenode_state(int(record.extra.get("namenode_http_port", "0")))
        except (OSError, ValueError, AttributeError):
            return False
        if state.get("FSState") != "Operational" or int(state.get("NumLiveDataNodes", 0)) < 1:
            return False
        return self.reported_blocks(record, int(state.get("BlocksTotal", 0)))

    def reported_blocks(self, record: Record, total: int) -> bool:
        """The NameNode knows this DataNode holds every finished block: a re-registered DataNode's blocks have no
        live location until its block report arrives, and a read then fails with "No active nodes contain this
        block" (seen right after a restart).

        The last block of a file open for writing is in BlocksTotal but not in the DataNode's numBlocks (its
        replica is reported as being written): counting it made a restart with a file open wait for ever."""
        if total == 0:
            return True
        nn_http = record.extra.get("namenode_http_port")
        try:
            fs_beans = http_json(f"http://{HOST}:{nn_http}/jmx?get="
                                 "Hadoop:service=NameNode,name=FSNamesystem::NumFilesUnderConstruction")
            open_files = int((fs_beans.get("beans") or [{}])[0]["NumFilesUnderConstruction"])
            beans = http_json(f"http://{HOST}:{nn_http}/jmx?get="
                              "Hadoop:service=NameNode,name=NameNodeInfo::LiveNodes").get("beans") or []
            nodes = json.loads(beans[0]["LiveNodes"]) if beans else {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
            return False
        finished = total - open_files
        return any(isinstance(node, dict) and int(node.get("numBlocks", 0)) >= finished for node in nodes.values())

    def env(self, record: Record) -> dict[str, str]:
        return {}  # clients reach the DataNode through the NameNode's answers

    def describe(self, record: Record) -> str:
        return f"{record.address} (http {record.extra.get('http_port')}, ipc {record.extra.get('ipc_port')})"
