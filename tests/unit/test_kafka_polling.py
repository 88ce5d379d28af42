"""The poll timeout rule: short slices only while records flow to a consumer settled in its group."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from kafka.structs import MemberState, TopicPartition

from flafka.kafka.polling import FLOWING_S, POLL_SLICE_MS, PollPacer


@dataclass
class _Metadata:
    state: Any


@dataclass
class _Coordinator:
    unknown: bool = False
    rejoin: bool = False

    def coordinator_unknown(self) -> bool:
        return self.unknown

    def need_rejoin(self) -> bool:
        return self.rejoin


@dataclass
class FakeConsumer:
    state: Any = MemberState.STABLE
    partitions: set[TopicPartition] = field(default_factory=lambda: {TopicPartition("t", 0)})
    _coordinator: Any = field(default_factory=_Coordinator)

    def group_metadata(self) -> _Metadata:
        return _Metadata(self.state)

    def assignment(self) -> set[TopicPartition]:
        return set(self.partitions)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def flowing(consumer: FakeConsumer) -> tuple[PollPacer, Clock]:
    clock = Clock()
    pacer = PollPacer(consumer, clock=clock)  # type: ignore[arg-type]
    pacer.polled(True)
    return pacer, clock


@pytest.mark.parametrize(("remaining_s", "expected_ms"), [(0.5, POLL_SLICE_MS), (0.0021, 3), (0.0, 1), (-1.0, 1)])
def test_a_settled_consumer_with_records_flowing_polls_in_slices(remaining_s: float, expected_ms: int) -> None:
    pacer, _ = flowing(FakeConsumer())
    assert pacer.timeout_ms(remaining_s) == expected_ms


@pytest.mark.parametrize("consumer", [
    FakeConsumer(state=MemberState.REBALANCING),
    FakeConsumer(state=MemberState.UNJOINED),
    FakeConsumer(partitions=set()),
    FakeConsumer(_coordinator=_Coordinator(unknown=True)),
    FakeConsumer(_coordinator=_Coordinator(rejoin=True)),
    FakeConsumer(_coordinator=None),
], ids=["rebalancing", "unjoined", "no-partitions", "coordinator-unknown", "rejoin-needed", "no-coordinator"])
def test_a_consumer_with_group_work_to_finish_gets_the_whole_wait(consumer: FakeConsumer) -> None:
    pacer, _ = flowing(consumer)
    assert pacer.timeout_ms(0.25) == 250


def test_slices_stop_once_records_stopped_flowing() -> None:
    pacer, clock = flowing(FakeConsumer())
    clock.now += FLOWING_S / 2
    pacer.polled(False)
    assert pacer.timeout_ms(0.1) == POLL_SLICE_MS
    clock.now += FLOWING_S
    assert pacer.timeout_ms(0.1) == 100


def test_a_new_consumer_gets_the_whole_wait_until_records_arrive() -> None:
    pacer = PollPacer(FakeConsumer(), clock=Clock())  # type: ignore[arg-type]
    assert pacer.timeout_ms(0.1) == 100
