"""Memory channel specifics (reference §2.2 "MemoryChannel specifics" and §3.4).

Capacity and byteCapacity are checked at commit; transactionCapacity at put and take; byte limits
count bodies only, in 100-byte slots, one slot at least per event; reconfigure() keeps the queue.
The shared transaction contract is in ``test_channel_contract.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping

import pytest

from flafka.channels.base import TxState
from flafka.channels.memory import MemoryChannel, MemoryChannelConfig
from flafka.errors import ChannelError, ChannelFullError, ConfigError, TransactionError
from flafka.event import Event
from flafka.testing import build, parse_config, wait_until

JOIN_TIMEOUT = 10.0
# keep-alive for commits that something must release; far above JOIN_TIMEOUT, so a commit released
# only by its keep-alive (a missed notification) fails the test instead of passing slowly.
LONG_WAIT = 60.0
_KEY_ALIASES = {"keep_alive": "keep-alive"}  # "keep-alive" is not a Python identifier


@pytest.fixture
def make_channel() -> Iterator[Callable[..., MemoryChannel]]:
    """``make_channel(capacity=5, ...)``: a started memory channel (keys are Flume's), stopped after."""
    made: list[MemoryChannel] = []

    def make(values: Mapping[str, str] | None = None, **flume_keys: object) -> MemoryChannel:
        props = {"keep-alive": "0"}
        props.update({_KEY_ALIASES.get(k, k): str(v) for k, v in flume_keys.items()})
        props.update(values or {})
        channel = build(MemoryChannel, props, "c1")
        channel.start()
        made.append(channel)
        return channel

    yield make
    for channel in made:
        channel.stop()


def events(start: int, stop: int, body_size: int | None = None) -> list[Event]:
    """Events e<start>..e<stop-1>; with ``body_size`` each body is padded to exactly that many bytes."""
    out = []
    for i in range(start, stop):
        body = b"e%d" % i
        if body_size is not None:
            body = body.ljust(body_size, b".")[:body_size]
        out.append(Event(body))
    return out


def put_committed(channel: MemoryChannel, batch: list[Event]) -> None:
    with channel.transaction() as tx:
        tx.put_batch(batch)


def put_then_fail(channel: MemoryChannel, batch: list[Event]) -> None:
    with channel.transaction() as tx:
        tx.put_batch(batch)
        raise KeyError("source failed")


def take_then_fail(channel: MemoryChannel, max_events: int) -> None:
    with channel.transaction() as tx:
        raise KeyError(f"took {len(tx.take_batch(max_events, 0.0))}")


def drain_bodies(channel: MemoryChannel) -> list[bytes]:
    out: list[bytes] = []
    for _ in range(1000):
        with channel.transaction() as tx:
            batch = tx.take_batch(channel.transaction_capacity(), 0.0)
        if not batch:
            return out
        out.extend(e.body for e in batch)
    raise AssertionError("channel never ran dry")


def names(n: int, start: int = 0) -> list[bytes]:
    return [b"e%d" % i for i in range(start, start + n)]


class _Worker(threading.Thread):
    def __init__(self, target: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self._fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._fn()
        except BaseException as exc:  # handed to the test thread
            self.error = exc

    def finish(self) -> None:
        self.join(JOIN_TIMEOUT)
        assert not self.is_alive(), f"worker still running after {JOIN_TIMEOUT}s"
        if self.error is not None:
            raise self.error


# --- capacity at commit -------------------------------------------------------------------------------


def test_put_over_capacity_is_accepted_until_commit_which_raises_and_changes_nothing(
    make_channel: Callable[..., MemoryChannel],
) -> None:
    channel = make_channel(capacity=5, transactionCapacity=5)
    put_committed(channel, events(0, 3))
    tx = channel.transaction()
    tx.put_batch(events(3, 6))  # 6 > 5, but capacity is only checked at commit
    with pytest.raises(ChannelFullError, match=r"capacity 5 events") as info:
        tx.commit()
    assert info.value.retriable is True
    assert isinstance(info.value, ChannelError)
    assert tx.state is TxState.OPEN  # the caller must roll back
    assert channel.size() == 3
    tx.rollback()
    tx.close()
    assert drain_bodies(channel) == names(3)


def test_commit_exactly_filling_capacity_succeeds(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=5, transactionCapacity=5)
    put_committed(channel, events(0, 3))
    put_committed(channel, events(3, 5))
    assert channel.size() == 5
    assert drain_bodies(channel) == names(5)


def test_failed_commit_in_with_block_rolls_back_reraises_and_closes(
    make_channel: Callable[..., MemoryChannel],
) -> None:
    channel = make_channel(capacity=2, transactionCapacity=2)
    put_committed(channel, events(0, 2))
    with pytest.raises(ChannelFullError), channel.transaction() as tx:
        tx.put(Event(b"late"))
    assert channel.size() == 2
    assert tx.state is TxState.CLOSED  # base.py: "it is closed either way"
    assert drain_bodies(channel) == names(2)


def test_failed_commit_keeps_own_takes_for_rollback(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=3, transactionCapacity=3)
    put_committed(channel, events(0, 3))
    tx = channel.transaction()
    assert [e.body for e in tx.take_batch(1, 0.0)] == [b"e0"]
    tx.put_batch(events(3, 5))  # 3 - 1 + 2 = 4 > 3
    with pytest.raises(ChannelFullError):
        tx.commit()
    tx.rollback()
    tx.close()
    assert drain_bodies(channel) == names(3)


def test_own_takes_make_room_for_own_puts(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=3, transactionCapacity=3)
    put_committed(channel, events(0, 3))
    with channel.transaction() as tx:
        assert [e.body for e in tx.take_batch(2, 0.0)] == [b"e0", b"e1"]
        tx.put_batch(events(3, 5))  # 3 - 2 + 2 = 3
    assert drain_bodies(channel) == [b"e2", b"e3", b"e4"]


def test_taken_uncommitted_event_still_occupies_capacity(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=3, transactionCapacity=3)
    put_committed(channel, events(0, 3))
    taker = channel.transaction()
    assert [e.body for e in taker.take_batch(2, 0.0)] == [b"e0", b"e1"]
    assert channel.size() == 1

    producer = channel.transaction()
    producer.put(Event(b"new"))
    with pytest.raises(ChannelFullError):
        producer.commit()

    taker.commit()
    taker.close()
    producer.commit()  # the same transaction, retried, now fits
    producer.close()
    assert drain_bodies(channel) == [b"e2", b"new"]


def test_rolled_back_take_keeps_the_channel_full(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=2, transactionCapacity=2)
    put_committed(channel, events(0, 2))
    taker = channel.transaction()
    taker.take_batch(2, 0.0)
    taker.rollback()
    taker.close()
    with pytest.raises(ChannelFullError), channel.transaction() as tx:
        tx.put(Event(b"x"))
    assert drain_bodies(channel) == names(2)


def test_waiting_commit_succeeds_when_a_consumer_frees_room(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=2, transactionCapacity=2, keep_alive=LONG_WAIT)
    put_committed(channel, events(0, 2))
    about_to_commit = threading.Event()

    def produce() -> None:
        with channel.transaction() as tx:
            tx.put(Event(b"waited"))
            about_to_commit.set()
        # leaving the block commits, which waits for room up to keep-alive

    producer = _Worker(produce)
    producer.start()
    assert about_to_commit.wait(JOIN_TIMEOUT)
    assert channel.size() == 2  # the producer cannot have committed: no room yet
    with channel.transaction() as tx:
        assert [e.body for e in tx.take_batch(1, 0.0)] == [b"e0"]
    producer.finish()
    assert drain_bodies(channel) == [b"e1", b"waited"]


def test_wakeup_does_not_fail_a_waiting_commit(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=1, transactionCapacity=1, keep_alive=LONG_WAIT)
    put_committed(channel, events(0, 1))
    about_to_commit = threading.Event()

    def produce() -> None:
        with channel.transaction() as tx:
            tx.put(Event(b"waited"))
            about_to_commit.set()

    producer = _Worker(produce)
    producer.start()
    assert about_to_commit.wait(JOIN_TIMEOUT)
    channel.wakeup()
    with channel.transaction() as tx:
        tx.take()
    producer.finish()
    assert drain_bodies(channel) == [b"waited"]


# --- transactionCapacity ---------------------------------------------------------------------------------


def test_put_beyond_transaction_capacity_raises(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=10, transactionCapacity=3)
    tx = channel.transaction()
    tx.put(Event(b"a"))
    tx.put_batch([Event(b"b"), Event(b"c")])
    with pytest.raises(TransactionError, match="transactionCapacity=3"):
        tx.put(Event(b"d"))
    with pytest.raises(TransactionError, match="transactionCapacity=3"):
        tx.put_batch([Event(b"d"), Event(b"e")])
    tx.commit()  # the three accepted puts are still in the transaction
    tx.close()
    assert drain_bodies(channel) == [b"a", b"b", b"c"]


def test_put_batch_larger_than_transaction_capacity_raises(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=10, transactionCapacity=3)
    with pytest.raises(TransactionError), channel.transaction() as tx:
        tx.put_batch(events(0, 4))
    assert channel.size() == 0


def test_take_beyond_transaction_capacity_raises(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=10, transactionCapacity=3)
    put_committed(channel, events(0, 3))
    put_committed(channel, events(3, 6))
    tx = channel.transaction()
    assert [e.body for e in tx.take_batch(10, 0.0)] == names(3)  # capped at transactionCapacity
    with pytest.raises(TransactionError, match="transactionCapacity=3"):
        tx.take()
    with pytest.raises(TransactionError):
        tx.take_batch(1, 0.0)
    tx.rollback()
    tx.close()
    assert channel.size() == 6
    assert drain_bodies(channel) == names(6)


def test_take_in_pieces_up_to_transaction_capacity(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=10, transactionCapacity=4)
    put_committed(channel, events(0, 4))
    put_committed(channel, events(4, 8))
    with channel.transaction() as tx:
        assert [e.body for e in tx.take_batch(3, 0.0)] == names(3)
        assert [e.body for e in tx.take_batch(3, 0.0)] == [b"e3"]  # one slot left in the transaction
    assert channel.size() == 4


# --- byteCapacity -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("byte_capacity", "buffer_percentage", "slots"),
    [
        (1000, 20, 8),  # 800 usable bytes
        (1050, 20, 8),  # 840 usable: whole slots only
        (999, 0, 9),
        (1000, 0, 10),
        (2000, 50, 10),
        (10_000, 1, 99),
    ],
)
def test_byte_capacity_holds_exactly_its_slots_of_one_slot_events(
    make_channel: Callable[..., MemoryChannel], byte_capacity: int, buffer_percentage: int, slots: int
) -> None:
    channel = make_channel(capacity=1000, transactionCapacity=1000, byteCapacity=byte_capacity,
                           byteCapacityBufferPercentage=buffer_percentage)
    put_committed(channel, events(0, slots, body_size=100))
    with pytest.raises(ChannelFullError, match=f"byteCapacity {byte_capacity} bytes"), \
            channel.transaction() as tx:
        tx.put(Event(b"x"))
    assert channel.size() == slots


@pytest.mark.parametrize(
    ("body_size", "fits"),
    [
        (0, 8),  # an empty body still takes one slot
        (1, 8),
        (100, 8),
        (101, 4),  # two slots each
        (200, 4),
        (201, 2),  # three slots each: 2 events use 6, a third would need 9
        (800, 1),
    ],
)
def test_byte_capacity_counts_whole_100_byte_slots_per_body(
    make_channel: Callable[..., MemoryChannel], body_size: int, fits: int
) -> None:
    channel = make_channel(capacity=100, transactionCapacity=100, byteCapacity=1000)  # 8 slots
    for i in range(fits):
        put_committed(channel, events(i, i + 1, body_size=body_size))
    with pytest.raises(ChannelFullError), channel.transaction() as tx:
        tx.put_batch(events(fits, fits + 1, body_size=body_size))
    assert channel.size() == fits


def test_byte_capacity_ignores_headers(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=100, transactionCapacity=100, byteCapacity=1000)  # 8 slots
    big_headers = {f"h{i}": "v" * 1000 for i in range(10)}
    put_committed(channel, [Event(b"", dict(big_headers)) for _ in range(8)])
    assert channel.size() == 8


def test_byte_capacity_is_freed_at_take_commit_not_at_take(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=100, transactionCapacity=100, byteCapacity=1000)  # 8 slots
    put_committed(channel, events(0, 4, body_size=200))  # 8 slots
    taker = channel.transaction()
    assert [e.body[:2] for e in taker.take_batch(1, 0.0)] == [b"e0"]
    producer = channel.transaction()
    producer.put_batch(events(10, 12, body_size=100))  # 2 slots: fits only once e0 is gone
    with pytest.raises(ChannelFullError):
        producer.commit()
    taker.commit()
    taker.close()
    producer.commit()
    producer.close()
    assert [b.rstrip(b".") for b in drain_bodies(channel)] == [b"e1", b"e2", b"e3", b"e10", b"e11"]


def test_byte_capacity_zero_means_no_byte_limit(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=50, transactionCapacity=50, byteCapacity=0)
    put_committed(channel, events(0, 50, body_size=100_000))
    assert channel.size() == 50


@pytest.mark.parametrize(
    ("byte_capacity", "buffer_percentage"),
    [(100, 20), (99, 0), (1000, 100), (124, 20)],
)
def test_byte_capacity_below_one_slot_means_no_byte_limit_as_flume(
    make_channel: Callable[..., MemoryChannel], byte_capacity: int, buffer_percentage: int
) -> None:
    # Flume's MemoryChannel.configure(): "if (byteCapacity < 1) byteCapacity = Integer.MAX_VALUE".
    channel = make_channel(capacity=20, transactionCapacity=20, byteCapacity=byte_capacity,
                           byteCapacityBufferPercentage=buffer_percentage)
    put_committed(channel, events(0, 20, body_size=1000))
    assert channel.size() == 20


def test_reconfigure_enabling_byte_capacity_counts_events_already_queued(
    make_channel: Callable[..., MemoryChannel],
) -> None:
    channel = make_channel(capacity=100, transactionCapacity=100)
    put_committed(channel, events(0, 10, body_size=100))  # 10 slots, no byte limit yet
    channel.reconfigure(parse_config(MemoryChannel, {"capacity": "100", "transactionCapacity": "100",
                                                      "keep-alive": "0", "byteCapacity": "1000",
                                                      "byteCapacityBufferPercentage": "0"}))
    assert len(drain_bodies(channel)) == 10
    # Empty, with a 10-slot limit: exactly ten one-slot events fit.
    put_committed(channel, events(0, 10, body_size=100))
    with pytest.raises(ChannelFullError), channel.transaction() as tx:
        tx.put(Event(b"eleventh"))
    assert channel.size() == 10


def test_reconfigure_disabling_then_enabling_byte_capacity_forgets_drained_events(
    make_channel: Callable[..., MemoryChannel],
) -> None:
    limited = {"capacity": "100", "transactionCapacity": "100", "keep-alive": "0",
               "byteCapacity": "500", "byteCapacityBufferPercentage": "0"}  # 5 slots
    channel = make_channel(limited)
    put_committed(channel, events(0, 5, body_size=100))
    channel.reconfigure(parse_config(MemoryChannel, {"capacity": "100", "transactionCapacity": "100",
                                                      "keep-alive": "0"}))
    assert len(drain_bodies(channel)) == 5
    channel.reconfigure(parse_config(MemoryChannel, limited))
    put_committed(channel, events(5, 10, body_size=100))  # the channel is empty: 5 slots are free
    assert channel.size() == 5


# --- configuration ---------------------------------------------------------------------------------------


def test_defaults_are_flumes() -> None:
    config = parse_config(MemoryChannel, {})
    assert isinstance(config, MemoryChannelConfig)
    assert (config.capacity, config.transaction_capacity, config.keep_alive) == (100, 100, 3.0)
    assert config.byte_capacity is None
    assert config.byte_capacity_buffer_percentage == 20


def test_transaction_capacity_above_capacity_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="transactionCapacity") as info:
        parse_config(MemoryChannel, {"capacity": "10", "transactionCapacity": "11"})
    assert [d.key for d in info.value.diagnostics] == ["transactionCapacity"]
    assert "10" in str(info.value)
    assert "11" in str(info.value)


