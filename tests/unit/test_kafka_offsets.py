"""The offset tracker against a model of what a reader did: no offset is committable before its record is
delivered, every delivered record becomes committable, a give-up says where to read again."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from flafka.kafka.offsets import OffsetTracker, Partition

PARTITIONS: list[Partition] = [("a", 0), ("a", 1), ("b", 0)]


class TrackerModel(RuleBasedStateMachine):
    """A reader of three partitions: reads (with gaps), delivers, commits (or fails to), gives up, is revoked."""

    def __init__(self) -> None:
        super().__init__()
        self.tracker = OffsetTracker()
        self.position = dict.fromkeys(PARTITIONS, 0)  # the next offset the reader would fetch
        self.in_hand: dict[Partition, list[int]] = {p: [] for p in PARTITIONS}
        self.delivered: dict[Partition, set[int]] = {p: set() for p in PARTITIONS}  # delivered, uncommitted
        self.committed = dict.fromkeys(PARTITIONS, 0)  # what Kafka holds for the group

    @rule(partition=st.sampled_from(PARTITIONS), gaps=st.lists(st.integers(0, 3), min_size=1, max_size=5))
    def read(self, partition: Partition, gaps: list[int]) -> None:
        offsets = []
        at = self.position[partition]
        for gap in gaps:
            at += gap
            offsets.append(at)
            at += 1
        if len(offsets) > 1 and gaps[0] % 2:
            self.tracker.read_run(partition, offsets[0], offsets[-1])
        else:
            for offset in offsets:
                self.tracker.read(partition, offset)
        self.in_hand[partition] += offsets
        self.position[partition] = at

    @rule()
    def deliver(self) -> None:
        self.tracker.deliver()
        for partition, offsets in self.in_hand.items():
            self.delivered[partition].update(offsets)
            offsets.clear()

    @rule(failed=st.booleans(), excluded=st.sets(st.sampled_from(PARTITIONS)))
    def commit(self, failed: bool, excluded: set[Partition]) -> None:
        offsets = self.tracker.committable(excluding=excluded)
        assert not set(offsets) & excluded
        if failed:
            return
        self.tracker.committed(offsets)
        for partition, offset in offsets.items():
            self.committed[partition] = offset
            self.delivered[partition] = {o for o in self.delivered[partition] if o >= offset}

    @rule(partitions=st.none() | st.sets(st.sampled_from(PARTITIONS)))
    def give_up(self, partitions: set[Partition] | None) -> None:
        seek = self.tracker.give_up(partitions)
        chosen = PARTITIONS if partitions is None else partitions
        expected = {p: self.in_hand[p][0] for p in chosen if self.in_hand[p]}
        assert seek == expected  # read again from the first record given up
        for partition, offset in seek.items():
            self.in_hand[partition] = []
            self.position[partition] = offset

    @rule(partitions=st.sets(st.sampled_from(PARTITIONS), min_size=1))
    def revoke(self, partitions: set[Partition]) -> None:
        lost = self.tracker.forget(partitions)
        for partition in partitions:
            if self.delivered[partition]:
                assert lost[partition] == max(self.delivered[partition]) + 1
            else:
                assert partition not in lost
            # the partition comes back later: its reader starts from the committed offset
            self.in_hand[partition] = []
            self.delivered[partition] = set()
            self.position[partition] = self.committed[partition]

    @invariant()
    def nothing_undelivered_is_committable(self) -> None:
        for partition, offset in self.tracker.committable().items():
            assert offset > self.committed[partition] or not self.delivered[partition]
            # every record below the offset that is in hand (read, undelivered) would be lost by a commit
            assert all(o >= offset for o in self.in_hand[partition]), (partition, offset, self.in_hand[partition])
            assert self.delivered[partition], "a committable offset with nothing delivered"
            assert offset == max(self.delivered[partition]) + 1

    @invariant()
    def every_delivered_record_is_committable(self) -> None:
        committable = self.tracker.committable()
        for partition, offsets in self.delivered.items():
            if offsets:
                assert committable.get(partition, -1) > max(offsets)

    @invariant()
    def in_hand_is_reported(self) -> None:
        assert self.tracker.in_hand() == {p: o[0] for p, o in self.in_hand.items() if o}
        assert self.tracker.holding == any(self.in_hand.values())
        assert self.tracker.pending == any(self.delivered.values())

    @precondition(lambda self: True)
    @rule()
    def nothing(self) -> None:
        pass


TrackerModel.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
test_offset_tracker = TrackerModel.TestCase


def test_a_newer_delivery_survives_the_commit_of_an_older_offset() -> None:
    tracker = OffsetTracker()
    tracker.read_run(("t", 0), 0, 9)
    tracker.deliver()
    offsets = tracker.committable()
    tracker.read_run(("t", 0), 10, 19)
    tracker.deliver()  # delivered while the commit of 10 was in flight
    tracker.committed(offsets)
    assert tracker.committable() == {("t", 0): 20}


# --- a reader that holds its records itself, in several holders (the Kafka channel's takes) -----------------


class HeldElsewhereModel(RuleBasedStateMachine):
    """Take transactions hold runs of records; a commit delivers a transaction's runs (``deliver_upto``), a
    rollback puts them back to be taken again first. Offsets are committed with ``committable_below`` the first
    offset still held anywhere: no committed offset may pass a record that was not delivered."""

    def __init__(self) -> None:
        super().__init__()
        self.tracker = OffsetTracker()
        self.position = dict.fromkeys(PARTITIONS, 0)
        self.redeliver: list[tuple[Partition, int, int]] = []  # (partition, first, next) awaiting redelivery
        self.open: list[list[tuple[Partition, int, int]]] = []  # each open transaction's runs
        self.delivered: dict[Partition, set[int]] = {p: set() for p in PARTITIONS}
        self.committed = dict.fromkeys(PARTITIONS, 0)

    def held_starts(self) -> dict[Partition, int]:
        low: dict[Partition, int] = {}
        for partition, first, _ in [*self.redeliver, *(run for tx in self.open for run in tx)]:
            low[partition] = min(first, low.get(partition, first))
        return low

    @rule(partition=st.sampled_from(PARTITIONS), size=st.integers(1, 4), gap=st.integers(0, 2),
          from_redelivery=st.booleans())
    def take(self, partition: Partition, size: int, gap: int, from_redelivery: bool) -> None:
        if from_redelivery and self.redeliver:
            self.open.append([self.redeliver.pop(0)])
            return
        first = self.position[partition] + gap  # a gap: compacted records or transaction markers
        self.position[partition] = first + size
        self.open.append([(partition, first, first + size)])

    @precondition(lambda self: self.open)
    @rule(which=st.integers(0, 10), commit=st.booleans())
    def finish(self, which: int, commit: bool) -> None:
        runs = self.open.pop(which % len(self.open))
        if not commit:
            self.redeliver[:0] = runs
            return
        for partition, first, end in runs:
            self.tracker.deliver_upto(partition, end)
            self.delivered[partition].update(range(first, end))

    @rule(failed=st.booleans())
    def commit_offsets(self, failed: bool) -> None:
        offsets = self.tracker.committable_below(self.held_starts())
        if failed:
            return
        self.tracker.committed(offsets)
        for partition, offset in offsets.items():
            self.committed[partition] = max(self.committed[partition], offset)

    @invariant()
    def no_commit_passes_a_held_record(self) -> None:
        held = self.held_starts()
        for partition, offset in self.tracker.committable_below(held).items():
            assert offset <= held.get(partition, offset)
            assert offset <= max(self.delivered[partition], default=-1) + 1
        for partition, offset in self.committed.items():
            assert offset <= held.get(partition, offset), "a committed offset passed a record not yet delivered"

    @invariant()
    def delivered_records_become_committable_once_nothing_is_held_below(self) -> None:
        held = self.held_starts()
        committable = self.tracker.committable_below(held)
        for partition, offsets in self.delivered.items():
            done = [o for o in offsets if o >= self.committed[partition]]
            if done and partition not in held:
                assert committable[partition] == max(done) + 1


HeldElsewhereModel.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
test_offsets_held_elsewhere = HeldElsewhereModel.TestCase


def test_committable_below_lowers_to_the_first_held_offset_and_leaves_out_excluded_partitions() -> None:
    tracker = OffsetTracker()
    tracker.deliver_upto(("t", 0), 20)
    tracker.deliver_upto(("t", 0), 10)  # an older run delivered later does not move the offset back
    tracker.deliver_upto(("t", 1), 5)
    assert tracker.committable_below({("t", 0): 12}) == {("t", 0): 12, ("t", 1): 5}
    assert tracker.committable_below({("t", 0): 12}, excluding=[("t", 1)]) == {("t", 0): 12}
    tracker.committed({("t", 0): 12, ("t", 1): 5})
    assert tracker.committable() == {("t", 0): 20}  # the records 12..19 stay committable until committed


def test_a_failed_commit_restores_its_offsets_unless_a_newer_one_waits() -> None:
    tracker = OffsetTracker()
    tracker.read_run(("t", 0), 0, 9)
    tracker.read_run(("t", 1), 0, 4)
    tracker.deliver()
    sent = tracker.committable()
    tracker.committed(sent)  # sent asynchronously: forgotten until its answer
    tracker.read_run(("t", 1), 5, 7)
    tracker.deliver()
    for partition, offset in sent.items():  # the answer: the commit failed
        tracker.deliver_upto(partition, offset)
    assert tracker.committable() == {("t", 0): 10, ("t", 1): 8}
