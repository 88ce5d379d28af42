"""Where each partition's records stand between being read and being committed.

Shared by the Kafka source and the Kafka channel's takes, which follow the same rule: a record's offset
is committed only once the record is safe elsewhere (in the channels, for the source; taken and
committed by a sink, for the channel). Records move through three states:

* **in hand**: read, not yet delivered (the source's batch; an open take transaction);
* **delivered**: safe elsewhere, offset not yet committed (a commit may fail and be retried later);
* **committed**: forgotten here.

Undelivered records are never committable; giving up the records in hand (a refused batch that is
dropped, a rolled-back take, a revoked partition) returns, per partition, the offset to read from again.
Pure bookkeeping: no client, no clock, so that its rules are tested exhaustively without a broker
(tests/unit/test_kafka_offsets.py).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

#: A partition as (topic, partition number); the Kafka client's own type stays at the client's edge.
Partition = tuple[str, int]


class OffsetTracker:
    """Offsets in hand and delivered-but-uncommitted, per partition. Not thread-safe: its owner locks."""

    __slots__ = ("_delivered", "_in_hand")

    def __init__(self) -> None:
        self._in_hand: dict[Partition, list[int]] = {}  # partition -> [first offset read, next offset]
        self._delivered: dict[Partition, int] = {}  # partition -> next offset to commit

    def read(self, partition: Partition, offset: int) -> None:
        """A record at ``offset`` was taken into hand (offsets of one partition arrive in increasing order;
        gaps are normal: compaction, transaction markers)."""
        span = self._in_hand.get(partition)
        if span is None:
            self._in_hand[partition] = [offset, offset + 1]
        else:
            span[1] = offset + 1

    def read_run(self, partition: Partition, first: int, last: int) -> None:
        """Records ``first`` .. ``last`` (inclusive, in order) of one partition were taken into hand."""
        span = self._in_hand.get(partition)
        if span is None:
            self._in_hand[partition] = [first, last + 1]
        else:
            span[1] = last + 1

    @property
    def holding(self) -> bool:
        """Records are in hand."""
        return bool(self._in_hand)

    @property
    def pending(self) -> bool:
        """Delivered records wait for their commit."""
        return bool(self._delivered)

    def in_hand(self) -> dict[Partition, int]:
        """Per partition in hand, the first offset read (where a re-read would start)."""
        return {partition: span[0] for partition, span in self._in_hand.items()}

    def deliver(self) -> None:
        """Everything in hand is safe elsewhere: its offsets become committable."""
        delivered = self._delivered
        for partition, (_, next_offset) in self._in_hand.items():
            if delivered.get(partition, -1) < next_offset:
                delivered[partition] = next_offset
        self._in_hand = {}

    def committable(self, excluding: Collection[Partition] = ()) -> dict[Partition, int]:
        """The offsets to commit now (the next offset to read, per partition), leaving out ``excluding``."""
        return {partition: offset for partition, offset in self._delivered.items() if partition not in excluding}

    def deliver_upto(self, partition: Partition, next_offset: int) -> None:
        """Records of ``partition`` before ``next_offset`` are safe elsewhere: committable up to there.

        For a reader that keeps its records in hand itself, in several holders at once (the Kafka channel: each
        open take transaction, and the rolled-back takes awaiting redelivery); see :meth:`committable_below`."""
        if self._delivered.get(partition, -1) < next_offset:
            self._delivered[partition] = next_offset

    def committable_below(self, held: Mapping[Partition, int],
                          excluding: Collection[Partition] = ()) -> dict[Partition, int]:
        """:meth:`committable`, each partition's offset lowered to ``held[partition]``: the first offset of its
        records still held elsewhere (undelivered). Committing past it would lose those records if this reader
        stopped before delivering them."""
        return {partition: min(offset, held.get(partition, offset)) for partition, offset in self._delivered.items()
                if partition not in excluding}

    def committed(self, offsets: Mapping[Partition, int]) -> None:
        """These offsets are committed; a partition delivered further since keeps its newer offset."""
        for partition, offset in offsets.items():
            if self._delivered.get(partition, offset + 1) <= offset:
                del self._delivered[partition]

    def give_up(self, partitions: Iterable[Partition] | None = None) -> dict[Partition, int]:
        """Forget the records in hand of ``partitions`` (all when None), undelivered: returns, per partition,
        the offset to read from again. Their delivered offsets stay committable."""
        chosen = list(self._in_hand) if partitions is None else [p for p in partitions if p in self._in_hand]
        return {partition: self._in_hand.pop(partition)[0] for partition in chosen}

    def forget(self, partitions: Iterable[Partition]) -> dict[Partition, int]:
        """The partitions are no longer this reader's (revoked, lost): forget them entirely. Returns the offsets
        that were delivered but not committed (their new owner delivers those records again)."""
        lost: dict[Partition, int] = {}
        for partition in partitions:
            self._in_hand.pop(partition, None)
            offset = self._delivered.pop(partition, None)
            if offset is not None:
                lost[partition] = offset
        return lost
