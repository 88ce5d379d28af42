"""Card transactions at a steady rate, as the 2014 demo's ``gen_transactions.py`` made them (minus its pace:
it sent one at a time, synchronously, as fast as the broker answered).

Each record is ``txn id|card|YYYY-MM-DD HH:MM:SS|amount|store id`` (~83 bytes): a uuid1, one of the seeded
customers' cards, the local time now, ``|gauss(40, 40)|`` rounded to cents, a store in 1..2050. The record
key is the card number, so one customer's transactions share a partition and stay in order (what the
interceptor's per-customer state needs). Every ``unscorable_every``-th record is one the interceptor must
refuse (in turn: an unknown card, an unknown store, a record that is not a transaction), to show where those go.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flafka.examples.fraud.records import TIME_FORMAT
from flafka.examples.fraud.seed_data import customers

__all__ = ["UNKNOWN_CARD", "UNKNOWN_STORE", "Sent", "TransactionMaker", "send_steadily"]

UNKNOWN_CARD = "4000000000000002"
UNKNOWN_STORE = 99999


class TransactionMaker:
    def __init__(self, seed: int | None = None, unscorable_every: int = 0) -> None:
        self._rng = random.Random(seed)
        self._cards = [c.card for c in customers()]
        self._every = unscorable_every
        self._made = 0

    def next(self) -> tuple[str, bytes, bytes]:
        """(transaction id, record key, record value)."""
        rng = self._rng
        self._made += 1
        txn_id = str(uuid.uuid1())
        card = rng.choice(self._cards)
        store = rng.randint(1, 2050)
        amount = round(abs(rng.gauss(40, 40)), 2)
        when = datetime.now().strftime(TIME_FORMAT)
        if self._every and self._made % self._every == 0:
            kind = (self._made // self._every) % 3
            if kind == 0:
                card = UNKNOWN_CARD
            elif kind == 1:
                store = UNKNOWN_STORE
            else:
                return txn_id, card.encode(), f"{txn_id}|{card}|not a time|{amount}".encode()
        return txn_id, card.encode(), f"{txn_id}|{card}|{when}|{amount}|{store}".encode()


class Sent:
    """What :func:`send_steadily` sent: the ids in order, and how many the broker acknowledged."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.acked = 0
        self.failed: list[str] = []


def send_steadily(producer: Any, topic: str, count: int, rate: float, maker: TransactionMaker, *,
                  progress: Callable[[Sent], None] | None = None, progress_every_s: float = 5.0) -> Sent:
    """Produce ``count`` transactions at ``rate`` per second on a fixed schedule (record i is due at i/rate s),
    then wait for every acknowledgement. ``producer`` is a ``confluent_kafka.Producer``."""
    sent = Sent()

    def acked(error: Any, _message: Any) -> None:
        if error is None:
            sent.acked += 1
        else:
            sent.failed.append(str(error))

    start = time.monotonic()
    next_progress = start + progress_every_s
    while len(sent.ids) < count:
        now = time.monotonic()
        due = min(count, int((now - start) * rate) + 1)
        while len(sent.ids) < due:
            txn_id, key, value = maker.next()
            while True:
                try:
                    producer.produce(topic, value, key, on_delivery=acked)
                    break
                except BufferError:  # the local queue is full: let the broker catch up
                    producer.poll(0.05)
            sent.ids.append(txn_id)
        producer.poll(0)
        if progress is not None and now >= next_progress:
            progress(sent)
            next_progress += progress_every_s
        if len(sent.ids) < count:  # wake every few ms, not once per record: the rate is kept, the CPU spared
            time.sleep(max(0.002, min(0.005, start + len(sent.ids) / rate - time.monotonic())))
    remaining = producer.flush(60)
    if remaining:
        sent.failed.append(f"{remaining} records unacknowledged after 60 s")
    return sent
