"""HBase lookups for interceptors, through HBase's Thrift1 server (happybase), with a row cache.

An interceptor that enriches events from an HBase table, one Thrift round trip per batch at most::

    from dataclasses import dataclass

    from flafka.config.params import param
    from flafka.event import Event
    from flafka.hbase import HBaseLookupConfig, RowLookup
    from flafka.interceptors.base import Interceptor

    @dataclass(frozen=True, kw_only=True)
    class CustomerConfig(HBaseLookupConfig):       # thriftAddress, timeout, poolSize, cacheSize, ...
        table: str = param("table", default="customer", doc="One row per customer id.")

    class CustomerInterceptor(Interceptor):
        config_class = CustomerConfig
        config: CustomerConfig

        def initialize(self) -> None:
            self._lookup = self.config.open_lookup()        # the agent's pool for thriftAddress
            self._customers: RowLookup = self._lookup.table(
                self.config.table, columns=[b"c"],
                cache_size=self.config.cache_size, cache_ttl_s=self.config.cache_ttl_seconds)
            self._customers.check()                          # table, family, enabled: else HBaseLookupError

        def intercept_batch(self, events: list[Event]) -> list[Event]:
            ids = [e.headers.get("customer", "").encode() for e in events]
            rows = self._customers.get_many(ids)             # cache first, all misses in one Thrift call
            for event, key in zip(events, ids):
                cells = rows.get(key)
                if cells is not None:
                    event.headers["customerName"] = cells.get(b"c:name", b"").decode()
            return events

        def close(self) -> None:
            self._lookup.close()

Test it without HBase with :class:`flafka.testing.InMemoryHBase` (same ``table()``, same :class:`RowLookup`).

Errors and retries. Every failure is translated at this boundary: no thriftpy2 exception or ``OSError``
leaves these classes (the cause is chained). The channel processor retries the whole batch, with back-off,
on a retriable error, and sets the events aside as bad events on any other:

======================================================  ============================  ==========
What happened                                           Raised                        retriable
======================================================  ============================  ==========
connection refused, reset, socket timeout (``OSError``)  :class:`HBaseUnavailable`     yes
thriftpy2 transport/protocol error (``TException``)      :class:`HBaseUnavailable`     yes
no free pooled connection within ``timeout_ms``          :class:`HBaseUnavailable`     yes
HBase ``IOError`` naming ``TableNotFoundException``,     :class:`HBaseLookupError`     no
``NoSuchColumnFamilyException`` or
``TableNotEnabledException``
any other HBase ``IOError`` (region moving, not          :class:`HBaseUnavailable`     yes
serving, retries exhausted, server busy)
HBase ``IllegalArgument``                                :class:`HBaseLookupError`     no
:meth:`LookupTable.check` finding no table, no family,   :class:`HBaseLookupError`     no
or a disabled table
a call on a closed lookup                                :class:`HBaseLookupError`     no
======================================================  ============================  ==========

Messages name the Thrift address, the table, the operation, the number of rows and the cause; the errors
carry them as ``address``, ``table``, ``operation`` and ``rows``. :class:`HBaseUnavailable` is a
:class:`~flafka.errors.TransientError`; :class:`HBaseLookupError` a :class:`~flafka.errors.FlafkaError`.

The cache (per table): bounded LRU (``cache_size`` rows, 0 disables it), each entry fresh for
``cache_ttl_s`` seconds after it was fetched; rows HBase does not have are cached as absent too.
``put_many`` writes through: rows in the cache get the written cells. Rows returned are fresh ``dict``
copies: changing them changes nothing cached. A connection whose call raised is discarded; the next call
opens a new one.
"""

from __future__ import annotations

from flafka.hbase.config import HBaseLookupConfig
from flafka.hbase.errors import HBaseLookupError, HBaseUnavailable
from flafka.hbase.lookup import HBaseLookup, LookupStats, LookupTable, RowLookup, shared_lookup

__all__ = [
    "HBaseLookup",
    "HBaseLookupConfig",
    "HBaseLookupError",
    "HBaseUnavailable",
    "LookupStats",
    "LookupTable",
    "RowLookup",
    "shared_lookup",
]
