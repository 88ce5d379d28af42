"""SinkRunner's idle handling, with a processor scripted call by call."""

from __future__ import annotations

import threading

from flafka.channels.memory import MemoryChannel
from flafka.event import Event
from flafka.runtime.runners import SinkRunner
from flafka.runtime.sink_processors import SinkProcessor
from flafka.sources.base import Status
from flafka.testing import memory_channel


class CommitAfterEmptyTake(SinkProcessor):
    """First call: finds the channel empty, and a source commits right after (the race). Then takes."""

    def __init__(self, channel: MemoryChannel) -> None:
        super().__init__("g1", None)
        self.channel = channel
        self.calls = 0
        self.taken: list[bytes] = []
        self.done = threading.Event()

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def process(self) -> Status:
        self.calls += 1
        with self.channel.transaction() as tx:
            events = tx.take_batch(100, 0.0)
        if self.calls == 1:
            assert not events
            with self.channel.transaction() as tx:
                tx.put_batch([Event(b"late")])
            return Status.BACKOFF
        self.taken.extend(e.body for e in events)
        self.done.set()
        return Status.READY if events else Status.BACKOFF


def test_events_committed_just_after_an_empty_take_are_taken_without_a_back_off() -> None:
    channel = memory_channel("c1")
    processor = CommitAfterEmptyTake(channel)
    runner = SinkRunner("g1", processor, [channel])
    back_offs: list[float] = []
    real_wait = runner._stopping.wait

    def recording_wait(timeout: float | None = None) -> bool:
        back_offs.append(timeout if timeout is not None else -1.0)
        return real_wait(timeout)

    runner._stopping.wait = recording_wait  # type: ignore[method-assign]
    runner.start()
    try:
        assert processor.done.wait(10), "the late event was never taken"
    finally:
        runner.stop(5)
    assert processor.taken == [b"late"]
    assert processor.calls >= 2
    assert back_offs == [], f"the runner backed off {back_offs} with the event waiting"
