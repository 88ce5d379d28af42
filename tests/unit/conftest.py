"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flafka.channels.memory import MemoryChannel
from flafka.testing import memory_channel


@pytest.fixture
def channel() -> Iterator[MemoryChannel]:
    """A started memory channel (capacity 100,000, transactionCapacity 10,000), stopped afterwards."""
    ch = memory_channel()
    try:
        yield ch
    finally:
        ch.stop()
