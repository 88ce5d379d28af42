"""Flume's generated HBase row keys, with the clock and the randomness as seams for tests.

Two schemes, as in Flume 1.11:

* :class:`SimpleRowKeys` (``SimpleRowKeyGenerator``, used by the simple serializers): the row prefix
  followed by a random UUID (``default1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b``), a random signed 64-bit
  number (``default-4632911728346771723``), the time in milliseconds (``default1732589596123``) or a
  monotonic nanosecond count (``default8631245119872``, Java's ``System.nanoTime()``: an arbitrary
  origin, meaningful only within one process), encoded as UTF-8.
* :class:`RegexRowKeys` (``RegexHbaseEventSerializer.getRowKey``): ``<millis>-<random>-<nonce>``, e.g.
  ``1732589596123-aZ3kP0qLm9-17``, where ``random`` is 10 letters and digits drawn once per process and
  ``nonce`` a counter shared by every regex serializer of the process, so two events written in the same
  millisecond get different rows. Flume keeps both in static fields; :data:`SHARED_REGEX_ROW_KEYS`
  plays that part here. The counter is a Java ``int``: after 2147483647 it goes on at -2147483648, as
  Flume's ``AtomicInteger`` does.
"""

from __future__ import annotations

import itertools
import os
import random
import string
import time
from collections.abc import Callable
from typing import Final

__all__ = ["SHARED_REGEX_ROW_KEYS", "SUFFIXES", "RegexRowKeys", "SimpleRowKeys"]

#: The values of the simple serializers' ``suffix`` key.
SUFFIXES: Final = ("uuid", "random", "timestamp", "nano")
_ALPHANUMERIC = string.ascii_letters + string.digits
_INT_SPAN = 1 << 32


def _millis() -> int:
    return time.time_ns() // 1_000_000


class SimpleRowKeys:
    """Row keys of the simple serializers: ``prefix`` + the ``suffix`` kind (one of :data:`SUFFIXES`)."""

    __slots__ = ("_next",)

    def __init__(
        self,
        prefix: str,
        suffix: str,
        *,
        millis: Callable[[], int] | None = None,
        nanos: Callable[[], int] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        draw = rng if rng is not None else random.SystemRandom()
        head = prefix.encode("utf-8", "replace")
        if suffix == "uuid":  # the default, once per event: kept short (see _uuid4_text)
            if rng is None:
                self._next: Callable[[], bytes] = lambda: head + _uuid4_text(os.urandom(16)).encode()
            else:
                self._next = lambda: head + _uuid4_text(draw.getrandbits(128).to_bytes(16, "big")).encode()
            return
        suffixes: dict[str, Callable[[], object]] = {
            # what each Flume KeyType appends (SimpleRowKeyGenerator.java)
            "random": lambda: _signed64(draw.getrandbits(64)),  # java.util.Random.nextLong()
            "timestamp": millis or _millis,  # System.currentTimeMillis()
            "nano": nanos or time.monotonic_ns,  # System.nanoTime(): CLOCK_MONOTONIC on Linux too
        }
        if suffix not in suffixes:
            raise ValueError(f"unknown row key suffix {suffix!r}: expected one of {', '.join(SUFFIXES)}")
        make = suffixes[suffix]
        self._next = lambda: head + str(make()).encode()

    def __call__(self) -> bytes:
        """A new row key."""
        return self._next()


def _uuid4_text(random_bytes: bytes) -> str:
    """``str(uuid.UUID(bytes=random_bytes, version=4))`` (Java's ``UUID.randomUUID().toString()``) in a third
    of the time: the version nibble set to 4, the variant's two high bits to 10."""
    h = random_bytes.hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _signed64(bits: int) -> int:
    return bits - (1 << 64) if bits >= 1 << 63 else bits


class RegexRowKeys:
    """Row keys of the regex serializers: ``<millis>-<random>-<nonce>``, encoded with the caller's charset."""

    __slots__ = ("_counter", "_millis", "random_part")

    def __init__(self, *, millis: Callable[[], int] | None = None, rng: random.Random | None = None,
                 first_nonce: int = 0) -> None:
        draw = rng if rng is not None else random.SystemRandom()
        #: Drawn once (Flume: ``RandomStringUtils.randomAlphanumeric(10)`` when the class is loaded).
        self.random_part = "".join(draw.choice(_ALPHANUMERIC) for _ in range(10))
        self._millis = millis or _millis
        # next() on itertools.count is atomic under the GIL: sinks on several threads never share a nonce
        self._counter = itertools.count(first_nonce)

    def __call__(self) -> str:
        """A new row key, as text (the serializer encodes it with its ``charset``, as Flume does)."""
        nonce = (next(self._counter) + (1 << 31)) % _INT_SPAN - (1 << 31)  # a Java int's wrap-around
        return f"{self._millis()}-{self.random_part}-{nonce}"


#: The process-wide generator every regex serializer uses unless given its own (Flume's static fields).
SHARED_REGEX_ROW_KEYS: Final = RegexRowKeys()
