"""The Kafka source's dead-letter topic: bad records produced as read, each acknowledged once.

A letter is sent again only after its last send failed for a transient reason: one still awaiting its
answer is waited for, never sent twice (librdkafka retries it by itself, idempotently, until
``message.timeout.ms``). A record the producer or the broker refuses as a record (too large, say) is
*refused*: the source counts and drops it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from flafka.kafka.records import record_headers

ERROR_HEADER = "flafka.error"
#: How long one ``send`` waits for answers: a broker that is down holds one process() call (the source's
#: lock, which stop() needs) for seconds; the runner backs off between calls.
FLUSH_S = 5.0


class LetterState(enum.Enum):
    NEW = "new"  # not sent, or its last send failed for a transient reason
    SENT = "sent"  # awaiting the broker's answer
    DONE = "done"  # acknowledged
    REFUSED = "refused"  # refused as a record: never deliverable


@dataclass(slots=True)
class DeadLetter:
    """A bad record waiting for the dead-letter topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    reason: str
    state: LetterState = LetterState.NEW
    error: KafkaError | None = None  # why the last send failed (transient) or was refused

    @classmethod
    def of(cls, message: Message, reason: str) -> DeadLetter:
        return cls(message.topic() or "", message.partition() or 0, message.offset() or 0, message.key(),
                   message.value(), record_headers(message), reason)

    @property
    def partition_key(self) -> tuple[str, int]:
        return self.topic, self.partition


class DeadLetterTopic:
    """Sends dead letters to one topic with a producer of its own (acks=all, idempotent)."""

    def __init__(self, topic: str, producer: Producer) -> None:
        self.topic = topic
        self._producer = producer

    def send(self, letters: list[DeadLetter]) -> KafkaError | None:
        """Send the letters not sent yet (or whose last send failed transiently) and wait up to FLUSH_S for
        answers; each letter's state says where it stands. Returns the last transient failure seen."""
        transient: KafkaError | None = None
        producer = self._producer
        for letter in letters:
            if letter.state is not LetterState.NEW:
                continue
            headers: list[tuple[str, str | bytes | None]] = [*letter.headers, (ERROR_HEADER, letter.reason.encode())]

            def on_delivery(error: KafkaError | None, _message: Message, letter: DeadLetter = letter) -> None:
                if error is None:
                    letter.state = LetterState.DONE
                elif error.retriable() or error.code() in _TRANSIENT:
                    letter.state, letter.error = LetterState.NEW, error
                else:
                    letter.state, letter.error = LetterState.REFUSED, error

            try:
                # A tombstone without a key: producers refuse a record with neither, so its value is empty.
                producer.produce(self.topic, b"" if letter.value is None else letter.value, letter.key,
                                 headers=headers, on_delivery=on_delivery)
            except BufferError:
                break  # the producer's queue is full: the rest go next time
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                letter.state, letter.error = LetterState.REFUSED, error
                continue
            letter.state = LetterState.SENT
        producer.flush(FLUSH_S)
        for letter in letters:
            if letter.state is LetterState.NEW and letter.error is not None:
                transient = letter.error
        return transient

    def close(self, timeout: float = FLUSH_S) -> int:
        """Wait for answers still due; the number of letters left unanswered."""
        remaining: int = self._producer.flush(timeout)
        return remaining


# librdkafka reports a delivery that ran out of time or brokers as not retriable (it already retried): for the
# source they are transient, the letter is sent again later.
_TRANSIENT: frozenset[Any] = frozenset({
    KafkaError._MSG_TIMED_OUT, KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN,
    KafkaError.NOT_ENOUGH_REPLICAS, KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND, KafkaError.REQUEST_TIMED_OUT,
    KafkaError.LEADER_NOT_AVAILABLE, KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.UNKNOWN_TOPIC_OR_PART,
})
