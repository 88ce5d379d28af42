"""What every source, channel, sink, interceptor, selector and sink processor has in common."""

from __future__ import annotations

from typing import Any, ClassVar

from flafka.config.params import ComponentConfig, RawConfig


class Component:
    """A named, configured part of an agent.

    ``config_class`` declares the component's parameters (see :mod:`flafka.config.params`); the
    agent parses the component's properties with it and passes the result to ``__init__``.
    Components that need no declaration receive a :class:`RawConfig` with every key as text.
    """

    config_class: ClassVar[type[ComponentConfig]] = RawConfig

    def __init__(self, name: str, config: Any) -> None:
        self.name = name
        self.config = config

    def start(self) -> None:
        """Acquire resources (sockets, files, threads). Called once before use."""

    def stop(self) -> None:
        """Release what ``start`` acquired. Must be safe to call after a failed start."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
