"""Hadoop's own readers and writers, for checking the files flafka.hadoop writes (no HDFS needed).

* :func:`fs_text`: ``hadoop fs -text`` (FsShell) on local files, through devstack's Hadoop runner.
* :func:`codec_cat`: ``CompressionCodecFactory -out``: decompresses a file with the codec its extension
  names, through the codec's own input stream (what MapReduce and Hive read with; ``fs -text`` reads
  gzip with java.util.zip instead).
* :func:`harness`: ``hadoop_formats/HadoopFormats.java`` (Java's source-file mode): files written by
  Hadoop's SequenceFile.Writer and codec streams as Flume writes them, and files read split by split
  by MapReduce's input formats. MapReduce's jar is not in devstack's ``hdfs`` jar set: it is fetched
  here the way devstack fetches its jars (Maven, once, cached beside them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from devstack import hadoop
from devstack.jars import jar_set_version
from devstack.paths import cache_root

HARNESS = Path(__file__).resolve().parent / "hadoop_formats" / "HadoopFormats.java"
_MAPREDUCE = "org.apache.hadoop:hadoop-mapreduce-client-core"
_COPY = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy"  # the plugin version devstack pins
_TIMEOUT = 600.0  # a first run downloads from Maven Central

_CORE_SITE = '<?xml version="1.0"?>\n<configuration/>\n'
# Hadoop's warnings to stderr (the tests show them on failure), nothing on stdout but the data.
_LOG4J = """\
log4j.rootLogger=WARN, stderr
log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=%p %c: %m%n
"""


def local_conf(directory: Path) -> Path:
    """A Hadoop conf dir with no cluster in it: tools then read ``file://`` paths only."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "core-site.xml").write_text(_CORE_SITE)
    (directory / "log4j.properties").write_text(_LOG4J)
    return directory


def fs_text(paths: Sequence[Path], conf: Path) -> subprocess.CompletedProcess[bytes]:
    """``hadoop fs -text`` of local files: their contents, one after the other, on stdout."""
    return hadoop.run(["fs", "-text", *(path.resolve().as_uri() for path in paths)], conf=conf)


def codec_cat(paths: Sequence[Path], conf: Path) -> subprocess.CompletedProcess[bytes]:
    """Each file decompressed by the codec its extension names, one after the other, on stdout."""
    return hadoop.run(["org.apache.hadoop.io.compress.CompressionCodecFactory", "-out", *map(str, paths)], conf=conf)


def harness(args: Sequence[str], conf: Path) -> subprocess.CompletedProcess[bytes]:
    """Run HadoopFormats.java with ``args`` on Hadoop's jars and MapReduce's; never raises for its failure."""
    cmd = hadoop.command(str(HARNESS), args, conf)
    # devstack's command line, its class path extended by the MapReduce jar the harness reads splits with
    classpath = cmd.index("-cp") + 1
    cmd[classpath] = f"{cmd[classpath]}{os.pathsep}{mapreduce_jar()}"
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=_TIMEOUT, check=False)


def mapreduce_jar() -> Path:
    """hadoop-mapreduce-client-core at devstack's Hadoop version, fetched once into devstack's cache."""
    version = jar_set_version("hdfs")
    directory = cache_root() / f"mapreduce-client-core-{version}"
    jar = directory / f"hadoop-mapreduce-client-core-{version}.jar"
    if jar.is_file():
        return jar
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError(f"{jar} is not cached and `mvn` is not on PATH: install Maven 3.8+")
    directory.parent.mkdir(parents=True, exist_ok=True)
    # Copied into a temporary sibling and renamed, so an interrupted fetch leaves no half jar behind.
    tmp = Path(tempfile.mkdtemp(prefix=".mapreduce-fetch-", dir=directory.parent))
    try:
        print(f"fetching {_MAPREDUCE}:{version} with Maven (first time only)", file=sys.stderr, flush=True)
        done = subprocess.run(
            [mvn, "-q", "-B", _COPY, f"-Dartifact={_MAPREDUCE}:{version}", f"-DoutputDirectory={tmp}"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=_TIMEOUT, check=False,
        )
        fetched = tmp / jar.name
        if done.returncode != 0 or not fetched.is_file():
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
            raise RuntimeError(f"mvn could not fetch {_MAPREDUCE}:{version} (exit {done.returncode}):\n{tail}")
        directory.mkdir(exist_ok=True)
        os.replace(fetched, jar)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return jar