def test_transaction_capacity_equal_to_capacity_is_valid() -> None:
    config = parse_config(MemoryChannel, {"capacity": "10", "transactionCapacity": "10"})
    assert (config.capacity, config.transaction_capacity) == (10, 10)


def test_transaction_capacity_above_default_capacity_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="transactionCapacity"):
        parse_config(MemoryChannel, {"transactionCapacity": "1000"})


@pytest.mark.parametrize("key", ["capacity", "transactionCapacity", "byteCapacity", "byteCapacityBufferPercentage"])
@pytest.mark.parametrize("value", ["ten", "1.5", "", "0x10"])
def test_non_integer_value_is_a_config_error_naming_the_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(MemoryChannel, {key: value})
    assert key in [d.key for d in info.value.diagnostics]
    assert key in str(info.value)


def test_buffer_percentage_above_100_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="byteCapacityBufferPercentage"):
        parse_config(MemoryChannel, {"byteCapacity": "1000", "byteCapacityBufferPercentage": "101"})


# --- reconfigure ---------------------------------------------------------------------------------------


def _config(**flume_keys: object) -> MemoryChannelConfig:
    props = {"keep-alive": "0"} | {k: str(v) for k, v in flume_keys.items()}
    config = parse_config(MemoryChannel, props)
    assert isinstance(config, MemoryChannelConfig)
    return config


