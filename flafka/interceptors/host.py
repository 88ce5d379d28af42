"""Flume's ``host`` interceptor: puts this machine's IP address or host name in a header.

Same keys and defaults as Flume 1.11 ``HostInterceptor``; the address is resolved once, when the
interceptor is built. Differences: the IP is ``socket.gethostbyname(socket.gethostname())`` (Java's
``InetAddress.getLocalHost()``) and falls back to ``127.0.0.1`` when the host name does not resolve
(Flume then sets no header at all); the name is ``socket.getfqdn()`` (Java's canonical host name).
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

from flafka.config.params import ComponentConfig, param
from flafka.event import Event
from flafka.interceptors.base import Interceptor

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class HostConfig(ComponentConfig):
    host_header: str = param("hostHeader", default="host", doc="Name of the header to set.")
    use_ip: bool = param(
        "useIP", default=True, doc="Use the IP address (true) or the canonical host name (false)."
    )
    preserve_existing: bool = param(
        "preserveExisting", default=False, doc="Keep the header's value when the event already has it."
    )


def local_address(use_ip: bool) -> str:
    """This host's IP address (``127.0.0.1`` if the host name does not resolve) or canonical name."""
    if not use_ip:
        return socket.getfqdn()
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError as exc:
        log.warning("Host interceptor could not resolve this host's address, using 127.0.0.1. error=%s", exc)
        return "127.0.0.1"


class HostInterceptor(Interceptor):
    """Sets ``hostHeader`` to this host's IP address or canonical name (resolved once)."""

    config_class = HostConfig
    config: HostConfig

    def __init__(self, name: str, config: HostConfig) -> None:
        super().__init__(name, config)
        self._header = config.host_header
        self._keep = config.preserve_existing
        self.host = local_address(config.use_ip)

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        header, host = self._header, self.host
        if self._keep:
            for event in events:
                event.headers.setdefault(header, host)
        else:
            for event in events:
                event.headers[header] = host
        return events
