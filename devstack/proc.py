"""Process plumbing: finding java, free ports, telling a live server from a dead or reused PID, stopping."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import time
from pathlib import Path

from devstack.errors import DevstackError

STOP_TIMEOUT = 20.0
_KILL_TIMEOUT = 5.0
_POLL = 0.1


def find_java() -> str:
    """`$JAVA_HOME/bin/java` if set, else `java` on PATH; a clear error when there is none."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise DevstackError(
            "java not found (neither $JAVA_HOME/bin/java nor `java` on PATH): the devstack servers are Java "
            "programs; install a JDK/JRE 17 (e.g. `apt-get install openjdk-17-jre-headless`)"
        )
    return found


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the kernel picks it; the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _proc_dir(pid: int) -> Path:
    return Path("/proc") / str(pid)


def is_alive(pid: int, marker: str) -> bool:
    """Whether `pid` runs and is the server we started.

    `marker` (the server's config path, unique per data dir) must appear in its command line: after a
    reboot or a long time the PID may belong to an unrelated process, which must never be signalled.
    A zombie counts as dead: servers outlive the `up` that started them and are reparented, and a
    reaper that does not reap would otherwise make a stopped server look alive forever.
    """
    if pid <= 0:
        return False
    proc = _proc_dir(pid)
    if Path("/proc/self").exists():
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        # The state letter follows the ")" closing the command name (which may itself hold spaces).
        state = stat.rsplit(")", 1)[-1].split()[0]
        return state not in ("Z", "X") and marker in cmdline
    # No /proc (macOS): all we can do is ask the kernel whether the PID exists.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_gone(pid: int, marker: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not is_alive(pid, marker):
            return True
        time.sleep(_POLL)
    return not is_alive(pid, marker)


def _reap(pid: int) -> None:
    # When this process started the server (a failed `up` cleaning up), collect the exit status
    # so the child does not linger as a zombie; for anyone else's child this is a no-op.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(pid: int, marker: str, timeout: float = STOP_TIMEOUT) -> bool:
    """SIGTERM (a graceful shutdown: Kafka's controlled shutdown, ZooKeeper's snapshot), up to `timeout`
    seconds, then SIGKILL. Returns True when the process needed SIGKILL."""
    if not is_alive(pid, marker):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    if _wait_gone(pid, marker, timeout):
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    if not _wait_gone(pid, marker, _KILL_TIMEOUT):
        raise DevstackError(f"process {pid} survived SIGKILL")
    return True


def tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a log file, or a note that there is none."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            text = fh.read().decode(errors="replace")
    except OSError:
        return f"(no {path})"
    return "\n".join(text.splitlines()[-lines:]) or f"({path} is empty)"
