"""The file channel against a model queue, with restarts, and under concurrent producers and consumers.

``FileChannelModel`` keeps several transactions open at once on the test thread and runs puts, takes,
commits, rollbacks and restarts (stop, then a new channel on the same directories) against a model:
the committed queue, each open transaction's puts and takes, and each committed event's commit
number. Capacity is checked at put: queued + taken by open transactions + put by open transactions
must fit, else (keep-alive 0) the put raises and changes nothing. A restart abandons the open
transactions: their puts vanish and their takes return; the replayed queue is in commit order.
Segments are tiny (``maxFileSize`` 300-1500 bytes), so rotation and deletion happen all the time;
an invariant checks that the files on disk are exactly the live segments and that the oldest one
still holds an event not taken for good.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import event as tally
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from flafka.channels.base import Transaction
from flafka.channels.file import FileChannel
from flafka.errors import ChannelFullError, TransactionError
from flafka.event import Event
from flafka.testing import build
from tests.unit.channels.stress import stress

MAX_OPEN = 3
BODY_SIZES = (0, 1, 30, 120)
SIZES = st.lists(st.sampled_from(BODY_SIZES), min_size=1, max_size=4)


def ids(events: list[Event]) -> list[int]:
    return [int(e.headers["n"]) for e in events]


@dataclass
class OpenTx:
    tx: Transaction
    puts: list[Event] = field(default_factory=list)
    takes: list[Event] = field(default_factory=list)


class FileChannelModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="flafka-file-model-"))
        self.channel: FileChannel | None = None
        self.props: dict[str, str] = {}
        self.queue: list[Event] = []
        self.open: list[OpenTx] = []
        self.order: dict[int, int] = {}  # event number -> commit number
        self.commits = 0
        self.next_id = 0
        self.capacity = 0
        self.tx_capacity = 0

    @initialize(data=st.data(), capacity=st.integers(2, 12), max_file_size=st.integers(300, 1500),
                fsync=st.booleans())
    def make_channel(self, data: st.DataObject, capacity: int, max_file_size: int, fsync: bool) -> None:
        self.capacity = capacity
        self.tx_capacity = data.draw(st.integers(1, capacity), label="transactionCapacity")
        self.props = {"checkpointDir": str(self.root / "checkpoint"),
                      "dataDirs": f"{self.root / 'a'},{self.root / 'b'}", "capacity": str(capacity),
                      "transactionCapacity": str(self.tx_capacity), "keep-alive": "0",
                      "maxFileSize": str(max_file_size), "fsyncPerTransaction": str(fsync).lower()}
        self.channel = build(FileChannel, self.props, "model")
        self.channel.start()

    @property
    def ch(self) -> FileChannel:
        assert self.channel is not None
        return self.channel

    def pick(self, index: int) -> OpenTx:
        if not self.open:
            self.open.append(OpenTx(self.ch.transaction()))
        return self.open[index % len(self.open)]

    def occupancy(self) -> int:
        return len(self.queue) + sum(len(t.takes) + len(t.puts) for t in self.open)

    # --- operations ---------------------------------------------------------------------------------------

    def do_put(self, entry: OpenTx, sizes: list[int]) -> None:
        batch = []
        for size in sizes:
            batch.append(Event(b"%d:" % self.next_id + b"x" * size, {"n": str(self.next_id)}))
            self.next_id += 1
        if len(entry.puts) + len(batch) > self.tx_capacity:
            tally("put: over transactionCapacity")
            with pytest.raises(TransactionError):
                entry.tx.put_batch(batch)
        elif self.occupancy() + len(batch) > self.capacity:
            tally("put: over capacity")
            with pytest.raises(ChannelFullError):
                entry.tx.put_batch(batch)
        else:
            entry.tx.put_batch(batch)
            entry.puts.extend(batch)

    def do_take(self, entry: OpenTx, max_events: int) -> None:
        room = self.tx_capacity - len(entry.takes)
        if room <= 0:
            with pytest.raises(TransactionError):
                entry.tx.take_batch(max_events, 0.0)
            return
        expected = self.queue[: min(max_events, room)]
        got = entry.tx.take_batch(max_events, 0.0)
        assert got == expected
        del self.queue[: len(got)]
        entry.takes.extend(got)

    def do_commit(self, entry: OpenTx) -> None:
        entry.tx.commit()
        for event in entry.puts:
            self.order[int(event.headers["n"])] = self.commits
        self.commits += 1
        self.queue.extend(entry.puts)
        self.finish(entry)

    def do_rollback(self, entry: OpenTx) -> None:
        entry.tx.rollback()
        self.queue[:0] = entry.takes
        self.finish(entry)

    def finish(self, entry: OpenTx) -> None:
        self.open.remove(entry)
        entry.tx.close()

    # --- rules ------------------------------------------------------------------------------------------------

    @precondition(lambda self: len(self.open) < MAX_OPEN)
    @rule()
    def open_transaction(self) -> None:
        self.open.append(OpenTx(self.ch.transaction()))

    @rule(index=st.integers(0, MAX_OPEN - 1), sizes=SIZES)
    def put(self, index: int, sizes: list[int]) -> None:
        self.do_put(self.pick(index), sizes)

    @rule(index=st.integers(0, MAX_OPEN - 1), max_events=st.integers(1, 6))
    def take(self, index: int, max_events: int) -> None:
        self.do_take(self.pick(index), max_events)

    @rule(index=st.integers(0, MAX_OPEN - 1))
    def commit(self, index: int) -> None:
        self.do_commit(self.pick(index))

    @rule(index=st.integers(0, MAX_OPEN - 1))
    def rollback(self, index: int) -> None:
        self.do_rollback(self.pick(index))

    @precondition(lambda self: len(self.open) < MAX_OPEN)
    @rule(sizes=SIZES)
    def produce(self, sizes: list[int]) -> None:
        entry = OpenTx(self.ch.transaction())
        self.open.append(entry)
        self.do_put(entry, sizes)
        self.do_commit(entry)

    @precondition(lambda self: len(self.open) < MAX_OPEN)
    @rule(max_events=st.integers(1, 6), keep=st.booleans())
    def consume(self, max_events: int, keep: bool) -> None:
        entry = OpenTx(self.ch.transaction())
        self.open.append(entry)
        self.do_take(entry, max_events)
        if keep:
            self.do_commit(entry)
        else:
            self.do_rollback(entry)

    @rule()
    def restart(self) -> None:
        tally(f"restart with {len(self.open)} open transactions")
        self.ch.stop()
        returned = [e for t in self.open for e in t.takes]
        self.open = []
        # Replay order: commit order, and put order within a commit (event numbers grow with puts).
        self.queue = sorted(self.queue + returned, key=lambda e: (self.order[int(e.headers["n"])], int(e.headers["n"])))
        self.channel = build(FileChannel, self.props, "model")
        self.channel.start()
        assert self.channel.replay_problems == []

    # --- invariants ------------------------------------------------------------------------------------------

    @invariant()
    def size_matches(self) -> None:
        if self.channel is not None:
            assert self.ch.size() == len(self.queue)
            assert self.ch.counter.channel_size == len(self.queue) or self.open

    @invariant()
    def only_live_segments_are_on_disk_and_the_oldest_is_needed(self) -> None:
        if self.channel is None:
            return
        live = self.ch.segment_paths()
        on_disk = sorted(str(p) for p in self.root.glob("*/log-*"))
        assert sorted(live) == on_disk
        if len(live) > 1:
            # The oldest segment still holds an event that is queued or held by an open transaction.
            head = self.ch._log.segments[0] if self.ch._log else None
            assert head is not None
            assert head.taken < len(head.offsets)

    def teardown(self) -> None:
        try:
            if self.channel is not None:
                for entry in list(self.open):
                    self.do_rollback(entry)
                drained: list[Event] = []
                for _ in range(1000):
                    with self.ch.transaction() as tx:
                        batch = tx.take_batch(self.tx_capacity, 0.0)
                    if not batch:
                        break
                    drained.extend(batch)
                assert drained == self.queue
        finally:
            if self.channel is not None:
                self.channel.stop()
            shutil.rmtree(self.root, ignore_errors=True)


TestFileChannelModel = FileChannelModel.TestCase
TestFileChannelModel.settings = settings(
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    database=None,  # other engineers share this tree: keep it free of .hypothesis/ files
    suppress_health_check=[HealthCheck.too_slow],
)


# --- concurrency stress ------------------------------------------------------------------------------------


def test_concurrent_producers_and_consumers_deliver_every_event_exactly_once(tmp_path: Path) -> None:
    channel = build(FileChannel, {"checkpointDir": str(tmp_path / "c"), "dataDirs": str(tmp_path / "d"),
                                  "capacity": "2000", "transactionCapacity": "100", "keep-alive": "0.05",
                                  "maxFileSize": "20000"}, "stress")
    channel.start()
    try:
        result = stress(channel, total=60_000, producers=3, consumers=2)
    finally:
        channel.stop()
    assert result.numbers == list(range(60_000))  # every event exactly once
    assert len(list((tmp_path / "d").glob("log-*"))) == 1  # every consumed segment was deleted
