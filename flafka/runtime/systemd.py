"""systemd's notification protocol (``sd_notify(3)``) without libsystemd: readiness, reload, stop and watchdog.

Under a ``Type=notify`` unit systemd sets ``$NOTIFY_SOCKET`` (a path, or ``@name`` for an abstract socket)
and waits for ``READY=1`` before it calls the service started. flafka-agent sends:

- ``READY=1`` (with ``MAINPID=`` and a ``STATUS=`` line) once the agent has started every component;
- ``RELOADING=1`` when it begins a reload (SIGHUP or changed files) and ``READY=1`` when the reload is over,
  whether the new configuration was applied or refused (the running pipeline stays);
- ``STOPPING=1`` when it begins its graceful stop;
- ``WATCHDOG=1`` every half of ``$WATCHDOG_USEC`` (set by ``WatchdogSec=``) from a daemon thread, **only
  while the agent is healthy** (:meth:`flafka.runtime.agent.Agent.health`, what ``GET /health`` answers).
  An agent with a failing or not-yet-started component stops pinging, so after ``WatchdogSec`` systemd kills
  and (with ``Restart=on-failure``) restarts it: that is what unsticks a wedged agent, and it is also what
  happens to an agent whose sink's destination is down for longer than ``WatchdogSec`` (a restart loses what
  a memory channel holds). Choose ``WatchdogSec`` longer than the outages the agent should ride out, or leave
  it unset (the default in ``conf/flafka.service``).

Without ``$NOTIFY_SOCKET`` nothing is sent and no socket is opened. Sending never fails the agent: an error
is logged once per kind (with a count of repeats) and the agent runs on.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

from flafka.logging_once import OncePerKind

log = logging.getLogger("flafka.systemd")

#: Longest a notification may block the sender (a receiver whose queue is full): the agent must not hang on it.
_SEND_TIMEOUT = 1.0


def _address(value: str) -> str | None:
    """The socket address of ``$NOTIFY_SOCKET``: a path, or an abstract name for ``@name``; None if unusable."""
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None  # vsock: and relative paths: systemd never hands those to a service of this kind


class Notifier:
    """Sends notifications to ``$NOTIFY_SOCKET``; every method is a no-op when it is unset (``enabled`` False)."""

    def __init__(self, notify_socket: str | None, pid: int | None = None) -> None:
        self._address = _address(notify_socket) if notify_socket else None
        self._pid = os.getpid() if pid is None else pid
        self._errors = OncePerKind(log, interval=3600.0)
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        if notify_socket and self._address is None:
            log.warning("systemd notifications are off: NOTIFY_SOCKET is not a path or @abstract name. value=%s",
                        notify_socket)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET") or None)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=value`` lines as one datagram; True if sent (False when disabled or on an error)."""
        if self._address is None:
            return False
        data = "\n".join(assignments).encode()
        try:
            with self._lock:
                if self._socket is None:
                    self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    self._socket.settimeout(_SEND_TIMEOUT)
                self._socket.sendto(data, self._address)
        except OSError as exc:
            self._errors.log(logging.WARNING, type(exc).__name__,
                             f"systemd notification failed; the agent runs on. error={type(exc).__name__}: {exc} "
                             f"socket={self._address.replace(chr(0), '@')} message={assignments[0]}")
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify("READY=1", f"MAINPID={self._pid}", f"STATUS={status}")

    def reloading(self, status: str) -> bool:
        # MONOTONIC_USEC: systemd 253+ requires it beside RELOADING=1 for Type=notify-reload; older ones ignore it.
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}", f"STATUS={status}")

    def stopping(self, status: str) -> bool:
        return self.notify("STOPPING=1", f"STATUS={status}")

    def status(self, status: str) -> bool:
        return self.notify(f"STATUS={status}")

    def close(self) -> None:
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None


def watchdog_interval(environ: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half of ``$WATCHDOG_USEC``), or None when the watchdog is off.

    As ``sd_watchdog_enabled(3)``: off without ``$WATCHDOG_USEC``, with a value that is not a positive
    integer, or when ``$WATCHDOG_PID`` names another process.
    """
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    owner = env.get("WATCHDOG_PID", "")
    if not usec:
        return None
    try:
        micros = int(usec)
        if owner and int(owner) != (os.getpid() if pid is None else pid):
            return None
    except ValueError:
        log.warning("systemd watchdog is off: WATCHDOG_USEC/WATCHDOG_PID are not integers. WATCHDOG_USEC=%s "
                    "WATCHDOG_PID=%s", usec, owner)
        return None
    return micros / 2_000_000 if micros > 0 else None


class Watchdog(threading.Thread):
    """Sends ``WATCHDOG=1`` every ``interval`` seconds while ``healthy()`` says so.

    When ``healthy()`` is false (or raises) the ping is withheld and ``STATUS=`` says why: systemd then
    restarts the agent after ``WatchdogSec``. A transition either way is logged once.
    """

    def __init__(self, notifier: Notifier, interval: float, healthy: Callable[[], tuple[bool, str]]) -> None:
        super().__init__(name="systemd-watchdog", daemon=True)
        self._notifier, self._interval, self._healthy = notifier, interval, healthy
        self._stopped = threading.Event()

    def run(self) -> None:
        withheld = False
        while not self._stopped.is_set():
            try:
                ok, why = self._healthy()
            except Exception as exc:  # the agent's state cannot be read: not something to vouch for
                ok, why = False, f"health unreadable: {type(exc).__name__}: {exc}"
            if ok:
                if withheld:
                    log.info("Agent is healthy again; systemd watchdog pings resume.")
                    self._notifier.status("running")
                self._notifier.notify("WATCHDOG=1")
            elif not withheld:
                log.warning("Agent is unhealthy; systemd watchdog pings are withheld (systemd restarts the agent "
                            "if this lasts WatchdogSec). reason=%s", why)
                self._notifier.status(f"unhealthy, watchdog withheld: {why}")
            withheld = not ok
            self._stopped.wait(self._interval)

    def stop(self) -> None:
        self._stopped.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(self._interval + 1.0)
