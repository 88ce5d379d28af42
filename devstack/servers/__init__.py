"""The servers devstack knows, in start order (each after the servers it requires).

A new server is one module here with a `Server` subclass, added to `SERVERS`.
"""

from __future__ import annotations

from collections.abc import Iterable

from devstack.errors import DevstackError
from devstack.servers.base import Prepared, Record, Server
from devstack.servers.kafka import Kafka
from devstack.servers.zookeeper import ZooKeeper

__all__ = ["SERVERS", "Prepared", "Record", "Server", "with_dependents", "with_requirements"]

SERVERS: dict[str, Server] = {server.name: server for server in (ZooKeeper(), Kafka())}


def check_names(names: Iterable[str]) -> None:
    unknown = [name for name in names if name not in SERVERS]
    if unknown:
        raise DevstackError(f"unknown server(s) {', '.join(unknown)}; devstack knows: {', '.join(SERVERS)}")


def with_requirements(names: Iterable[str]) -> list[str]:
    """`names` plus everything they need, transitively, in start order (no names = every server)."""
    wanted = set(names) or set(SERVERS)
    check_names(wanted)
    todo = list(wanted)
    while todo:
        for required in SERVERS[todo.pop()].requires:
            if required not in wanted:
                wanted.add(required)
                todo.append(required)
    return [name for name in SERVERS if name in wanted]


def with_dependents(names: Iterable[str]) -> list[str]:
    """`names` plus every server needing them, transitively, in start order (stop in reverse)."""
    wanted = set(names)
    check_names(wanted)
    changed = True
    while changed:
        changed = False
        for name, server in SERVERS.items():
            if name not in wanted and wanted.intersection(server.requires):
                wanted.add(name)
                changed = True
    return [name for name in SERVERS if name in wanted]
