"""The unit of data that moves through an agent."""

from __future__ import annotations


class Event:
    """Headers and a body, as in Flume's ``SimpleEvent``.

    Headers are a plain, mutable ``dict[str, str]`` (interceptors edit them in place); the body is
    ``bytes`` and never ``None``. ``__slots__`` keeps an event small: millions of them sit in memory
    channels.
    """

    __slots__ = ("body", "headers")

    def __init__(self, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.body = body
        self.headers = {} if headers is None else headers

    def __repr__(self) -> str:
        return f"Event(body={self.body[:64]!r}, headers={self.headers!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return self.body == other.body and self.headers == other.headers

    __hash__ = None  # type: ignore[assignment]  # mutable: events are not hashable

    def copy(self) -> Event:
        """A new event with a copy of the headers (the body is immutable and shared)."""
        return Event(self.body, dict(self.headers))
