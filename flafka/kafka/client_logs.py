"""librdkafka's log lines and client-wide errors through Python logging, once per kind.

Left alone, librdkafka prints its own lines on stderr: a broker that is down made ~19 lines a second,
outside the agent's log format and levels. Every flafka client is built with :func:`client_log_settings`,
which routes both channels librdkafka has:

* ``logger``: its log lines (connection refused, broker down …), which confluent-kafka hands to
  ``logger.log(level, "%s [%s] %s", facility, client, message)`` from the calls that serve the client's
  queue (``poll``, ``consume``, ``flush``);
* ``error_cb``: client-wide errors (all brokers down, authentication failed), which the client retries
  by itself; a component's own calls report what it cannot recover from.

A repeat of the same kind (facility and level, or error code) within a minute is counted, not printed.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError

from flafka.logging_once import OncePerKind

log = logging.getLogger("flafka.kafka.librdkafka")


class _OncePerKindLogger:
    """What confluent-kafka's ``logger`` setting needs (a ``log`` method), repeats folded per kind."""

    def __init__(self, component: str, once: OncePerKind) -> None:
        self._component = component
        self._once = once

    def log(self, level: int, fmt: str, *args: Any) -> None:
        facility = str(args[0]) if args else ""
        message = fmt % args if args else fmt
        # librdkafka logs a refused connection as an error although the client reconnects by itself; what a
        # component cannot recover from, it reports itself. Capped at WARNING, one line per kind.
        self._once.log(min(level, logging.WARNING), f"log:{level}:{facility}",
                       f"Kafka client of {self._component}: {message}")


def client_log_settings(component: str) -> dict[str, Any]:
    """librdkafka settings sending a client's logs and errors to Python logging, named after ``component``."""
    once = OncePerKind(log)

    def on_error(error: KafkaError) -> None:
        level = logging.ERROR if error.fatal() else logging.WARNING
        once.log(level, f"error:{error.code()}", f"Kafka client of {component}: {error.str()} "
                                                 f"(code={error.name()}; the client retries by itself)")

    return {"logger": _OncePerKindLogger(component, once), "error_cb": on_error}
