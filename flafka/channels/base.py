"""The channel and transaction contract (Flume's ``Channel``/``Transaction``, reference §2.2).

Use a transaction as a context manager: it commits when the block exits normally and rolls back
when it raises; it is closed either way::

    with channel.transaction() as tx:
        tx.put_batch(events)

    with channel.transaction() as tx:
        events = tx.take_batch(100, timeout=0.0)
        deliver(events)          # raising here puts the events back at the head of the channel

A transaction belongs to the thread that opened it. Subclasses implement the ``_do_*`` methods;
the state machine and thread checks live here once.
"""

from __future__ import annotations

import enum
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType

from flafka.component import Component
from flafka.errors import TransactionError
from flafka.event import Event
from flafka.monitoring.counters import ChannelCounter


class TxState(enum.Enum):
    OPEN = "open"
    COMMITTED = "committed"
    ROLLED_BACK = "rolled back"
    CLOSED = "closed"


class Transaction(ABC):
    """One unit of puts or takes; see the module docstring."""

    __slots__ = ("_owner", "state")

    def __init__(self) -> None:
        self._owner = threading.get_ident()
        self.state = TxState.OPEN

    def _check(self) -> None:
        if self._owner != threading.get_ident():
            raise TransactionError("a transaction must be used by the thread that opened it")
        if self.state is not TxState.OPEN:
            raise TransactionError(f"transaction is {self.state.value}, not open")

    def put(self, event: Event) -> None:
        self.put_batch((event,))

    def put_batch(self, events: Sequence[Event]) -> None:
        self._check()
        self._do_put_batch(events)

    def take(self, timeout: float = 0.0) -> Event | None:
        taken = self.take_batch(1, timeout)
        return taken[0] if taken else None

    def take_batch(self, max_events: int, timeout: float = 0.0) -> list[Event]:
        """Up to ``max_events`` events; waits at most ``timeout`` seconds for the first one."""
        self._check()
        return self._do_take_batch(max_events, timeout)

    def commit(self) -> None:
        self._check()
        self._do_commit()
        self.state = TxState.COMMITTED

    def rollback(self) -> None:
        if self.state is TxState.ROLLED_BACK:
            return
        self._check()
        try:
            self._do_rollback()
        finally:
            self.state = TxState.ROLLED_BACK

    def close(self) -> None:
        if self.state is TxState.OPEN:
            raise TransactionError("commit or roll back a transaction before closing it")
        self.state = TxState.CLOSED

    def __enter__(self) -> Transaction:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self.state is TxState.OPEN:
                if exc_type is None:
                    try:
                        self.commit()
                    except BaseException:
                        self.rollback()
                        raise
                else:
                    self.rollback()
        finally:
            # A rollback refused (wrong thread) leaves the transaction open for its owner to finish.
            if self.state is not TxState.OPEN:
                self.state = TxState.CLOSED

    @abstractmethod
    def _do_put_batch(self, events: Sequence[Event]) -> None: ...

    @abstractmethod
    def _do_take_batch(self, max_events: int, timeout: float) -> list[Event]: ...

    @abstractmethod
    def _do_commit(self) -> None: ...

    @abstractmethod
    def _do_rollback(self) -> None: ...


class Channel(Component):
    """A buffer between sources and sinks, used only through transactions."""

    #: True when committed events survive a stop or crash (file, Kafka): a stop then need not wait for
    #: sinks to drain it, and what it still holds is not lost.
    durable: bool = False

    def __init__(self, name: str, config: object) -> None:
        super().__init__(name, config)
        self.counter = ChannelCounter(name)

    @abstractmethod
    def transaction(self) -> Transaction:
        """Open a transaction for the calling thread."""

    def transaction_capacity(self) -> int | None:
        """Most events one transaction may put or take; None when the channel has no such limit."""
        return None

    def size(self) -> int:
        """Events currently stored (committed, not taken)."""
        return 0

    def wait_for_events(self, timeout: float) -> bool:
        """Block until the channel may hold events or ``timeout`` seconds pass; True if it may.

        Sink runners call this instead of sleeping a fixed back-off, so an idle pipeline reacts to
        the next event at once. Channels that cannot tell (Kafka) return True immediately: their
        take already waits.
        """
        return True

    def wakeup(self) -> None:
        """Release threads blocked in :meth:`wait_for_events` or in a take (used at stop)."""

    def reconfigure(self, config: object) -> bool:
        """Apply a changed configuration in place, keeping stored events; False when unsupported."""
        return False

    def stop_within(self, timeout: float) -> None:
        """:meth:`stop`, returning within about ``timeout`` seconds (the agent's stop deadline).

        A channel whose stop waits on a server (Kafka) overrides this to bound each wait and to log
        what it could not finish in time.
        """
        self.stop()
