"""A fixed-size pool of happybase connections to one Thrift server.

``size`` slots, each empty or holding an open connection. A call takes a slot (waiting at most
``timeout_ms`` for one: :class:`PoolExhausted`), opens a connection in it when empty (lazily: nothing
connects before the first call), and gives it back when the call returns. A connection whose call raised
is closed and its slot given back empty: its socket may hold half a reply, so the next call opens a fresh
one. Thread-safe (a queue of slots).
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import happybase

from flafka.hbase.errors import CALL_ERRORS

__all__ = ["ConnectionFactory", "ConnectionPool", "PoolClosed", "PoolExhausted"]

log = logging.getLogger(__name__)

#: Makes a connection: called as ``happybase.Connection(host, port, timeout=..., autoconnect=False,
#: transport=..., protocol=...)`` is; the result needs ``open()``, ``close()``, ``table(name)`` and ``client``.
ConnectionFactory = Callable[..., Any]


class PoolExhausted(Exception):
    """Every connection stayed busy for the whole wait."""


class PoolClosed(Exception):
    """The pool was closed."""


class ConnectionPool:
    """See the module docstring."""

    def __init__(self, host: str, port: int, *, size: int, timeout_ms: int, transport: str, protocol: str,
                 connection_factory: ConnectionFactory | None = None) -> None:
        if size < 1:
            raise ValueError(f"pool size must be at least 1, got {size}")
        if timeout_ms < 1:
            raise ValueError(f"timeout must be at least 1 ms, got {timeout_ms}")
        self.host, self.port, self.size, self.timeout_ms = host, port, size, timeout_ms
        self.transport, self.protocol = transport, protocol
        self._factory: ConnectionFactory = connection_factory or happybase.Connection
        # LIFO: the connection used last is reused first, empty slots are filled only when all open ones are busy.
        self._slots: queue.LifoQueue[Any | None] = queue.LifoQueue()
        for _ in range(size):
            self._slots.put(None)
        self.closed = False

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """An open connection for one call; raises :class:`PoolExhausted`, :class:`PoolClosed`, or what opening
        the connection raised (one of :data:`~flafka.hbase.errors.CALL_ERRORS`)."""
        if self.closed:
            raise PoolClosed
        try:
            connection = self._slots.get(timeout=self.timeout_ms / 1000)
        except queue.Empty:
            raise PoolExhausted from None
        if self.closed:  # closed while we waited
            self._give_back(connection)
            raise PoolClosed
        try:
            if connection is None:
                connection = self._factory(self.host, self.port, timeout=self.timeout_ms, autoconnect=False,
                                           transport=self.transport, protocol=self.protocol)
                connection.open()
            yield connection
        except BaseException:
            if connection is not None:
                _close_quietly(connection)
            self._slots.put(None)
            raise
        self._give_back(connection)

    def _give_back(self, connection: Any | None) -> None:
        if connection is not None and self.closed:
            _close_quietly(connection)
            connection = None
        self._slots.put(connection)

    def close(self) -> None:
        """Close the idle connections now, the busy ones when their call returns. Idempotent."""
        self.closed = True
        drained = 0
        while True:
            try:
                connection = self._slots.get_nowait()
            except queue.Empty:
                break
            drained += 1
            if connection is not None:
                _close_quietly(connection)
        for _ in range(drained):
            self._slots.put(None)


def _close_quietly(connection: Any) -> None:
    try:
        connection.close()
    except CALL_ERRORS as exc:  # a dead socket: nothing left to release
        log.debug("HBase lookup: closing a Thrift connection failed. %s", exc)