def test_reconfigure_grows_capacity_in_place_keeping_events(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=5, transactionCapacity=5)
    put_committed(channel, events(0, 5))
    assert channel.reconfigure(_config(capacity=10, transactionCapacity=10)) is True
    assert channel.size() == 5
    assert channel.transaction_capacity() == 10
    put_committed(channel, events(5, 10))
    with pytest.raises(ChannelFullError), channel.transaction() as tx:
        tx.put(Event(b"x"))
    assert channel.counter.snapshot()["ChannelCapacity"] == "10"
    assert drain_bodies(channel) == names(10)


def test_reconfigure_shrinks_capacity_keeping_events(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=10, transactionCapacity=10)
    put_committed(channel, events(0, 3))
    assert channel.reconfigure(_config(capacity=4, transactionCapacity=2)) is True
    assert channel.size() == 3
    put_committed(channel, events(3, 4))
    with pytest.raises(ChannelFullError), channel.transaction() as tx:
        tx.put(Event(b"x"))
    with pytest.raises(TransactionError), channel.transaction() as tx:
        tx.put_batch(events(10, 13))  # the new transactionCapacity applies
    assert drain_bodies(channel) == names(4)


def test_reconfigure_releases_a_commit_waiting_for_room(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=2, transactionCapacity=2, keep_alive=LONG_WAIT)
    put_committed(channel, events(0, 2))
    about_to_commit = threading.Event()

    def produce() -> None:
        with channel.transaction() as tx:
            tx.put(Event(b"waited"))
            about_to_commit.set()

    producer = _Worker(produce)
    producer.start()
    assert about_to_commit.wait(JOIN_TIMEOUT)
    channel.reconfigure(_config(capacity=3, transactionCapacity=2))
    producer.finish()
    assert drain_bodies(channel) == [b"e0", b"e1", b"waited"]


