"""The agent's metrics registry: every component's counter, keyed as in Flume's monitoring document.

Keys are ``TYPE.name``: ``SOURCE.r1``, ``CHANNEL.c1``, ``SINK.k1`` (Flume's three), and flafka's
``INTERCEPTOR.r1.i1`` (interceptor ``i1`` of source ``r1``), ``SELECTOR.r1`` and ``SINK_PROCESSOR.g1``.
The agent registers a component's counters when it builds the component and unregisters them when a
reload removes or replaces it; the runners start a counter (zeroed, ``StartTime`` set) just before its
component's first start attempt and stop it once the component stopped. Unlike Flume, whose components reset
their counters at every start, a start that fails and is retried keeps its counts (its failures add up).
Exporters read :meth:`snapshot`.

Unlike Flume, whose MBeans are never unregistered (a component removed by a reload stays in its document
with a non-zero ``StopTime``), a removed component leaves the document at once; its totals are logged at
its stop. After the agent itself stopped, the last counters stay readable (with their ``StopTime``).
"""

from __future__ import annotations

import threading
from collections.abc import Collection

from flafka.monitoring.counters import Counter

#: The component types of Flume's own document (reference §4); ``/metrics`` shows only these.
FLUME_TYPES = ("SOURCE", "CHANNEL", "SINK")


class MetricsRegistry:
    """Counters by key, in registration order (the configuration's order). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, Counter] = {}

    def register(self, key: str, counter: Counter) -> None:
        """Add ``counter`` under ``key``, replacing a previous counter of that key (a rebuilt component)."""
        with self._lock:
            self._counters.pop(key, None)  # a replacement moves to the end, after what it was built after
            self._counters[key] = counter

    def unregister(self, key: str, counter: Counter) -> None:
        """Remove ``key`` if ``counter`` is still what it holds (a replacement registered since stays)."""
        with self._lock:
            if self._counters.get(key) is counter:
                del self._counters[key]

    def get(self, key: str) -> Counter | None:
        return self._counters.get(key)

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._counters)

    def snapshot(self, types: Collection[str] | None = None) -> dict[str, dict[str, str]]:
        """Each counter's Flume-style snapshot, for ``types`` (``"SOURCE"``, ...) or all of them."""
        with self._lock:
            counters = list(self._counters.items())
        return {key: counter.snapshot() for key, counter in counters
                if types is None or key.partition(".")[0] in types}
