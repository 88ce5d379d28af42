"""What every devstack server has in common: a Java main class run from a cached jar set, a config
written into its own temporary data dir, a log4j file log there, and a probe telling when it answers.

A server module (zookeeper.py, kafka.py, hdfs.py, later hbase.py, flume.py) only says what differs:
its config files, its probe, the environment lines it exports, the servers it needs.
"""

from __future__ import annotations

import abc
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from devstack import proc
from devstack.errors import DevstackError

HOST = "127.0.0.1"  # loopback only: nothing devstack starts is reachable from another machine
_LOG_TAIL_LINES = 40

Say = Callable[[str], None]  # progress messages for the user


@dataclass
class Record:
    """One running server as written in the state file."""

    name: str
    pid: int
    port: int
    data_dir: str
    config: str  # the server's config file; on its command line, which is how its PID is recognised (proc.is_alive)
    extra: dict[str, str] = field(default_factory=dict)  # server-specific facts (e.g. Kafka's ZK chroot)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def alive(self) -> bool:
        return proc.is_alive(self.pid, self.config)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        return cls(
            name=str(data["name"]),
            pid=int(data["pid"]),
            port=int(data["port"]),
            data_dir=str(data["data_dir"]),
            config=str(data["config"]),
            extra={str(k): str(v) for k, v in dict(data.get("extra", {})).items()},
        )


@dataclass(frozen=True)
class Prepared:
    """What `Server.configure` wrote: the config file (the main class argument) and facts to record."""

    config: Path
    extra: dict[str, str] = field(default_factory=dict)


class Server(abc.ABC):
    name: ClassVar[str]
    main_class: ClassVar[str]
    heap: ClassVar[str]  # -Xmx: small, many servers share a 2-core CI machine
    jar_set: ClassVar[str]  # the Maven profile in devstack/pom.xml whose jars form the classpath
    requires: ClassVar[tuple[str, ...]] = ()  # servers that must run first (and stop last)
    # log4j levels for noisy loggers; the root logs INFO to <data dir>/<name>.log
    log_levels: ClassVar[Mapping[str, str]] = {}

    # --- what each server says -------------------------------------------------------------------

    @abc.abstractmethod
    def configure(self, data_dir: Path, port: int, deps: Mapping[str, Record]) -> Prepared:
        """Write the server's config into its fresh `data_dir`; `deps` are the running `requires`."""

    @abc.abstractmethod
    def probe(self, record: Record) -> bool:
        """One quick check (seconds at most) whether the server answers requests; never raises."""

    @abc.abstractmethod
    def env(self, record: Record) -> dict[str, str]:
        """The FLAFKA_* variables `python -m devstack env` exports for this server."""

    def check_compatible(self, record: Record) -> None:
        """Raise DevstackError when the running server does not match what this `up` asks for."""
        return  # most servers have nothing an `up` could ask differently

    def before_start(self, record: Record, deps: Mapping[str, Record], timeout: float, say: Say) -> None:
        """Wait, if needed, until the server can start (e.g. a killed broker's registration is gone)."""
        return  # most servers can start at once

    def jvm_options(self, data_dir: Path) -> list[str]:
        return []

    def classpath(self, lib: Path, record: Record) -> str:
        return f"{lib}/*"

    def arguments(self, record: Record) -> list[str]:
        """What follows the main class; most servers take their config file there."""
        return [record.config]

    # --- shared machinery ------------------------------------------------------------------------

    def log_file(self, data_dir: Path) -> Path:
        return data_dir / f"{self.name}.log"

    def stdout_file(self, data_dir: Path) -> Path:
        # The JVM's own messages (crashes before log4j is up, OOM) land here, not in the terminal.
        return data_dir / f"{self.name}.out"

    def write_log4j(self, data_dir: Path) -> Path:
        """A log4j 1.x config (read by reload4j) sending everything to one rolling file in the data dir."""
        path = data_dir / "log4j.properties"
        lines = [
            "log4j.rootLogger=INFO, file",
            "log4j.appender.file=org.apache.log4j.RollingFileAppender",
            f"log4j.appender.file.File={self.log_file(data_dir)}",
            "log4j.appender.file.MaxFileSize=20MB",
            "log4j.appender.file.MaxBackupIndex=2",
            "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
            # Kafka's own pattern, so its well-known lines ("started (kafka.server.KafkaServer)") match.
            "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
        ]
        lines += [f"log4j.logger.{logger}={level}" for logger, level in self.log_levels.items()]
        path.write_text("\n".join(lines) + "\n")
        return path

    def command(self, java: str, lib: Path, record: Record, arguments: Sequence[str] | None = None) -> list[str]:
        """The server's JVM command line; `arguments` replaces what follows the main class (e.g. a format)."""
        data_dir = Path(record.data_dir)
        return [
            java,
            f"-Xmx{self.heap}",
            "-XX:+ExitOnOutOfMemoryError",  # a broken server should die visibly, not limp
            "-XX:-UsePerfData",  # no /tmp/hsperfdata_* files left behind
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{data_dir / 'log4j.properties'}",
            *self.jvm_options(data_dir),
            "-cp",
            self.classpath(lib, record),
            self.main_class,
            *(self.arguments(record) if arguments is None else arguments),
        ]

    def spawn(self, java: str, lib: Path, record: Record) -> subprocess.Popen[bytes]:
        """Start the JVM detached (own session): it outlives `up` and ignores the terminal's Ctrl-C."""
        data_dir = Path(record.data_dir)
        with self.stdout_file(data_dir).open("ab") as out:
            popen = subprocess.Popen(
                self.command(java, lib, record),
                cwd=data_dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        record.pid = popen.pid
        return popen

    def wait_ready(self, popen: subprocess.Popen[bytes], record: Record, timeout: float) -> float:
        """Poll `probe` until it answers; returns the seconds it took. On exit or timeout raise with the log."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            code = popen.poll()
            if code is not None:
                raise DevstackError(f"{self.name} exited with code {code} during start-up\n{self.log_tail(record)}")
            if self.probe(record):
                return time.monotonic() - started
            if time.monotonic() >= deadline:
                raise DevstackError(
                    f"{self.name} (pid {record.pid}) did not answer on {record.address} within {timeout:.0f}s\n"
                    f"{self.log_tail(record)}"
                )
            time.sleep(0.25)

    def log_tail(self, record: Record) -> str:
        data_dir = Path(record.data_dir)
        parts = []
        for path in (self.stdout_file(data_dir), self.log_file(data_dir)):
            if path.is_file() and path.stat().st_size == 0:
                continue  # the JVM's stdout is usually empty: say nothing rather than "(empty)"
            parts.append(f"--- last lines of {path} ---\n{proc.tail(path, _LOG_TAIL_LINES)}")
        return "\n".join(parts)

    def describe(self, record: Record) -> str:
        return record.address
