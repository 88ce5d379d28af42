"""The servers devstack knows, in start order (each after the servers it requires).

A new server is one module here with a `Server` subclass, added to `SERVERS`; a name standing for several
servers (`hdfs`) goes in `GROUPS`; a server `up` without names should not start goes in `ON_DEMAND`.
"""

from __future__ import annotations

from collections.abc import Iterable

from devstack.errors import DevstackError
from devstack.servers.base import Prepared, Record, Server
from devstack.servers.hbase import HBaseMaster, HBaseThrift
from devstack.servers.hdfs import DataNode, NameNode
from devstack.servers.kafka import Kafka
from devstack.servers.zookeeper import ZooKeeper

__all__ = [
    "GROUPS", "ON_DEMAND", "SERVERS", "Prepared", "Record", "Server", "expand", "with_dependents", "with_requirements",
]

SERVERS: dict[str, Server] = {
    server.name: server
    for server in (ZooKeeper(), Kafka(), NameNode(), DataNode(), HBaseMaster(), HBaseThrift())
}

# Names standing for several servers: `up hdfs`, `restart hdfs`, `down hdfs`.
GROUPS: dict[str, tuple[str, ...]] = {"hdfs": ("namenode", "datanode"), "hbase": ("hbase-master", "hbase-thrift")}

# Servers started only when named (`up hbase`), not by `up` (or `fetch`) without names: CI runs a bare `up`
# before the whole test suite, and HBase costs ~20 s, ~550 MB of RSS and 115 MB of jars that only its own
# tests need (their fixture starts it).
ON_DEMAND: frozenset[str] = frozenset(GROUPS["hbase"])


def expand(names: Iterable[str]) -> list[str]:
    """`names` with each group replaced by its servers; unknown names refused."""
    result: list[str] = []
    unknown = []
    for name in names:
        members = GROUPS.get(name, (name,))
        if any(member not in SERVERS for member in members):
            unknown.append(name)
        result += [member for member in members if member not in result]
    if unknown:
        known = ", ".join([*SERVERS, *GROUPS])
        raise DevstackError(f"unknown server(s) {', '.join(unknown)}; devstack knows: {known}")
    return result


def with_requirements(names: Iterable[str]) -> list[str]:
    """`names` plus everything they need, transitively, in start order (no names = every server but `ON_DEMAND`)."""
    wanted = set(expand(names)) or set(SERVERS) - ON_DEMAND
    todo = list(wanted)
    while todo:
        for required in SERVERS[todo.pop()].requires:
            if required not in wanted:
                wanted.add(required)
                todo.append(required)
    return [name for name in SERVERS if name in wanted]


def with_dependents(names: Iterable[str]) -> list[str]:
    """`names` plus every server needing them, transitively, in start order (stop in reverse)."""
    wanted = set(expand(names))
    changed = True
    while changed:
        changed = False
        for name, server in SERVERS.items():
            if name not in wanted and wanted.intersection(server.requires):
                wanted.add(name)
                changed = True
    return [name for name in SERVERS if name in wanted]
