"""The parameters of an HBase lookup, for the configuration class of an interceptor that uses one.

::

    @dataclass(frozen=True, kw_only=True)
    class CustomerConfig(HBaseLookupConfig):
        table: str = param("table", default="customer", doc="Table holding one row per customer id.")

The Thrift transport and protocol are declared as the HBase sink declares them (same keys, choices and
docs: :class:`~flafka.sinks.hbase.config.HBaseSinkConfig`'s declarations are reused, not copied). A
subclass overriding :meth:`HBaseLookupConfig.check` should include ``super().check()``'s problems.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flafka.config.params import ComponentConfig, param
from flafka.hbase.lookup import HBaseLookup, shared_lookup
from flafka.sinks.hbase.config import DEFAULT_THRIFT_ADDRESS, HBaseSinkConfig, parse_address

__all__ = ["HBaseLookupConfig"]


def _address(text: str) -> str:
    parse_address(text)
    return text.strip()


def _as_in_sink(key: str) -> Any:
    """The HBase sink's declaration of ``key`` (its default, choices and doc), for a field here."""
    spec = next(s for s in HBaseSinkConfig.params() if s.key == key)
    return param(key, default=spec.default, choices=spec.choices, doc=spec.doc)


@dataclass(frozen=True, kw_only=True)
class HBaseLookupConfig(ComponentConfig):
    """Where the HBase Thrift1 server is, the connection pool, and the row cache of one lookup table."""

    thrift_address: str = param("thriftAddress", default=DEFAULT_THRIFT_ADDRESS, parse=_address,
                                doc="`host:port` of HBase's Thrift1 server (`hbase thrift start`). Interceptors "
                                    "of an agent naming the same address (and transport and protocol) share "
                                    "one connection pool.")
    thrift_transport: str = _as_in_sink("thriftTransport")
    thrift_protocol: str = _as_in_sink("thriftProtocol")
    timeout_ms: int = param("timeout", default=5000, minimum=1,
                            doc="Milliseconds a lookup may take (connecting, waiting for a free connection, or "
                                "the Thrift call) before it fails with HBaseUnavailable and the batch is retried.")
    pool_size: int = param("poolSize", default=4, minimum=1,
                           doc="Most Thrift connections open at once to `thriftAddress` (the first interceptor "
                               "to open the shared pool decides).")
    cache_size: int = param("cacheSize", default=10000, minimum=0,
                            doc="Most rows kept in the lookup cache (least recently used go first), absent rows "
                                "included; 0 disables the cache.")
    cache_ttl_seconds: float = param("cacheTtlSeconds", default=60.0,
                               doc="Seconds a cached row (or a row known to be absent) is served without asking "
                                   "HBase again; a change made in HBase by others is seen this late at most.")

    def check(self) -> Iterable[tuple[str | None, str]]:
        problems = list(super().check())
        if not self.cache_ttl_seconds > 0:
            problems.append(("cacheTtlSeconds", f"must be above 0, got {self.cache_ttl_seconds:g}"))
        return problems

    def open_lookup(self) -> HBaseLookup:
        """A handle on the agent's shared pool for ``thriftAddress``: close it (``close()``) when done."""
        return shared_lookup(self.thrift_address, pool_size=self.pool_size, timeout_ms=self.timeout_ms,
                             transport=self.thrift_transport, protocol=self.thrift_protocol)
