"""Concurrent producers and consumers through one channel: the stress run both channel tests share."""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flafka.channels.base import Channel, TxState
from flafka.errors import ChannelFullError
from flafka.event import Event


class _Worker(threading.Thread):
    """Runs ``target``; on an exception keeps it for the test thread and sets ``stop`` for the others."""

    def __init__(self, target: Callable[[], None], name: str, stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self._fn = target
        self._stop_all = stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._fn()
        except BaseException as exc:  # handed to the test thread, which fails on it
            self.error = exc
            self._stop_all.set()


@dataclass
class StressResult:
    numbers: list[int]  # every committed take, as the numbers the producers put, sorted
    rollbacks: int  # take transactions the consumers rolled back on purpose


def stress(channel: Channel, total: int, producers: int, consumers: int, deadline_s: float = 120.0) -> StressResult:
    """Move numbers 0..total-1 through a started ``channel``: random batch sizes, 10% of takes rolled back,
    full-channel puts retried. The caller stops the channel."""
    stop = threading.Event()
    lock = threading.Lock()
    delivered: list[list[bytes]] = [[] for _ in range(consumers)]
    delivered_total = [0]
    rollbacks = [0]

    def producer(p: int) -> None:
        rng = random.Random(1000 + p)
        numbers = range(p, total, producers)
        i = 0
        while i < len(numbers) and not stop.is_set():
            batch = [Event(b"%d" % k) for k in numbers[i : i + rng.randint(1, 100)]]
            tx = channel.transaction()
            try:
                tx.put_batch(batch)
                tx.commit()
            except ChannelFullError:  # a short keep-alive makes this path run a few times a run
                tx.rollback()
                continue  # the same numbers again: nothing of this batch was stored
            finally:
                tx.close()
            i += len(batch)

    def consumer(c: int) -> None:
        rng = random.Random(2000 + c)
        mine = delivered[c]
        while not stop.is_set():
            with lock:
                if delivered_total[0] >= total:
                    return
            tx = channel.transaction()
            try:
                batch = tx.take_batch(rng.randint(1, 100), 0.05)
                if batch and rng.random() < 0.1:
                    tx.rollback()
                    with lock:
                        rollbacks[0] += 1
                    continue
                tx.commit()
            finally:
                if tx.state is TxState.OPEN:
                    tx.rollback()
                tx.close()
            mine.extend(e.body for e in batch)
            with lock:
                delivered_total[0] += len(batch)

    workers = [_Worker(functools.partial(producer, p), f"producer-{p}", stop) for p in range(producers)]
    workers += [_Worker(functools.partial(consumer, c), f"consumer-{c}", stop) for c in range(consumers)]
    deadline = time.monotonic() + deadline_s
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            assert not worker.is_alive(), f"{worker.name} did not finish within {deadline_s}s"
    finally:
        stop.set()
        channel.wakeup()
        for worker in workers:
            worker.join(5.0)
    for worker in workers:
        assert worker.error is None, f"{worker.name} failed: {worker.error!r}"
    return StressResult(sorted(int(body) for part in delivered for body in part), rollbacks[0])
