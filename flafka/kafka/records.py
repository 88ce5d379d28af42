"""The rules a Kafka record and a Flume event share, in one place for the source, the channel and the sink.

* **Keys** are bytes in Kafka and the ``key`` header (a string) in Flume. A key that is not UTF-8 is kept
  byte for byte: its undecodable bytes become lone surrogates (Python's ``surrogateescape``) on the way in
  and the same bytes on the way out, so Kafka -> Kafka never rewrites a key (Flume turns them into U+FFFD).
* **Partition headers** (``partitionIdHeader``) are read as Java's ``Integer.parseInt`` reads them (ASCII
  digits, an optional sign), and name a partition only from 0 to 2^31-1.
* **Record timestamps**: a record without one (type "not available", or negative) has none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message

INT32_MAX = 2**31 - 1
_TOPIC_CHARS = re.compile(r"[a-zA-Z0-9._-]+")
_TOPIC_MAX = 249
_JAVA_INT = re.compile(r"[+-]?[0-9]+")


def key_header(key: bytes) -> str:
    """A record key as the ``key`` header: UTF-8, undecodable bytes kept as lone surrogates."""
    return key.decode("utf-8", "surrogateescape")


def key_bytes(header: str) -> bytes:
    """The ``key`` header as a record key: the bytes :func:`key_header` read (UTF-8 for any other string).

    Raises UnicodeEncodeError for a lone surrogate that does not stand for a byte (the event is bad data)."""
    return header.encode("utf-8", "surrogateescape")


def partition_number(text: str) -> int | None:
    """The partition a header value names (Java ``Integer.parseInt``, 0 to 2^31-1); None when it names none."""
    if not _JAVA_INT.fullmatch(text):
        return None
    value = int(text)
    return value if 0 <= value <= INT32_MAX else None


def event_partition(headers: Mapping[str, str], header: str | None, default: int) -> int | None:
    """The partition of an event's record: the ``header``'s value when the event has that header, else
    ``default`` (-1: the producer's partitioner chooses); None when the value names no partition."""
    if header is not None:
        raw = headers.get(header)
        if raw is not None:
            return partition_number(raw)
    return default


def record_timestamp(timestamp: tuple[int, int]) -> int | None:
    """A confluent-kafka ``Message.timestamp()`` as epoch ms, None when the record has none."""
    kind, value = timestamp
    return None if kind == TIMESTAMP_NOT_AVAILABLE or value < 0 else value


def record_headers(message: Message) -> list[tuple[str, bytes | None]]:
    """A consumed record's headers as (name, value) pairs (confluent-kafka's type also allows a dict and str
    values, which only a record being produced can have)."""
    found = message.headers()
    if not found:
        return []
    pairs = found.items() if isinstance(found, dict) else found
    return [(name, value.encode() if isinstance(value, str) else value) for name, value in pairs]


def topic_problem(topic: str) -> str | None:
    """Why ``topic`` is not a legal Kafka topic name, or None when it is."""
    if not topic:
        return "is empty"
    if topic in (".", ".."):
        return "may not be '.' or '..'"
    if len(topic) > _TOPIC_MAX:
        return f"is longer than {_TOPIC_MAX} characters"
    if not _TOPIC_CHARS.fullmatch(topic):
        return "may only contain letters, digits, '.', '_' and '-'"
    return None
