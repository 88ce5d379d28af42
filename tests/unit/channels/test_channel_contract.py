"""The channel/transaction contract (reference §2.2), one suite run against every channel.

Each entry of ``CHANNELS`` builds one channel; adding a channel to the suite is one line there. A
maker receives a fresh, not yet created path under ``tmp_path`` (for channels that keep files) and
returns an unstarted channel holding at least 1000 events with a transactionCapacity of at least
100; the fixture starts and stops it. The tests use only the public contract: ``transaction()``,
put/take (single and batch), commit/rollback, the context manager, ``size()``,
``wait_for_events()`` and ``wakeup()``.

A channel that needs a server (Kafka) runs this same suite from an integration module: it imports
the test functions and overrides the ``channel_factory`` fixture (and ``expect_size``, for a channel
that cannot count what it stores), listing with a reason each test whose premise does not hold.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flafka.channels.base import Channel
from flafka.channels.file import FileChannel
from flafka.channels.memory import MemoryChannel
from flafka.errors import TransactionError
from flafka.event import Event
from flafka.testing import build, wait_until

ChannelMaker = Callable[[Path], Channel]
SizeCheck = Callable[[Channel, int], None]


def _memory(tmp_path: Path) -> Channel:
    return build(MemoryChannel, {"capacity": "1000", "transactionCapacity": "100", "keep-alive": "0"})


def _file(tmp_path: Path) -> Channel:
    return build(FileChannel, {"checkpointDir": str(tmp_path / "checkpoint"), "dataDirs": str(tmp_path / "data"),
                               "capacity": "1000", "transactionCapacity": "100", "keep-alive": "0"})


CHANNELS = [
    pytest.param(_memory, id="memory"),
    pytest.param(_file, id="file"),
]

JOIN_TIMEOUT = 10.0
# Waits that something must cut short. Far above JOIN_TIMEOUT, so a waiter released only by its
# own timeout (a missed notification) fails the test instead of passing slowly.
LONG_WAIT = 60.0


@pytest.fixture(params=CHANNELS)
def channel_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Channel]]:
    """Builds started channels of one kind; stops every one of them after the test."""
    make: ChannelMaker = request.param
    made: list[Channel] = []

    def factory() -> Channel:
        channel = make(tmp_path / f"channel{len(made)}")
        channel.start()
        made.append(channel)
        return channel

    yield factory
    for channel in made:
        channel.stop()


@pytest.fixture
def channel(channel_factory: Callable[[], Channel]) -> Channel:
    return channel_factory()


@pytest.fixture
def expect_size() -> SizeCheck:
    """Asserts ``channel.size()``; a suite for a channel that cannot know its size overrides this."""

    def check(channel: Channel, expected: int) -> None:
        assert channel.size() == expected

    return check


def events(start: int, stop: int) -> list[Event]:
    return [Event(b"e%d" % i, {"n": str(i)}) for i in range(start, stop)]


def bodies(batch: list[Event]) -> list[bytes]:
    return [e.body for e in batch]


def put_committed(channel: Channel, batch: list[Event]) -> None:
    with channel.transaction() as tx:
        tx.put_batch(batch)


def take_all(channel: Channel, batch_size: int = 100) -> list[bytes]:
    """Take and commit until the channel reports nothing (bounded: no channel here holds 10k)."""
    out: list[bytes] = []
    for _ in range(10_000):
        with channel.transaction() as tx:
            batch = tx.take_batch(batch_size, 0.0)
        if not batch:
            return out
        out.extend(bodies(batch))
    raise AssertionError("channel never ran dry")


class _Worker(threading.Thread):
    """Runs ``target`` once; keeps its result or exception for the test thread to assert on."""

    def __init__(self, target: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self._target_fn = target
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._target_fn()
        except BaseException as exc:  # reported to the test thread, which asserts on it
            self.error = exc

    def finish(self, timeout: float = JOIN_TIMEOUT) -> object:
        self.join(timeout)
        assert not self.is_alive(), f"worker still running after {timeout}s"
        if self.error is not None:
            raise self.error
        return self.result


def in_thread(fn: Callable[[], object]) -> _Worker:
    worker = _Worker(fn)
    worker.start()
    return worker


# --- FIFO, commit, rollback -------------------------------------------------------------------------


def test_committed_puts_are_taken_in_fifo_order(channel: Channel, expect_size: SizeCheck) -> None:
    put_committed(channel, events(0, 50))
    with channel.transaction() as tx:
        for event in events(50, 60):
            tx.put(event)
    put_committed(channel, events(60, 150))
    expect_size(channel, 150)

    with channel.transaction() as tx:
        first = tx.take()
        second = tx.take_batch(9, 0.0)
    assert first is not None
    assert first.body == b"e0"
    assert first.headers == {"n": "0"}
    assert bodies(second) == [b"e%d" % i for i in range(1, 10)]
    assert take_all(channel, 7) == [b"e%d" % i for i in range(10, 150)]
    expect_size(channel, 0)


def test_uncommitted_puts_are_not_visible(channel: Channel, expect_size: SizeCheck) -> None:
    put_committed(channel, events(0, 2))
    writer = channel.transaction()
    writer.put_batch(events(2, 5))
    expect_size(channel, 2)
    with channel.transaction() as reader:
        assert bodies(reader.take_batch(10, 0.0)) == [b"e0", b"e1"]
        assert reader.take_batch(10, 0.0) == []
    writer.commit()
    writer.close()
    assert take_all(channel) == [b"e2", b"e3", b"e4"]


def test_rolled_back_puts_never_appear(channel: Channel, expect_size: SizeCheck) -> None:
    tx = channel.transaction()
    tx.put_batch(events(0, 10))
    tx.rollback()
    tx.close()
    put_committed(channel, events(10, 12))
    expect_size(channel, 2)
    assert take_all(channel) == [b"e10", b"e11"]


def test_rolled_back_take_is_delivered_again_at_the_head_in_order(channel: Channel, expect_size: SizeCheck) -> None:
    put_committed(channel, events(0, 10))
    tx = channel.transaction()
    assert bodies(tx.take_batch(3, 0.0)) == [b"e0", b"e1", b"e2"]
    assert tx.take() == Event(b"e3", {"n": "3"})
    tx.rollback()
    tx.close()
    expect_size(channel, 10)
    assert take_all(channel, 4) == [b"e%d" % i for i in range(10)]


def test_rolled_back_take_goes_before_events_committed_meanwhile(channel: Channel) -> None:
    put_committed(channel, events(0, 4))
    taker = channel.transaction()
    assert bodies(taker.take_batch(2, 0.0)) == [b"e0", b"e1"]
    put_committed(channel, events(4, 6))
    taker.rollback()
    taker.close()
    assert take_all(channel) == [b"e0", b"e1", b"e2", b"e3", b"e4", b"e5"]


def test_committed_take_is_not_delivered_again(channel: Channel, expect_size: SizeCheck) -> None:
    put_committed(channel, events(0, 5))
    with channel.transaction() as tx:
        assert bodies(tx.take_batch(2, 0.0)) == [b"e0", b"e1"]
    expect_size(channel, 3)
    assert take_all(channel) == [b"e2", b"e3", b"e4"]
    assert take_all(channel) == []


def test_take_on_empty_channel_returns_none(channel: Channel) -> None:
    with channel.transaction() as tx:
        assert tx.take() is None
        assert tx.take_batch(5, 0.0) == []


# --- context manager ----------------------------------------------------------------------------------


def test_context_manager_commits_on_clean_exit(channel: Channel, expect_size: SizeCheck) -> None:
    with channel.transaction() as tx:
        tx.put_batch(events(0, 3))
    expect_size(channel, 3)
    with pytest.raises(TransactionError):
        tx.put(Event(b"late"))
    assert take_all(channel) == [b"e0", b"e1", b"e2"]


class Boom(Exception):
    """Raised inside a transaction block, as a failing source or sink would."""


def put_then_fail(channel: Channel, batch: list[Event]) -> None:
    with channel.transaction() as tx:
        tx.put_batch(batch)
        raise Boom


def take_then_fail(channel: Channel, max_events: int) -> list[bytes]:
    taken: list[bytes] = []
    with channel.transaction() as tx:
        taken.extend(bodies(tx.take_batch(max_events, 0.0)))
        raise Boom(taken)


def test_context_manager_rolls_back_puts_on_exception_and_reraises(channel: Channel, expect_size: SizeCheck) -> None:
    with pytest.raises(Boom):
        put_then_fail(channel, events(0, 3))
    expect_size(channel, 0)
    assert take_all(channel) == []


def test_context_manager_rolls_back_takes_on_exception_and_reraises(channel: Channel, expect_size: SizeCheck) -> None:
    put_committed(channel, events(0, 4))
    with pytest.raises(Boom) as info:
        take_then_fail(channel, 2)
    assert info.value.args == ([b"e0", b"e1"],)
    expect_size(channel, 4)
    assert take_all(channel) == [b"e0", b"e1", b"e2", b"e3"]


def test_explicit_commit_inside_with_block_is_kept(channel: Channel) -> None:
    with channel.transaction() as tx:
        tx.put_batch(events(0, 2))
        tx.commit()
    assert take_all(channel) == [b"e0", b"e1"]


# --- state machine and thread affinity -----------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda tx: tx.put(Event(b"x")), id="put"),
        pytest.param(lambda tx: tx.put_batch([Event(b"x")]), id="put_batch"),
        pytest.param(lambda tx: tx.take(), id="take"),
        pytest.param(lambda tx: tx.take_batch(1, 0.0), id="take_batch"),
        pytest.param(lambda tx: tx.commit(), id="commit"),
        pytest.param(lambda tx: tx.rollback(), id="rollback"),
    ],
)
def test_transaction_used_from_another_thread_raises(
    channel: Channel, operation: Callable[[object], object]
) -> None:
    put_committed(channel, events(0, 2))
    tx = channel.transaction()
    tx.put(Event(b"mine"))
    worker = in_thread(lambda: operation(tx))
    with pytest.raises(TransactionError):
        worker.finish()
    # The owner still holds a usable, open transaction.
    assert bodies(tx.take_batch(5, 0.0)) == [b"e0", b"e1"]
    tx.commit()
    tx.close()
    assert take_all(channel) == [b"mine"]


def test_with_block_on_another_thread_leaves_the_transaction_to_its_owner(channel: Channel) -> None:
    put_committed(channel, events(0, 3))
    tx = channel.transaction()
    assert bodies(tx.take_batch(2, 0.0)) == [b"e0", b"e1"]

    def misuse() -> None:
        with tx:
            tx.put(Event(b"x"))

    with pytest.raises(TransactionError):
        in_thread(misuse).finish()
    # The other thread could neither commit nor roll back: the owner must still be able to.
    tx.rollback()
    tx.close()
    assert take_all(channel) == [b"e0", b"e1", b"e2"]


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda tx: tx.put(Event(b"x")), id="put"),
        pytest.param(lambda tx: tx.put_batch([Event(b"x")]), id="put_batch"),
        pytest.param(lambda tx: tx.take(), id="take"),
        pytest.param(lambda tx: tx.take_batch(1, 0.0), id="take_batch"),
        pytest.param(lambda tx: tx.commit(), id="commit"),
        pytest.param(lambda tx: tx.rollback(), id="rollback"),
    ],
)
def test_operations_after_commit_raise(channel: Channel, operation: Callable[[object], object]) -> None:
    put_committed(channel, events(0, 2))
    tx = channel.transaction()
    tx.put(Event(b"x0"))
    tx.commit()
    with pytest.raises(TransactionError):
        operation(tx)
    tx.close()
    assert take_all(channel) == [b"e0", b"e1", b"x0"]


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda tx: tx.put(Event(b"x")), id="put"),
        pytest.param(lambda tx: tx.take_batch(1, 0.0), id="take_batch"),
        pytest.param(lambda tx: tx.commit(), id="commit"),
    ],
)
def test_operations_after_rollback_raise(channel: Channel, operation: Callable[[object], object]) -> None:
    put_committed(channel, events(0, 1))
    tx = channel.transaction()
    tx.rollback()
    with pytest.raises(TransactionError):
        operation(tx)
    tx.close()
    assert take_all(channel) == [b"e0"]


def test_operations_after_close_raise(channel: Channel, expect_size: SizeCheck) -> None:
    with channel.transaction() as tx:
        pass
    with pytest.raises(TransactionError):
        tx.put(Event(b"x"))
    with pytest.raises(TransactionError):
        tx.take()
    with pytest.raises(TransactionError):
        tx.commit()
    expect_size(channel, 0)


def test_close_of_open_transaction_raises(channel: Channel) -> None:
    tx = channel.transaction()
    tx.put(Event(b"x"))
    with pytest.raises(TransactionError):
        tx.close()
    # Still open: the owner can finish it properly.
    tx.commit()
    tx.close()
    assert take_all(channel) == [b"x"]


def test_rollback_is_allowed_after_a_failed_operation(channel: Channel) -> None:
    put_committed(channel, events(0, 3))
    tx = channel.transaction()
    tx.take_batch(2, 0.0)
    tx.rollback()
    tx.rollback()  # a second rollback is harmless (callers roll back in every error path)
    tx.close()
    assert take_all(channel) == [b"e0", b"e1", b"e2"]


# --- take_batch limits and waiting ---------------------------------------------------------------------


@pytest.mark.parametrize("asked", [1, 3, 7, 50])
def test_take_batch_never_returns_more_than_asked(channel: Channel, asked: int, expect_size: SizeCheck) -> None:
    put_committed(channel, events(0, 20))
    with channel.transaction() as tx:
        got = tx.take_batch(asked, 0.0)
    assert bodies(got) == [b"e%d" % i for i in range(min(asked, 20))]
    expect_size(channel, 20 - len(got))


def test_take_batch_on_empty_channel_with_timeout_zero_returns_promptly(
    channel: Channel, expect_size: SizeCheck
) -> None:
    def take_empty() -> list[Event]:
        with channel.transaction() as tx:
            return tx.take_batch(100, 0.0)

    # A deadline far below any keep-alive a channel may wait for: timeout 0 must not block.
    assert in_thread(take_empty).finish(timeout=2.0) == []
    expect_size(channel, 0)


def test_take_batch_waits_for_an_event_put_by_another_thread(channel: Channel, expect_size: SizeCheck) -> None:
    started = threading.Event()

    def take_waiting() -> list[Event]:
        with channel.transaction() as tx:
            started.set()
            return tx.take_batch(10, timeout=LONG_WAIT)

    taker = in_thread(take_waiting)
    assert started.wait(JOIN_TIMEOUT)
    put_committed(channel, [Event(b"late", {"k": "v"})])
    assert taker.finish() == [Event(b"late", {"k": "v"})]
    expect_size(channel, 0)


def test_wait_for_events_returns_true_once_another_thread_commits(channel: Channel) -> None:
    started = threading.Event()

    def wait() -> bool:
        started.set()
        return channel.wait_for_events(LONG_WAIT)

    waiter = in_thread(wait)
    assert started.wait(JOIN_TIMEOUT)
    put_committed(channel, events(0, 1))
    assert waiter.finish() is True
    assert channel.wait_for_events(0.0) is True
    assert take_all(channel) == [b"e0"]


def test_wait_for_events_ignores_uncommitted_puts(channel: Channel) -> None:
    tx = channel.transaction()
    tx.put(Event(b"pending"))
    assert channel.wait_for_events(0.0) is False
    tx.rollback()
    tx.close()


def test_wakeup_releases_a_waiter_on_an_empty_channel(channel: Channel) -> None:
    waiter = in_thread(lambda: channel.wait_for_events(LONG_WAIT))

    def released() -> bool:
        channel.wakeup()  # a wakeup only releases current waiters: repeat until this one is seen
        return not waiter.is_alive()

    wait_until(released, timeout=JOIN_TIMEOUT, message="wakeup() to release wait_for_events")
    assert waiter.finish() is False


def test_wakeup_releases_a_waiting_take(channel: Channel) -> None:
    def take_waiting() -> list[Event]:
        with channel.transaction() as tx:
            return tx.take_batch(10, timeout=LONG_WAIT)

    taker = in_thread(take_waiting)

    def released() -> bool:
        channel.wakeup()
        return not taker.is_alive()

    wait_until(released, timeout=JOIN_TIMEOUT, message="wakeup() to release a waiting take")
    assert taker.finish() == []
