"""The HBase sinks' properties: every key of Flume 1.11's ``HBaseSink``, ``HBase2Sink`` and ``AsyncHBaseSink``
(reference §3.7), Flume's names and defaults, plus flafka's ``thriftAddress``.

flafka speaks to HBase through its Thrift1 server (``hbase thrift start``), not HBase's own RPC: Python has
no maintained client for that protocol. So ``zookeeperQuorum`` and ``znodeParent``, which a Java client uses
to find the region servers, are accepted and unused; ``thriftAddress`` names the Thrift server instead. The
kerberos keys are accepted too, with a warning: whoever may write is decided by the Thrift server's own
authentication (its ``hbase.thrift.security.qop`` and its principal), which flafka does not configure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from flafka.config.params import ComponentConfig, Nested, nested, param, prefixed
from flafka.sinks.hbase.serializer import HBaseEventSerializer

__all__ = ["DEFAULT_THRIFT_ADDRESS", "HBaseSinkConfig", "parse_address"]

DEFAULT_THRIFT_ADDRESS = "localhost:9090"  # the Thrift server's default port (hbase.regionserver.thrift.port)


def parse_address(text: str) -> tuple[str, int]:
    """``host:port`` as ``(host, port)``; ``[v6]:port`` for an IPv6 host."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"must be host:port, got {text!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)


def _address(text: str) -> str:
    parse_address(text)
    return text.strip()


@dataclass(frozen=True, kw_only=True)
class HBaseSinkConfig(ComponentConfig):
    table: str = param("table", doc="Table the events are written to (`namespace:table` works); it must exist, "
                                    "with `columnFamily`: the sink does not start until both do (as Flume).")
    column_family: str = param("columnFamily", doc="Column family every put and increment goes to.")
    thrift_address: str | None = param(
        "thriftAddress", default=None, parse=_address,
        doc=f"flafka extension: `host:port` of HBase's Thrift1 server (`hbase thrift start`), which flafka writes "
            f"through instead of HBase's RPC; unset: `{DEFAULT_THRIFT_ADDRESS}`.")
    thrift_transport: str = param("thriftTransport", default="buffered", choices=("buffered", "framed"),
                                  doc="flafka extension: the Thrift server's transport (`framed` for a server "
                                      "started with `-f`).")
    thrift_protocol: str = param("thriftProtocol", default="binary", choices=("binary", "compact"),
                                 doc="flafka extension: the Thrift server's protocol (`compact` for `-c`).")
    zookeeper_quorum: str | None = param(
        "zookeeperQuorum", default=None,
        doc="Accepted for compatibility, unused: flafka reaches HBase through `thriftAddress`, and the Thrift "
            "server finds the cluster through its own hbase-site.xml.")
    znode_parent: str = param("znodeParent", default="/hbase", doc="Accepted for compatibility, unused (as "
                                                                   "zookeeperQuorum).")
    batch_size: int = param("batchSize", default=100, minimum=1,
                            doc="Most events taken in one channel transaction; their puts are sent in one "
                                "Thrift call, their increments in another.")
    coalesce_increments: bool = param("coalesceIncrements", default=False,
                                      doc="Merge the increments of a batch to the same cell into one (their "
                                          "amounts added), as Flume.")
    enable_wal: bool = param("enableWal", default=True,
                             doc="Write the puts to HBase's write-ahead log; false: faster, lost if a region "
                                 "server dies before flushing (increments always use the WAL over Thrift).")
    timeout_ms: int = param("timeout", default=60000, minimum=1,
                            doc="Milliseconds a Thrift call may take (connecting, or sending a batch) before the "
                                "batch fails and is rolled back (Flume's asynchbase key, used by every type).")
    serializer: Nested[HBaseEventSerializer] = nested(
        "serializer", kind="hbase_serializer", default="org.apache.flume.sink.hbase.SimpleHbaseEventSerializer",
        doc="simple (Flume's SimpleHbaseEventSerializer, SimpleHBase2EventSerializer and "
            "SimpleAsyncHbaseEventSerializer, the defaults of hbase, hbase2 and asynchbase: one class, the same "
            "cells), regex, or a Python import path of an HBaseEventSerializer subclass.",
        options_doc="Options passed to the serializer (prefix removed).")
    kerberos_principal: str | None = param(
        "kerberosPrincipal", default=None,
        doc="Accepted with a warning, not tested here: the Thrift server's authentication applies, not this.")
    kerberos_keytab: str | None = param("kerberosKeytab", default=None, doc="As kerberosPrincipal.")
    async_options: dict[str, str] = prefixed("async.", doc="asynchbase client settings: accepted, no effect "
                                                            "(a warning).")

    batch_size_key: ClassVar[str] = "batchSize"

    def thrift_host_port(self) -> tuple[str, int]:
        return parse_address(self.thrift_address or DEFAULT_THRIFT_ADDRESS)

    def check(self) -> Iterable[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = []
        if not self.table.strip():
            problems.append(("table", "must not be empty"))
        if not self.column_family.strip():
            problems.append(("columnFamily", "must not be empty"))
        elif ":" in self.column_family:
            problems.append(("columnFamily", f"must not contain ':' (a family name, not a column), got "
                                             f"{self.column_family!r}"))
        return problems

    def check_warnings(self) -> Iterable[tuple[str | None, str]]:
        warnings: list[tuple[str | None, str]] = []
        if self.zookeeper_quorum is not None and self.thrift_address is None:
            warnings.append(("zookeeperQuorum", f"is not used: flafka writes through HBase's Thrift server; set "
                                                f"thriftAddress (now {DEFAULT_THRIFT_ADDRESS})"))
        if self.kerberos_principal is not None or self.kerberos_keytab is not None:
            key = "kerberosPrincipal" if self.kerberos_principal is not None else "kerberosKeytab"
            warnings.append((key, "not tested here, and not used: the Thrift server's authentication applies"))
        if self.async_options:
            warnings.append(("async.", f"has no effect (asynchbase client settings): "
                                       f"{', '.join(sorted(self.async_options))}"))
        return warnings
