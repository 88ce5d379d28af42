"""What the HBase integration tests share: a connection, a fresh table, a closed port, a TCP relay."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping

import happybase


def connect(thrift: str) -> happybase.Connection:
    """A happybase connection to ``host:port`` of a Thrift1 server (30 s per call)."""
    host, port = thrift.rsplit(":", 1)
    return happybase.Connection(host, int(port), timeout=30_000)


@contextlib.contextmanager
def fresh_table(connection: happybase.Connection, prefix: str, families: Mapping[str, object]) -> Iterator[str]:
    """A table with ``families`` under a unique name (the server may outlive the session), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    connection.create_table(name, {family: {"max_versions": 1} for family in families})
    try:
        yield name
    finally:
        connection.delete_table(name, disable=True)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed now: connecting is refused


class Relay:
    """A TCP relay to ``target`` on a port of its own. ``cut()`` closes every connection and refuses new ones
    until ``resume()``; ``drop_replies`` forwards requests but never the answers (a reply lost in the network)."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self._target = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self.drop_replies = False
        self._refusing = False
        self._closed = False
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._refusing:
                client.close()
                continue
            server = socket.create_connection(self._target)
            with self._lock:
                self._pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        try:
            while True:
                readable, _, _ = select.select([client, server], [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        server.sendall(data)
                    elif not self.drop_replies:
                        client.sendall(data)
        except OSError:
            return
        finally:
            client.close()
            server.close()

    def cut(self) -> None:
        self._refusing = True
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, server in pairs:
            for sock in (client, server):
                with contextlib.suppress(OSError):  # already closed by its peer
                    sock.shutdown(socket.SHUT_RDWR)

    def resume(self) -> None:
        self._refusing = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()
