"""The row cache of a lookup table: bounded LRU, a time-to-live per entry, negative entries for absent rows.

An entry is a row's cells, or ``None`` for a row HBase does not have (a negative entry, same TTL, so an
unknown key does not cost a round trip per batch). Entries expire ``ttl_s`` seconds after they were
fetched, by a monotonic clock (injectable for tests); the least recently used entry goes when the cache
is full; ``size`` 0 disables it. Thread-safe: one lock, held only for dictionary work, never during a
Thrift call. Cells go in and come out as copies: no caller holds a view of what the cache keeps.

A fetch can race a write: a row fetched before a :meth:`RowCache.merge` or :meth:`RowCache.invalidate`
would put back what the write replaced. Every write and invalidation bumps an epoch; :meth:`RowCache.store`
is given the epoch read before the fetch and stores nothing when it moved on (the rows are returned to the
caller all the same; the next lookup fetches them again).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping

__all__ = ["Cells", "RowCache"]

Cells = dict[bytes, bytes]


class RowCache:
    """See the module docstring."""

    def __init__(self, size: int, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if size < 0:
            raise ValueError(f"cache size must be at least 0, got {size}")
        if not ttl_s > 0:
            raise ValueError(f"cache TTL must be above 0 seconds, got {ttl_s}")
        self.size, self.ttl_s = size, ttl_s
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[float, Cells | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._epoch = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def epoch(self) -> int:
        """Read before a fetch, passed to :meth:`store` after it."""
        with self._lock:
            return self._epoch

    def lookup(self, keys: Iterable[bytes]) -> tuple[dict[bytes, Cells | None], list[bytes]]:
        """``(found, missing)``: fresh entries (a copy of the cells, or None for a row known absent) and the
        keys to fetch, in the order given. Expired entries are dropped."""
        found: dict[bytes, Cells | None] = {}
        missing: list[bytes] = []
        if self.size == 0:
            return found, list(keys)
        with self._lock:
            now = self._clock()
            entries = self._entries
            for key in keys:
                entry = entries.get(key)
                if entry is None:
                    missing.append(key)
                elif entry[0] <= now:
                    del entries[key]
                    missing.append(key)
                else:
                    entries.move_to_end(key)
                    cells = entry[1]
                    found[key] = None if cells is None else dict(cells)
        return found, missing

    def store(self, rows: Mapping[bytes, Cells | None], epoch: int) -> bool:
        """Cache fetched ``rows`` (None: absent) unless a write or invalidation happened since ``epoch``;
        True when stored."""
        if self.size == 0:
            return False
        with self._lock:
            if epoch != self._epoch:
                return False
            expires = self._clock() + self.ttl_s
            entries = self._entries
            for key, cells in rows.items():
                entries[key] = (expires, None if cells is None else dict(cells))
                entries.move_to_end(key)
            while len(entries) > self.size:
                entries.popitem(last=False)
        return True

    def merge(self, rows: Mapping[bytes, Mapping[bytes, bytes]]) -> None:
        """Write-through: the cells written to ``rows`` go into those rows' entries, if cached (a negative entry
        becomes a row with these cells). Rows not cached stay uncached (their other cells are unknown);
        entries keep their expiry (their other cells are as old as before)."""
        with self._lock:
            self._epoch += 1
            if self.size == 0:
                return
            entries = self._entries
            for key, cells in rows.items():
                entry = entries.get(key)
                if entry is None:
                    continue
                merged = dict(entry[1]) if entry[1] is not None else {}
                merged.update(cells)
                entries[key] = (entry[0], merged)

    def invalidate(self, keys: Iterable[bytes] | None = None) -> None:
        """Drop the entries of ``keys``, or every entry."""
        with self._lock:
            self._epoch += 1
            if keys is None:
                self._entries.clear()
                return
            for key in keys:
                self._entries.pop(key, None)
