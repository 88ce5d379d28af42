"""When a sink closes the file it writes and starts the next one: Flume's roll policy, as pure logic.

A file sink (file_roll, hdfs) keeps one :class:`RollingFile` per open file and tells it what happened;
the file says when it must be rolled. Nothing here does I/O or reads a clock: every time is passed in
(monotonic seconds), so the sink decides which clock counts and tests move time at will.

The rules are those of Flume's ``BucketWriter`` (reference §3.6), each off when its limit is 0 or less:

* ``rollCount``, ``rollSize``: checked **before** each append (:meth:`RollingFile.before_append`): a
  file that already holds ``count`` events, or ``size`` bytes of event bodies (headers and framing do
  not count, as in Flume), is rolled before the next event goes in. Appending one event at a time
  holds a file to exactly ``count`` events, and to at most ``size`` bytes plus one body.
* ``rollInterval``: seconds since the file was opened; ``idleTimeout``: seconds since the last flush
  that followed a write, with no write since (a write disarms it, the next flush re-arms it). Both are
  timers: :meth:`RollingFile.due` says whether one has fired, :meth:`RollingFile.deadline` when the
  next one will.
* An under-replicated block (``hdfs.minBlockReplicas``): the file is rolled so the next block starts
  on healthy DataNodes, at most ``max_under_replicated_rolls`` times in a row (Flume's
  ``maxConsecUnderReplRotations``, 30), counted across the files of one writer.
* A failed write: the file is abandoned (:meth:`RollingFile.write_failed`) and the retried batch goes
  to a new one, so a half-written batch is never continued.

Differences from Flume: once the under-replication limit is reached, Flume stops rolling that writer's
files for count and size too (a file then grows without bound while the cluster is degraded); here
only the under-replication rolls stop. A file holding no event is never rolled for under-replication
(a new empty file would be no better).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

__all__ = ["Roll", "RollPolicy", "RollingFile"]


class Roll(enum.Enum):
    """Why a file is rolled; the value names the Flume property (or the event) for log messages."""

    FAILED_WRITE = "failed write"
    COUNT = "rollCount"
    SIZE = "rollSize"
    UNDER_REPLICATED = "under-replicated block"
    INTERVAL = "rollInterval"
    IDLE = "idleTimeout"


@dataclass(frozen=True, slots=True)
class RollPolicy:
    """The limits of one sink; each is off when 0 or less."""

    interval: float = 0.0  #: seconds after opening (rollInterval)
    size: int = 0  #: bytes of event bodies (rollSize)
    count: int = 0  #: events (rollCount)
    idle: float = 0.0  #: seconds without a write after the last flush (idleTimeout)
    max_under_replicated_rolls: int = 30  #: consecutive under-replication rolls; 0 or less: no limit

    def open(self, now: float, previous: RollingFile | None = None) -> RollingFile:
        """The state of a file opened at ``now``; ``previous`` is the file it replaces, if any (the
        under-replication rolls in a row carry over)."""
        return RollingFile(self, now, previous._under_replicated_rolls if previous is not None else 0)


class RollingFile:
    """One open file's progress against its :class:`RollPolicy`."""

    __slots__ = ("_under_replicated_rolls", "body_bytes", "events", "failed", "idle_since", "opened_at",
                 "policy", "unflushed")

    def __init__(self, policy: RollPolicy, opened_at: float, under_replicated_rolls: int = 0) -> None:
        self.policy = policy
        self.opened_at = opened_at
        self.events = 0  #: events appended to this file
        self.body_bytes = 0  #: bytes of their bodies
        self.unflushed = 0  #: events appended since the last flush
        self.idle_since: float | None = None  #: the flush that armed the idle timer (None: not armed)
        self.failed = False  #: a write failed: the file must not be written again
        self._under_replicated_rolls = under_replicated_rolls

    def before_append(self, under_replicated: bool = False) -> Roll | None:
        """Why the file must be rolled before the next append, or None to append to it.

        ``under_replicated``: the writer found the file's current block below its replica target. Call
        it once per append: it counts the under-replication rolls in a row.
        """
        policy = self.policy
        if not under_replicated:
            self._under_replicated_rolls = 0
        if self.failed:
            return Roll.FAILED_WRITE
        if policy.count > 0 and self.events >= policy.count:
            return Roll.COUNT
        if policy.size > 0 and self.body_bytes >= policy.size:
            return Roll.SIZE
        if not under_replicated:
            return None
        limit = policy.max_under_replicated_rolls
        if self.events and (limit <= 0 or self._under_replicated_rolls < limit):
            self._under_replicated_rolls += 1
            return Roll.UNDER_REPLICATED
        return None

    @property
    def under_replication_limit_reached(self) -> bool:
        """True once under-replication no longer rolls files (for the sink to log, once)."""
        limit = self.policy.max_under_replicated_rolls
        return 0 < limit <= self._under_replicated_rolls

    def appended(self, events: int, body_bytes: int) -> None:
        """``events`` events holding ``body_bytes`` bytes of bodies were written; the idle timer stops."""
        self.events += events
        self.body_bytes += body_bytes
        self.unflushed += events
        if events:
            self.idle_since = None

    def flushed(self, now: float) -> None:
        """The file was flushed (synced) at ``now``; after a write this (re)arms the idle timer."""
        if self.unflushed:
            self.unflushed = 0
            self.idle_since = now

    def write_failed(self) -> None:
        """A write to the file failed: abandon it; the retry goes to a new file."""
        self.failed = True

    def due(self, now: float) -> Roll | None:
        """Why the file must be rolled at ``now`` even without a write (the timers), or None."""
        if self.failed:
            return Roll.FAILED_WRITE
        policy = self.policy
        # Compared as sums, exactly as deadline() computes them: due(deadline()) is never None.
        if policy.interval > 0 and now >= self.opened_at + policy.interval:
            return Roll.INTERVAL
        if policy.idle > 0 and self.idle_since is not None and now >= self.idle_since + policy.idle:
            return Roll.IDLE
        return None

    def deadline(self) -> float | None:
        """The earliest time at which :meth:`due` returns a reason (``-inf``: already), or None while no
        timer runs (only a write can change that)."""
        if self.failed:
            return -math.inf
        times = []
        if self.policy.interval > 0:
            times.append(self.opened_at + self.policy.interval)
        if self.policy.idle > 0 and self.idle_since is not None:
            times.append(self.idle_since + self.policy.idle)
        return min(times) if times else None