# --- counters -----------------------------------------------------------------------------------------------


def test_counters_after_a_known_sequence(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=10, transactionCapacity=5)

    put_committed(channel, events(0, 5))                 # +5 attempts, +5 successes
    with pytest.raises(KeyError):
        put_then_fail(channel, events(5, 8))              # +3 attempts, rolled back
    put_committed(channel, events(8, 13))                 # +5 attempts, +5 successes
    with pytest.raises(ChannelFullError), channel.transaction() as tx:
        tx.put(Event(b"over"))                            # +1 attempt, commit fails: channel full
    with channel.transaction() as tx:
        assert len(tx.take_batch(4, 0.0)) == 4            # +4 take attempts, +4 successes
    with pytest.raises(KeyError, match="took 3"):
        take_then_fail(channel, 3)                        # +3 take attempts, rolled back
    snap = channel.counter.snapshot()
    assert snap["Type"] == "CHANNEL"
    assert snap["EventPutAttemptCount"] == "14"
    assert snap["EventPutSuccessCount"] == "10"
    assert snap["EventTakeAttemptCount"] == "7"
    assert snap["EventTakeSuccessCount"] == "4"
    assert snap["ChannelSize"] == "6"
    assert snap["ChannelCapacity"] == "10"
    assert snap["ChannelFillPercentage"] == "60.0"

    with channel.transaction() as tx:
        assert len(tx.take_batch(5, 0.0)) == 5            # +5 take attempts, +5 successes
    with channel.transaction() as tx:
        assert len(tx.take_batch(1, 0.0)) == 1            # +1, +1: the last event
    with channel.transaction() as tx:
        assert tx.take() is None                          # +1: an empty take is an attempt (as Flume)
    snap = channel.counter.snapshot()
    assert snap["EventTakeAttemptCount"] == "14"
    assert snap["EventTakeSuccessCount"] == "10"
    assert snap["EventPutSuccessCount"] == "10"
    assert snap["ChannelSize"] == "0"
    assert snap["ChannelFillPercentage"] == "0.0"
    assert channel.size() == 0


