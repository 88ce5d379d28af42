"""The HBase sink against devstack's real HBase 2.6 through its Thrift1 server: the simple serializer's puts and
counter, the regex serializer's columns and headers, bad events set aside, a start refused for a missing table
or family, a batch that fails (Thrift server unreachable, or its reply lost) rolled back with nothing lost and
written again on the same rows, and coalesceIncrements.

Outages are made by a TCP relay in front of the Thrift server (:class:`Relay`): it forwards bytes both ways,
and can cut every connection, refuse new ones, or forward requests while dropping the replies, so the sink
talks to the real server throughout and the test decides when the network fails.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import happybase
import pytest

from flafka.channels.memory import MemoryChannel
from flafka.errors import DeliveryError
from flafka.event import Event
from flafka.sinks.base import Status
from flafka.sinks.hbase import HBaseSink
from flafka.testing import build, drain, drive, memory_channel, put, wait_until
from tests.integration.conftest import HbaseStack, _checked, _devstack, parse_env
from tests.integration.hbase_tools import Relay, closed_port, connect, fresh_table

pytestmark = pytest.mark.hbase

SinkFactory = Callable[..., tuple[HBaseSink, MemoryChannel]]


@pytest.fixture
def table(hbase: happybase.Connection) -> Iterator[str]:
    with fresh_table(hbase, "sink", ["cf"]) as name:
        yield name


@pytest.fixture
def make_sink(hbase_stack: HbaseStack) -> Iterator[SinkFactory]:
    """``make_sink(table, key=value, ...)``: a started sink and its channel (``__`` in a key stands for ``.``);
    ``start=False`` leaves it unstarted. Every sink is stopped at the end."""
    made: list[HBaseSink] = []

    def make(table: str, *, start: bool = True, **values: str) -> tuple[HBaseSink, MemoryChannel]:
        settings = {"table": table, "columnFamily": "cf", "thriftAddress": hbase_stack.thrift, "timeout": "10000",
                    **{k.replace("__", "."): v for k, v in values.items()}}
        sink = build(HBaseSink, settings, name="k1")
        sink.channel = memory_channel()
        made.append(sink)
        if start:
            sink.start()
        return sink, sink.channel  # type: ignore[return-value]  # memory_channel() made it

    yield make
    for sink in made:
        sink.stop()




def rows(hbase: happybase.Connection, table: str) -> dict[bytes, dict[bytes, bytes]]:
    return dict(hbase.table(table).scan())


def counter(hbase: happybase.Connection, table: str, row: bytes = b"incRow", column: bytes = b"cf:iCol") -> int:
    value: int = hbase.table(table).counter_get(row, column)
    return value


REGEX = {"serializer": "regex", "serializer__regex": "([^ ]+) (.*)", "serializer__colNames": "ROW_KEY,msg",
         "serializer__rowKeyIndex": "0"}


# -- writing -------------------------------------------------------------------------------------


def test_simple_serializer_puts_every_body_in_a_row_and_counts_the_events(
        hbase: happybase.Connection, table: str, make_sink: SinkFactory) -> None:
    sink, channel = make_sink(table, batchSize="7")
    bodies = [b"event-%03d" % i for i in range(20)]
    put(channel, [Event(b) for b in bodies])
    assert drive(sink) == 3
    written = rows(hbase, table)
    counted = written.pop(b"incRow")
    assert sorted(cells[b"cf:pCol"] for cells in written.values()) == bodies
    assert all(key.startswith(b"default") and list(cells) == [b"cf:pCol"] for key, cells in written.items())
    assert list(counted) == [b"cf:iCol"]
    assert counter(hbase, table) == 20
    assert (sink.counter.event_drain_success_count, sink.counter.event_write_fail) == (20, 0)
    assert channel.size() == 0


def test_regex_serializer_writes_its_columns_and_the_headers(
        hbase: happybase.Connection, table: str, make_sink: SinkFactory) -> None:
    sink, channel = make_sink(table, **REGEX, serializer__depositHeaders="true")
    put(channel, [Event(b"r1 hello world", {"host": "a"}), Event(b"r2 second", {"host": "b", "dc": "x"})])
    assert drive(sink) == 1
    assert rows(hbase, table) == {
        b"r1": {b"cf:msg": b"hello world", b"cf:host": b"a"},
        b"r2": {b"cf:msg": b"second", b"cf:host": b"b", b"cf:dc": b"x"},
    }


def test_an_event_the_serializer_refuses_goes_to_the_dead_letter_channel(
        hbase: happybase.Connection, table: str, make_sink: SinkFactory) -> None:
    sink, channel = make_sink(table, **REGEX)
    dead = memory_channel("dl")
    sink.dead_letters.channel = dead
    put(channel, [Event(b"r1 one"), Event(b"no-space"), Event(b"r2 two")])
    assert drive(sink) == 1
    assert rows(hbase, table) == {b"r1": {b"cf:msg": b"one"}, b"r2": {b"cf:msg": b"two"}}
    [letter] = drain(dead)
    assert letter.body == b"no-space"
    assert "flafka.error" in letter.headers
    assert letter.headers["flafka.error.component"] == "sink k1"
    counts = sink.counter
    assert (counts.event_dead_letter_count, counts.event_write_fail, counts.event_drain_success_count) == (1, 1, 2)


def test_without_a_dead_letter_channel_a_refused_event_is_dropped_and_counted(
        hbase: happybase.Connection, table: str, make_sink: SinkFactory) -> None:
    sink, channel = make_sink(table, **REGEX)
    put(channel, [Event(b"no-space"), Event(b"r1 one")])
    assert drive(sink) == 1
    assert rows(hbase, table) == {b"r1": {b"cf:msg": b"one"}}
    assert (sink.counter.event_drop_count, sink.counter.event_drain_success_count) == (1, 1)
    assert channel.size() == 0


@pytest.mark.parametrize(("coalesced", "sent"), [("true", 1), ("false", 12)])
def test_coalesce_increments_merges_a_batch_into_one_increment_per_cell(
        hbase: happybase.Connection, table: str, make_sink: SinkFactory, *, caplog: pytest.LogCaptureFixture,
        coalesced: str, sent: int) -> None:
    sink, channel = make_sink(table, coalesceIncrements=coalesced, serializer__payloadColumn="")
    put(channel, [Event(b"%d" % i) for i in range(12)])
    with caplog.at_level(logging.DEBUG, logger="flafka.sinks.hbase.sink"):
        assert drive(sink) == 1
    [wrote] = [m for m in caplog.messages if m.startswith("HBase sink k1 wrote a batch.")]
    assert wrote.endswith(f"events=12 puts=0 increments={sent}")
    assert counter(hbase, table) == 12  # the same count either way
    assert rows(hbase, table).keys() == {b"incRow"}


# -- start ---------------------------------------------------------------------------------------


def test_start_fails_clearly_without_the_table_or_the_family(
        hbase: happybase.Connection, table: str, make_sink: SinkFactory) -> None:
    missing = f"absent_{uuid.uuid4().hex[:8]}"
    sink, _ = make_sink(missing, start=False)
    with pytest.raises(DeliveryError, match=f"table '{missing}' at Thrift server .* does not exist"):
        sink.start()
    sink, _ = make_sink(table, start=False, columnFamily="nope")
    with pytest.raises(DeliveryError, match="has no column family 'nope' \\(it has: cf\\)"):
        sink.start()


# -- failures ------------------------------------------------------------------------------------


def test_a_batch_to_an_unreachable_thrift_server_rolls_back_with_nothing_lost(
        table: str, make_sink: SinkFactory) -> None:
    sink, channel = make_sink(table, start=False, thriftAddress=f"127.0.0.1:{closed_port()}")
    with pytest.raises(DeliveryError, match="cannot start"):
        sink.start()
    events = [Event(b"r%d x" % i, {"n": str(i)}) for i in range(5)]
    put(channel, events)
    with pytest.raises(DeliveryError) as raised:
        sink.process()
    assert raised.value.retriable
    assert sink.counter.connection_failed_count == 2
    assert [(e.body, e.headers) for e in drain(channel)] == [(e.body, e.headers) for e in events]


def test_an_outage_rolls_the_batch_back_and_the_sink_reconnects_when_it_ends(
        hbase: happybase.Connection, table: str, make_sink: SinkFactory, relay: Relay) -> None:
    sink, channel = make_sink(table, thriftAddress=relay.address, **REGEX)
    put(channel, [Event(b"before %d" % i) for i in range(3)])
    assert drive(sink) == 1
    relay.cut()
    events = [Event(b"during%d x" % i) for i in range(4)]
    put(channel, events)
    with pytest.raises(DeliveryError, match="rolled back") as raised:
        sink.process()
    assert raised.value.retriable
    assert channel.size() == 4
    with pytest.raises(DeliveryError):  # still down: a new connection is refused
        sink.process()
    relay.resume()
    assert drive(sink) == 1
    assert rows(hbase, table) == {b"before": {b"cf:msg": b"2"},
                                  **{b"during%d" % i: {b"cf:msg": b"x"} for i in range(4)}}
    # Each failure dropped the connection and the next batch opened a new one: the relay accepts a connection
    # before closing it, so the attempt during the outage opened one too.
    assert (sink.counter.connection_failed_count, sink.counter.connection_created_count) == (2, 3)


def test_a_batch_whose_reply_is_lost_is_rolled_back_and_its_puts_rewrite_the_same_rows(
        hbase: happybase.Connection, table: str, make_sink: SinkFactory, relay: Relay) -> None:
    """The server applied the batch but the sink never heard so: the batch is redelivered. Its puts land on
    the same cells (nothing doubled); its increments would be counted twice (see the next test)."""
    sink, channel = make_sink(table, thriftAddress=relay.address, timeout="1000", **REGEX)
    events = [Event(b"row%02d v%d" % (i, i)) for i in range(30)]
    expected = {b"row%02d" % i: {b"cf:msg": b"v%d" % i} for i in range(30)}
    put(channel, events)
    relay.drop_replies = True
    with pytest.raises(DeliveryError, match="rolled back"):
        sink.process()
    assert channel.size() == 30
    wait_until(lambda: rows(hbase, table) == expected, timeout=10, message="the unacknowledged batch in HBase")
    relay.drop_replies = False
    assert drive(sink) == 1
    assert rows(hbase, table) == expected
    assert len(list(hbase.table(table).scan())) == 30


def test_increments_of_a_redelivered_batch_are_counted_again(
        hbase: happybase.Connection, table: str, make_sink: SinkFactory, relay: Relay) -> None:
    """What the module docstring warns about, shown: increments are not idempotent (in Flume neither)."""
    sink, channel = make_sink(table, thriftAddress=relay.address, timeout="1000", coalesceIncrements="true",
                              serializer__payloadColumn="")
    put(channel, [Event(b"e") for _ in range(5)])
    relay.drop_replies = True
    with pytest.raises(DeliveryError):
        sink.process()
    wait_until(lambda: counter(hbase, table) == 5, timeout=10, message="the unacknowledged increment in HBase")
    relay.drop_replies = False
    assert drive(sink) == 1
    assert counter(hbase, table) == 10


@pytest.mark.slow
def test_the_sink_rides_out_an_hbase_restart(tmp_path: Path) -> None:
    """~60 s: a private HBase (restarting the shared one would disturb other tests); its HMaster (master and
    region server) restarts while the sink writes. Batches fail and roll back meanwhile; once HBase is back
    the sink resumes by itself and every event is in the table exactly once (regex row keys)."""
    state = tmp_path / "devstack-state.json"
    try:
        env = parse_env(_checked("up", "hbase", state=state).stdout)
        thrift = env["FLAFKA_HBASE_THRIFT"]
        admin = connect(thrift)
        admin.create_table("restart", {"cf": {"max_versions": 1}})
        sink = build(HBaseSink, {"table": "restart", "columnFamily": "cf", "thriftAddress": thrift,
                                 "timeout": "3000", "batchSize": "10", **{k.replace("__", "."): v
                                                                           for k, v in REGEX.items()}}, name="k1")
        channel = memory_channel()
        sink.channel = channel
        sink.start()
        put(channel, [Event(b"a%02d x" % i) for i in range(10)])
        assert drive(sink) == 1

        restarting = threading.Thread(target=_devstack, args=("restart", "hbase-master"), kwargs={"state": state})
        restarting.start()
        failures = 0

        def delivered() -> bool:
            nonlocal failures
            try:
                return sink.process() is Status.READY
            except DeliveryError:
                failures += 1
                return False

        batches = 0
        while restarting.is_alive() or batches < 2:  # batches during the restart, and after it
            put(channel, [Event(b"b%03d%02d x" % (batches, i)) for i in range(10)])
            wait_until(delivered, timeout=180, interval=0.2, message=f"batch {batches} delivered")
            batches += 1
        restarting.join()
        assert failures > 0, "the restart should have failed some batches"
        sink.stop()
        admin.close()
        admin = connect(thrift)
        keys = [key for key, _ in admin.table("restart").scan()]
        assert keys == sorted([b"a%02d" % i for i in range(10)]
                              + [b"b%03d%02d" % (b, i) for b in range(batches) for i in range(10)])
        assert channel.size() == 0
        assert sink.counter.event_drain_success_count == 10 * (batches + 1)
        admin.close()
    finally:
        _devstack("down", state=state)
