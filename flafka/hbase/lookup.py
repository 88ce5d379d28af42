"""HBase lookups: a connection pool per Thrift server (:class:`HBaseLookup`), a cached table on it
(:class:`LookupTable`), the interface both it and :class:`flafka.testing.InMemoryHBase`'s tables have
(:class:`RowLookup`), and one pool per agent (:func:`shared_lookup`). See :mod:`flafka.hbase`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from flafka.hbase.cache import Cells, RowCache
from flafka.hbase.errors import CALL_ERRORS, HBaseLookupError, HBaseUnavailable, translate
from flafka.hbase.pool import ConnectionFactory, ConnectionPool, PoolClosed, PoolExhausted
from flafka.sinks.hbase.config import parse_address

__all__ = ["HBaseLookup", "LookupStats", "LookupTable", "RowLookup", "shared_lookup"]

log = logging.getLogger(__name__)

T = TypeVar("T")
TRANSPORTS = ("buffered", "framed")
PROTOCOLS = ("binary", "compact")


@dataclass(frozen=True)
class LookupStats:
    """Counters of one table since it was opened (a snapshot)."""

    hits: int = 0  #: rows served from the cache (a negative entry counts)
    misses: int = 0  #: rows that had to be fetched
    calls: int = 0  #: Thrift round trips attempted (get_many: at most one; check: up to three)
    errors: int = 0  #: operations that failed (raised HBaseUnavailable or HBaseLookupError)


@runtime_checkable
class RowLookup(Protocol):
    """What an interceptor needs of a lookup table; :class:`LookupTable` and the tables of
    :class:`flafka.testing.InMemoryHBase` have it. Rows are ``{b"family:qualifier": value}`` dicts, fresh
    copies the caller may change."""

    @property
    def stats(self) -> LookupStats: ...

    def check(self) -> None: ...

    def get_many(self, rows: Iterable[bytes]) -> dict[bytes, Cells]: ...

    def get(self, row: bytes) -> Cells | None: ...

    def put_many(self, rows: Mapping[bytes, Mapping[bytes, bytes]], *, wal: bool = True) -> None: ...

    def invalidate(self, rows: Iterable[bytes] | None = None) -> None: ...


def _family(column: bytes) -> bytes:
    return column.split(b":", 1)[0]


class _Backend:
    """The pool and settings that the :class:`HBaseLookup` handles of one address share."""

    def __init__(self, address: str, *, pool_size: int, timeout_ms: int, transport: str, protocol: str,
                 connection_factory: ConnectionFactory | None) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}")
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
        host, port = parse_address(address)
        self.address = address.strip()
        self.pool = ConnectionPool(host, port, size=pool_size, timeout_ms=timeout_ms, transport=transport,
                                   protocol=protocol, connection_factory=connection_factory)
        self.key = (self.address, transport, protocol)
        self.refs = 0


class HBaseLookup:
    """Connections to one HBase Thrift1 server; :meth:`table` opens a cached table on them.

    ``connection_factory`` is a seam for tests (default ``happybase.Connection``). A lookup made directly owns
    its pool; one from :func:`shared_lookup` shares it. :meth:`close` is idempotent.
    """

    def __init__(self, address: str, *, pool_size: int = 4, timeout_ms: int = 5000, transport: str = "buffered",
                 protocol: str = "binary", connection_factory: ConnectionFactory | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._backend = _Backend(address, pool_size=pool_size, timeout_ms=timeout_ms, transport=transport,
                                 protocol=protocol, connection_factory=connection_factory)
        self._backend.refs = 1
        self._clock = clock
        self._closed = False

    @classmethod
    def _on(cls, backend: _Backend, clock: Callable[[], float]) -> HBaseLookup:
        """Another handle on ``backend`` (the caller counted the reference)."""
        lookup = cls.__new__(cls)
        lookup._backend, lookup._clock, lookup._closed = backend, clock, False
        return lookup

    @property
    def address(self) -> str:
        return self._backend.address

    @property
    def pool(self) -> ConnectionPool:
        return self._backend.pool

    @property
    def closed(self) -> bool:
        return self._closed or self._backend.pool.closed

    def table(self, name: str, columns: Sequence[bytes] | None = None, *, cache_size: int = 10_000,
              cache_ttl_s: float = 60.0) -> LookupTable:
        """A table to look rows up in; ``columns`` are families (``b"c"``) or columns (``b"c:cn"``), None: whole
        rows. Each call makes a table with its own cache."""
        return LookupTable(self, name, columns, cache=RowCache(cache_size, cache_ttl_s, self._clock))

    def close(self) -> None:
        """Release this handle; the pool closes with the last handle on it."""
        if self._closed:
            return
        self._closed = True
        _release(self._backend)

    def __enter__(self) -> HBaseLookup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HBaseLookup({self.address!r}{', closed' if self.closed else ''})"


class LookupTable:
    """A table of an :class:`HBaseLookup`, with a row cache (see :mod:`flafka.hbase`). Thread-safe."""

    def __init__(self, lookup: HBaseLookup, name: str, columns: Sequence[bytes] | None, *, cache: RowCache) -> None:
        if not name.strip():
            raise ValueError("table name must not be empty")
        if columns is not None and (isinstance(columns, bytes | str) or not all(isinstance(c, bytes)
                                                                                   for c in columns)):
            raise TypeError(f"columns must be a list of bytes (families or family:qualifier), got {columns!r}")
        self.name = name
        self.columns = list(columns) if columns is not None else None
        self._lookup = lookup
        self._table = name.encode()
        self._cache = cache
        self._families = {c for c in self.columns if b":" not in c} if self.columns is not None else set()
        self._exact = {c for c in self.columns if b":" in c} if self.columns is not None else set()
        self._counts_lock = threading.Lock()
        self._hits = self._misses = self._calls = self._errors = 0

    @property
    def stats(self) -> LookupStats:
        with self._counts_lock:
            return LookupStats(self._hits, self._misses, self._calls, self._errors)

    def _count(self, *, hits: int = 0, misses: int = 0, calls: int = 0, errors: int = 0) -> None:
        with self._counts_lock:
            self._hits += hits
            self._misses += misses
            self._calls += calls
            self._errors += errors

    # -- operations -----------------------------------------------------------------------------------

    def get_many(self, rows: Iterable[bytes]) -> dict[bytes, Cells]:
        """The cells of ``rows`` (de-duplicated) that HBase has; absent rows are absent from the result. Fresh
        cache entries are served; all the others are fetched in one Thrift call (none when all are cached)."""
        keys = list(dict.fromkeys(rows))
        found, missing = self._cache.lookup(keys)
        self._count(hits=len(found), misses=len(missing))
        out = {key: cells for key, cells in found.items() if cells is not None}
        if not missing:
            return out
        epoch = self._cache.epoch
        columns = self.columns

        def fetch(connection: Any) -> list[tuple[bytes, Cells]]:
            result: list[tuple[bytes, Cells]] = connection.table(self._table).rows(missing, columns=columns)
            return result

        fetched = dict(self._call("get_many", len(missing), fetch))
        self._cache.store({key: fetched.get(key) for key in missing}, epoch)
        for key in missing:
            cells = fetched.get(key)
            if cells is not None:
                out[key] = cells
        return out

    def get(self, row: bytes) -> Cells | None:
        """The cells of ``row``, or None when HBase has no such row (as :meth:`get_many`)."""
        return self.get_many([row]).get(row)

    def put_many(self, rows: Mapping[bytes, Mapping[bytes, bytes]], *, wal: bool = True) -> None:
        """Write the cells of ``rows`` in one Thrift call (``mutateRows``); rows without cells are skipped.
        Write-through: rows in the cache get these cells (those within ``columns``) merged in."""
        puts = {row: dict(cells) for row, cells in rows.items() if cells}
        if not puts:
            return

        def send(connection: Any) -> None:
            batch = connection.table(self._table).batch(wal=wal)
            for row, cells in puts.items():
                batch.put(row, cells)
            batch.send()

        self._call("put_many", len(puts), send)
        self._cache.merge({row: self._selected(cells) for row, cells in puts.items()})

    def invalidate(self, rows: Iterable[bytes] | None = None) -> None:
        """Drop the cache entries of ``rows``, or all of them."""
        self._cache.invalidate(None if rows is None else list(rows))

    def check(self) -> None:
        """Raise :class:`HBaseLookupError` (saying which) unless the table exists, is enabled, and has every
        family ``columns`` names; :class:`HBaseUnavailable` when the Thrift server does not answer."""
        wanted = sorted({_family(c) for c in self.columns or ()})
        where = f"table {self.name!r} at Thrift server {self._lookup.address}"

        def inspect(connection: Any) -> str | None:
            client = connection.client
            self._count(calls=1)
            if self._table not in client.getTableNames():
                return f"{where} does not exist"
            self._count(calls=1)
            families = {_family(f) for f in client.getColumnDescriptors(self._table)}
            absent = [f.decode(errors="replace") for f in wanted if f not in families]
            if absent:
                have = ", ".join(sorted(f.decode(errors="replace") for f in families))
                return f"{where} has no column family {', '.join(absent)} (it has: {have})"
            self._count(calls=1)
            if not client.isTableEnabled(self._table):
                return f"{where} is disabled"
            return None

        problem = self._call("check", 0, inspect, counted=False)
        if problem is not None:
            self._count(errors=1)
            raise HBaseLookupError(f"HBase lookup check failed: {problem}", address=self._lookup.address,
                                   table=self.name, operation="check")

    # -- plumbing -------------------------------------------------------------------------------------

    def _selected(self, cells: Mapping[bytes, bytes]) -> Cells:
        """The cells a lookup of this table returns (those within ``columns``)."""
        if self.columns is None:
            return dict(cells)
        return {c: v for c, v in cells.items() if c in self._exact or _family(c) in self._families}

    def _call(self, operation: str, rows: int, call: Callable[[Any], T], *, counted: bool = True) -> T:
        """``call(connection)`` on a pooled connection, its failures translated (see :mod:`flafka.hbase`)."""
        address = self._lookup.address
        where = f"HBase lookup {operation} of {rows} row(s) in table {self.name!r} through Thrift server {address}"
        closed = f"{where}: the lookup is closed"
        if self._lookup.closed:
            self._count(errors=1)
            raise HBaseLookupError(closed, address=address, table=self.name, operation=operation, rows=rows)
        try:
            with self._lookup.pool.connection() as connection:
                if counted:
                    self._count(calls=1)
                return call(connection)
        except PoolExhausted:
            self._count(errors=1)
            pool = self._lookup.pool
            raise HBaseUnavailable(f"{where} found no free connection in {pool.timeout_ms} ms (all {pool.size} "
                                   f"busy; retried later)", address=address, table=self.name, operation=operation,
                                   rows=rows) from None
        except PoolClosed:
            self._count(errors=1)
            raise HBaseLookupError(closed, address=address, table=self.name, operation=operation,
                                   rows=rows) from None
        except CALL_ERRORS as exc:
            self._count(errors=1)
            raise translate(exc, address=address, table=self.name, operation=operation, rows=rows) from exc
        except Exception:  # a flafka error raised by a stand-in, or a bug: counted, not translated
            self._count(errors=1)
            raise

    def __repr__(self) -> str:
        return f"LookupTable({self.name!r}, columns={self.columns!r}, lookup={self._lookup!r})"


# -- one pool per agent ---------------------------------------------------------------------------------

_shared: dict[tuple[str, str, str], _Backend] = {}
_shared_lock = threading.Lock()
_warned: set[tuple[str, str, str]] = set()


def shared_lookup(address: str, *, pool_size: int = 4, timeout_ms: int = 5000, transport: str = "buffered",
                  protocol: str = "binary", connection_factory: ConnectionFactory | None = None) -> HBaseLookup:
    """A handle on the process's pool for ``(address, transport, protocol)``, made on first use.

    Reference counted: close every handle this returns (once each); the pool closes with the last one. A
    later call asking for another ``pool_size`` or ``timeout_ms`` gets the first call's pool (a warning,
    once per address)."""
    key = (address.strip(), transport, protocol)
    with _shared_lock:
        backend = _shared.get(key)
        if backend is None or backend.pool.closed:
            backend = _Backend(address, pool_size=pool_size, timeout_ms=timeout_ms, transport=transport,
                               protocol=protocol, connection_factory=connection_factory)
            _shared[key] = backend
            log.info("HBase lookup opened a shared connection pool. address=%s poolSize=%d timeout=%d "
                     "transport=%s protocol=%s", key[0], pool_size, timeout_ms, transport, protocol)
        elif (backend.pool.size, backend.pool.timeout_ms) != (pool_size, timeout_ms) and key not in _warned:
            _warned.add(key)
            log.warning("HBase lookup of %s is shared with settings asked for first; these differ and are not "
                        "used. poolSize=%d (asked %d) timeout=%d (asked %d)", key[0], backend.pool.size,
                        pool_size, backend.pool.timeout_ms, timeout_ms)
        backend.refs += 1
        return HBaseLookup._on(backend, time.monotonic)


def _release(backend: _Backend) -> None:
    with _shared_lock:
        backend.refs -= 1
        if backend.refs > 0:
            return
        if _shared.get(backend.key) is backend:
            del _shared[backend.key]
            log.info("HBase lookup closed a shared connection pool. address=%s", backend.address)
    backend.pool.close()
