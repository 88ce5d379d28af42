"""Hadoop's own command line tools (FsShell, DebugAdmin, ...) run from devstack's `hdfs` jars.

Tests read back what flafka wrote with Hadoop's readers, and recover leases the way an operator would::

    python -m devstack hadoop fs -text /flume/events.1.gz      # `hadoop fs ...`
    python -m devstack hadoop debug recoverLease -path /flume/events.2.tmp -retries 3
    python -m devstack hadoop org.apache.hadoop.hdfs.tools.DFSAdmin -report

    from devstack import hadoop
    done = hadoop.run(["fs", "-text", "/flume/events.1.gz"])   # subprocess.CompletedProcess[bytes]

The cluster is the one described by the conf dir given, else `$HADOOP_CONF_DIR` (as for Hadoop's own
`hadoop` script), else the NameNode devstack runs (its state file).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from devstack import proc
from devstack.errors import DevstackError
from devstack.jars import ensure_jars
from devstack.servers import SERVERS
from devstack.servers.base import Say
from devstack.servers.hdfs import NameNode
from devstack.state import State

# The names Hadoop's `hadoop` and `hdfs` scripts give these main classes.
TOOLS: Mapping[str, str] = {
    "fs": "org.apache.hadoop.fs.FsShell",
    "dfs": "org.apache.hadoop.fs.FsShell",
    "debug": "org.apache.hadoop.hdfs.tools.DebugAdmin",
    "dfsadmin": "org.apache.hadoop.hdfs.tools.DFSAdmin",
    "fsck": "org.apache.hadoop.hdfs.tools.DFSck",
    "getconf": "org.apache.hadoop.hdfs.tools.GetConf",
    "version": "org.apache.hadoop.util.VersionInfo",
    "checknative": "org.apache.hadoop.util.NativeLibraryChecker",
}
_TIMEOUT = 120.0
_JVM_OPTIONS = (
    "-Xmx256m",
    # A tool runs for a second or two: the C1 compiler alone and the serial collector start fastest.
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
)


def _stderr(message: str) -> None:
    print(f"devstack: {message}", file=sys.stderr, flush=True)


def conf_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The Hadoop conf dir tools get: `explicit`, else $HADOOP_CONF_DIR, else the running devstack NameNode's."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get("HADOOP_CONF_DIR")
    if from_env:
        return Path(from_env)
    record = State.load().records.get(NameNode.name)
    if record is None or not record.alive():
        raise DevstackError(
            "no HDFS to talk to: $HADOOP_CONF_DIR is unset and devstack runs no namenode "
            "(start one with `python -m devstack up hdfs`)"
        )
    return NameNode.conf_dir(Path(record.data_dir))


def command(tool: str, args: Sequence[str], conf: Path, say: Say = _stderr) -> list[str]:
    """The java command line running `tool` (an alias from TOOLS or a main class) with `args`."""
    main_class = TOOLS.get(tool, tool)
    if "." not in main_class:
        raise DevstackError(f"unknown Hadoop tool {tool!r}: give a main class or one of {', '.join(TOOLS)}")
    lib = ensure_jars(SERVERS[NameNode.name].jar_set, say)
    # The conf dir first: Hadoop reads core-site.xml, hdfs-site.xml and log4j.properties from the classpath.
    return [proc.find_java(), *_JVM_OPTIONS, "-cp", f"{conf}:{lib}/*", main_class, *args]


def run(
    args: Sequence[str],
    *,
    conf: str | os.PathLike[str] | None = None,
    stdin: bytes | None = None,
    timeout: float = _TIMEOUT,
) -> subprocess.CompletedProcess[bytes]:
    """Run a Hadoop tool, `args[0]` being its alias or main class; stdout and stderr captured as bytes.

    Never raises for the tool's own failure: the exit code is in `returncode`, its messages in `stderr`.
    """
    if not args:
        raise DevstackError("no Hadoop tool named (e.g. run(['fs', '-ls', '/']))")
    cmd = command(args[0], args[1:], conf_dir(conf))
    try:
        if stdin is None:  # never the caller's terminal: `fs -put -` would wait for it
            return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False)
        return subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise DevstackError(f"`{' '.join(args)}` did not finish within {timeout:.0f}s") from exc
