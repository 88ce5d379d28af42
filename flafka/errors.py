"""Exceptions raised by flafka.

Every exception flafka raises on purpose derives from :class:`FlafkaError`::

    FlafkaError
    ├── ConfigError            a configuration problem found at start-up or reload (carries diagnostics)
    ├── ComponentNotFound      a type name that resolves to no component
    ├── ChannelError           a channel operation failed; the transaction must be rolled back
    │   ├── ChannelFullError   capacity (events, bytes or disk space) exhausted; retriable
    │   └── TransactionError   a transaction was misused (wrong thread, wrong state, over capacity)
    │   └── EventsRefused      the channel can never hold some events of a put (too large); not retriable
    ├── DeliveryError          a sink could not deliver a batch; ``retriable`` says whether retrying helps
    ├── InterceptorError       an interceptor raised while processing a batch (original exception chained)
    ├── ReloadFailed           a valid configuration could not be applied; ``restored`` says whether the old one runs
    └── TransientError         a dependency is unavailable (raised by custom code); the batch is retried

Third-party exceptions are translated at the boundary (``raise ... from exc``): code above a client
library sees these classes only. ``retriable`` is an attribute so retry code reads it instead of
walking ``isinstance`` chains.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flafka.config.diagnostics import Diagnostic


class FlafkaError(Exception):
    """Root of flafka's exceptions."""

    retriable: bool = False


class ConfigError(FlafkaError):
    """The configuration cannot be used; ``diagnostics`` lists every problem found."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics) or "invalid configuration")


class ComponentNotFound(FlafkaError):
    """A ``type`` (or class path) that names no component; ``message`` says what was tried."""

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        self.message = message
        self.suggestion = suggestion
        super().__init__(message + (f" Did you mean '{suggestion}'?" if suggestion else ""))


class ChannelError(FlafkaError):
    """A channel operation failed; the enclosing transaction is rolled back."""

    retriable = True


class ChannelFullError(ChannelError):
    """The channel has no room (events, bytes or disk space) within its keep-alive."""


class EventsRefused(ChannelError):
    """Events of a put that the channel can never hold, whatever its fill (an event above its byte capacity).

    Raised by ``put_batch`` (nothing of that put was buffered) or by ``commit`` (nothing of the transaction was
    written; it is rolled back). ``refused`` maps the index of each such event among the transaction's puts to
    the reason; the other events may be put again without them (the channel processor, which puts one batch
    per transaction, does so and sets the refused ones aside as bad events).
    """

    retriable = False

    def __init__(self, channel: str, refused: dict[int, str]) -> None:
        self.channel = channel
        self.refused = refused
        first = next(iter(refused.values()))
        super().__init__(f"channel {channel} can never hold {len(refused)} event(s) of the batch: {first}")


class TransactionError(ChannelError):
    """A transaction was used wrongly: from another thread, after commit, or beyond its capacity."""

    retriable = False


class DeliveryError(FlafkaError):
    """A sink failed to deliver a batch to its destination."""

    def __init__(self, message: str, *, retriable: bool = True) -> None:
        super().__init__(message)
        self.retriable = retriable


class InterceptorError(FlafkaError):
    """An interceptor raised; the batch is not delivered and the source retries it."""

    retriable = True

    def __init__(self, interceptor: str, cause: BaseException) -> None:
        self.interceptor = interceptor
        super().__init__(f"interceptor {interceptor} failed: {type(cause).__name__}: {cause}")


class ReloadFailed(FlafkaError):
    """A reload could not be applied. ``restored``: the previous pipeline runs (again); False: it does not,
    and the agent cannot go on (the CLI stops it and exits 1)."""

    def __init__(self, message: str, *, restored: bool) -> None:
        super().__init__(message)
        self.restored = restored


class TransientError(FlafkaError):
    """Raised by custom code (an interceptor's lookup service is down): retrying later may succeed.

    An interceptor that raises this (or :class:`ConnectionError`, :class:`TimeoutError`, or any exception
    with a true ``retriable`` attribute) makes its source retry the whole batch with back-off; any other
    exception marks the events it fails on as bad events (see :mod:`flafka.dead_letters`).
    """

    retriable = True
