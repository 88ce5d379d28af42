"""Asking a server whether it answers, over raw TCP or HTTP (no client library: devstack is standard library only)."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import urllib.request
from dataclasses import dataclass
from typing import Any

_TIMEOUT = 2.0
# Loopback servers are never reached through a proxy, whatever $http_proxy says.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_json(url: str, timeout: float = _TIMEOUT) -> Any:
    """GET `url` and decode its JSON body; any failure (refused, HTTP error, not JSON) raises an OSError."""
    try:
        with _DIRECT.open(url, timeout=timeout) as reply:  # refused, timeouts, HTTP errors: OSErrors already
            return json.loads(reply.read())
    except (http.client.HTTPException, ValueError) as exc:
        # A reply cut short or not JSON: callers treat every failure as "not answering yet".
        raise ConnectionError(f"{url} gave no JSON reply: {exc!r}") from exc


def accepts(host: str, port: int, timeout: float = _TIMEOUT) -> bool:
    """Whether something listens on host:port (a TCP connect succeeds)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def four_letter_word(host: str, port: int, word: str, timeout: float = _TIMEOUT) -> str:
    """Send a ZooKeeper four-letter command (it must be in `4lw.commands.whitelist`) and return the reply.

    ZooKeeper answers and closes the connection, so the reply is everything read until EOF.
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(word.encode("ascii"))
        chunks: list[bytes] = []
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


@dataclass(frozen=True)
class KafkaMetadata:
    brokers: list[tuple[int, str, int]]  # (node id, host, port)
    controller_id: int


_METADATA_API_KEY = 3
_METADATA_VERSION = 1  # v1: has the controller id; still served by Kafka 3.9 (removed only in 4.0)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        buf += chunk
    return bytes(buf)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def int16(self) -> int:
        (value,) = struct.unpack_from(">h", self.data, self.pos)
        self.pos += 2
        return int(value)

    def int32(self) -> int:
        (value,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return int(value)

    def string(self) -> str | None:
        size = self.int16()
        if size < 0:
            return None
        value = self.data[self.pos : self.pos + size].decode()
        self.pos += size
        return value


def kafka_metadata(host: str, port: int, timeout: float = _TIMEOUT) -> KafkaMetadata:
    """One Metadata request (v1, no topics) to a broker; any failure raises an OSError.

    A Kafka broker in ZooKeeper mode binds its port early but serves requests only at the end of its
    start-up, and knows the live brokers (itself included) only once the controller has sent it the
    cluster metadata. So "answers with itself in the broker list and a controller" means clients work.
    """
    client_id = b"flafka-devstack"
    correlation_id = 1
    header = struct.pack(">hhih", _METADATA_API_KEY, _METADATA_VERSION, correlation_id, len(client_id)) + client_id
    body = struct.pack(">i", 0)  # v1: an empty topic array asks for no topic (-1 would mean all topics)
    request = header + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        reader = _Reader(_recv_exact(sock, size))
    try:
        if reader.int32() != correlation_id:
            raise ConnectionError("unexpected correlation id in the broker's reply")
        brokers = []
        for _ in range(reader.int32()):
            node_id = reader.int32()
            broker_host = reader.string() or ""
            broker_port = reader.int32()
            reader.string()  # rack
            brokers.append((node_id, broker_host, broker_port))
        return KafkaMetadata(brokers=brokers, controller_id=reader.int32())
    except (struct.error, UnicodeDecodeError) as exc:
        # Callers treat every failure as "not answering yet": keep to the one OSError family.
        raise ConnectionError(f"garbled Metadata reply: {exc}") from exc