def test_rollback_without_takes_refreshes_channel_size(make_channel: Callable[..., MemoryChannel]) -> None:
    # Flume's doRollback() always runs channelCounter.setChannelSize(queue.size()) (reference §4:
    # "ChannelSize at commit/rollback"), so an idle rollback corrects a size left by in-flight takes.
    channel = make_channel(capacity=5, transactionCapacity=5)
    put_committed(channel, events(0, 1))
    taker = channel.transaction()
    assert taker.take() is not None
    idle = channel.transaction()
    idle.put(Event(b"dropped"))
    idle.rollback()
    idle.close()
    assert channel.counter.snapshot()["ChannelSize"] == "0"
    taker.rollback()
    taker.close()
    assert channel.counter.snapshot()["ChannelSize"] == "1"


def test_start_sets_size_and_capacity(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=7, transactionCapacity=7)
    put_committed(channel, events(0, 3))
    channel.stop()
    channel.counter.start()  # the runtime starts a component's counter just before the component
    channel.start()
    snap = channel.counter.snapshot()
    assert (snap["ChannelSize"], snap["ChannelCapacity"]) == ("3", "7")
    assert snap["EventPutSuccessCount"] == "0"


def test_wait_for_events_times_out_on_an_empty_channel(make_channel: Callable[..., MemoryChannel]) -> None:
    channel = make_channel(capacity=5, transactionCapacity=5)
    assert channel.wait_for_events(0.01) is False
    put_committed(channel, events(0, 1))
    assert wait_until(lambda: channel.wait_for_events(0.0), timeout=1.0) is True
